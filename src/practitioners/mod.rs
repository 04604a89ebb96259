//! Practitioners: vocabulary (specialties, formats), profiles, validation and search.

pub mod model;
