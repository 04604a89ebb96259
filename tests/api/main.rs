//! Integration tests: one binary, the real router, a real PostgreSQL under RLS.

mod admin;
mod auth_flows;
mod browser;
mod confidential;
mod demo;
mod deploy;
mod edge;
mod files;
mod fixtures;
mod gdpr;
mod helpers;
mod http;
mod layers;
mod lifecycle;
mod mail_smtp;
mod onboarding;
mod publishing;
mod realtime;
mod reports;
mod rls;
mod role_matrix;
mod s3;
mod scheduling;
mod seed;
mod tenancy;
mod turn;
