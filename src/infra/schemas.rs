//! Hand-made schema pieces for fields whose accepted values are narrower than their Rust type
//! says (used with `#[schema(schema_with = ...)]`).

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A string that must be one of `values`.
pub fn string_enum(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}
