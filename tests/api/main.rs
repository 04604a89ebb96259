//! Integration tests: one binary, the real router, a real PostgreSQL under RLS.

mod fixtures;
mod helpers;
mod http;
mod lifecycle;
mod rls;
