//! Publishing: texts written for an audience.

/// The blog: platform-written articles, public reading.
pub mod blog;
/// Crisis lines, public.
pub mod crisis;
/// Company news written by HR.
pub mod news;
