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

/// Whether `value` may sit in a URL field (avatar, cover, logo, website, images): an `https:` URL
/// with a host and no credentials, or the id of one of our files. `javascript:`, `data:`, `http:`
/// and everything else are refused, so no client ever renders an active or insecure link of ours.
pub fn is_safe_url(value: &str) -> bool {
    if uuid::Uuid::parse_str(value).is_ok() {
        return true;
    }
    value.len() <= 2048
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(value).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        })
}

/// Checks an optional URL field (see [`is_safe_url`]); empty becomes `None`.
pub fn url_field(v: &mut Validator, field: &str, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|s| !s.is_empty())?;
    v.check(
        is_safe_url(value),
        field,
        "must be an https:// URL (or the id of an uploaded file)",
    );
    Some(value.to_owned())
}

/// Checks a URL field of a patch (`Some(Some(url))` is being set) as [`url_field`] does.
pub fn check_url_patch(v: &mut Validator, field: &str, value: &Option<Option<String>>) {
    if let Some(Some(url)) = value {
        let url = url.trim();
        v.check(
            url.is_empty() || is_safe_url(url),
            field,
            "must be an https:// URL (or the id of an uploaded file)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::is_safe_url;

    #[test]
    fn only_https_urls_and_file_ids_pass() {
        for ok in [
            "https://cdn.example.com/a.png",
            "https://example.com",
            "0191c6a2-6f5e-7b4e-9a59-2c4b8f0d1e23",
        ] {
            assert!(is_safe_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:image/png;base64,AAAA",
            "http://example.com/a.png",
            "//example.com/a.png",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "/relative/path.png",
            "ftp://example.com/x",
        ] {
            assert!(!is_safe_url(bad), "{bad}");
        }
    }
}
