//! Rules for the text fields of every feature: trimmed, bounded, empty optional values as `None`.

use crate::infra::error::{Validator, looks_like_email};

/// Trims and checks a required text field.
pub fn required(v: &mut Validator, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    v.check(!value.is_empty(), field, "is required");
    v.check(
        value.chars().count() <= max,
        field,
        format!("must have at most {max} characters"),
    );
    value.to_owned()
}

/// Trims an optional text field; empty becomes `None`.
pub fn optional(v: &mut Validator, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let value = value.map(str::trim).filter(|s| !s.is_empty())?;
    v.check(
        value.chars().count() <= max,
        field,
        format!("must have at most {max} characters"),
    );
    Some(value.to_owned())
}

/// Checks a locale (`fr` or `en`, default `fr`).
pub fn locale(v: &mut Validator, value: Option<&str>) -> String {
    let locale = value.unwrap_or("fr");
    v.check(
        matches!(locale, "fr" | "en"),
        "locale",
        "must be `fr` or `en`",
    );
    locale.to_owned()
}

/// Trims and lowercases an email address and checks that it looks like one.
pub fn email(v: &mut Validator, field: &str, value: &str) -> String {
    let email = value.trim().to_lowercase();
    v.check(
        looks_like_email(&email),
        field,
        "must be a valid email address",
    );
    email
}
