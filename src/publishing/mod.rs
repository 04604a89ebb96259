//! Publishing: texts written for an audience.

/// The blog: platform-written articles, public reading.
pub mod blog;
/// Company news written by HR.
pub mod news;
