-- The request role may enqueue jobs (in the same transaction as the change that causes them) but
-- never read, alter or delete the queue. Job payloads carry ids only, never a secret: mail jobs
-- create their one-time token when they run.
GRANT USAGE ON SCHEMA apalis TO huntzen_app;
GRANT INSERT ON apalis.jobs TO huntzen_app;
