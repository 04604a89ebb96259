//! Where the brief names one action twice (role sections vs. module list), the second path is an
//! alias: the request's path is rewritten to the canonical one before routing, so both reach the
//! same handler with the same checks, and the OpenAPI document lists both. Another method on an
//! alias path is a 405 naming the alias's methods (not whatever the canonical path does with it).

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::infra::error::ApiError;

/// `(method, alias, canonical)`; path parameters are carried over in order.
pub const ALIASES: &[(Method, &str, &str)] = &[
    (
        Method::POST,
        "/api/admin-huntzen/companies",
        "/api/companies",
    ),
    (
        Method::PUT,
        "/api/admin-huntzen/companies/{id}/activate",
        "/api/companies/{id}/validate",
    ),
    (
        Method::GET,
        "/api/admin-huntzen/practitioners/pending",
        "/api/practitioners/pending",
    ),
    (
        Method::POST,
        "/api/admin-huntzen/practitioners/{id}/validate",
        "/api/practitioners/{id}/validate",
    ),
    (
        Method::GET,
        "/api/practitioners/search",
        "/api/practitioners",
    ),
    (Method::GET, "/api/journal/entries", "/api/journal"),
    (
        Method::POST,
        "/api/admin-huntzen/blog/articles",
        "/api/articles",
    ),
    (
        Method::GET,
        "/api/reports/employee-usage/{employeeId}",
        "/api/employees/{id}/usage-stats",
    ),
    (
        Method::GET,
        "/api/reports/practitioner-stats",
        "/api/practitioners/me/usage-stats",
    ),
    (
        Method::GET,
        "/api/practitioners/me/export-billing",
        "/api/reports/practitioner-export-csv",
    ),
    (
        Method::GET,
        "/api/admin-huntzen/kpis",
        "/api/reports/platform-kpis",
    ),
    (Method::POST, "/api/journal/entries", "/api/journal"),
    (
        Method::GET,
        "/api/practitioners/me/availability",
        "/api/availability",
    ),
    (
        Method::POST,
        "/api/practitioners/me/availability",
        "/api/availability",
    ),
    (
        Method::PUT,
        "/api/consultations/{id}/accept",
        "/api/consultations/{id}/confirm",
    ),
    (
        Method::GET,
        "/api/consultations/{id}/room-link",
        "/api/consultations/{id}/room",
    ),
    (
        Method::POST,
        "/api/webhooks/jitsi/events/room/created",
        "/api/webhooks/jitsi/events",
    ),
    (
        Method::POST,
        "/api/webhooks/jitsi/events/room/destroyed",
        "/api/webhooks/jitsi/events",
    ),
    (
        Method::POST,
        "/api/webhooks/jitsi/events/occupant/joined",
        "/api/webhooks/jitsi/events",
    ),
    (
        Method::POST,
        "/api/webhooks/jitsi/events/occupant/left",
        "/api/webhooks/jitsi/events",
    ),
];

/// What a request's path means among the aliases.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// No alias has this path.
    NotAlias,
    /// The canonical path to route the request to.
    Canonical(String),
    /// An alias path, but of these methods only.
    OtherMethods(Vec<&'static Method>),
}

/// Matches `method path` against every alias in one pass (`HEAD` goes where `GET` goes).
fn resolve(method: &Method, path: &str) -> Resolved {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut others = Vec::new();
    for (alias_method, alias, target) in ALIASES {
        let Some(params) = matches(alias, &segments) else {
            continue;
        };
        if alias_method == method {
            return Resolved::Canonical(fill(target, params));
        }
        others.push(alias_method);
    }
    if others.is_empty() {
        Resolved::NotAlias
    } else {
        Resolved::OtherMethods(others)
    }
}

/// The values of `alias`'s parameters in `segments`, if they match it.
fn matches<'a>(alias: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let mut pattern = alias.split('/');
    let mut params = Vec::new();
    for segment in segments {
        let part = pattern.next()?;
        if part.starts_with('{') && part.ends_with('}') {
            if segment.is_empty() {
                return None;
            }
            params.push(*segment);
        } else if part != *segment {
            return None;
        }
    }
    pattern.next().is_none().then_some(params)
}

/// `target` with its `{…}` segments replaced by `params`, in order.
fn fill(target: &str, params: Vec<&str>) -> String {
    let mut values = params.into_iter();
    target
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                values.next().unwrap_or(part)
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical path for `method path`, if it is an alias.
pub fn canonical(method: &Method, path: &str) -> Option<String> {
    match resolve(method, path) {
        Resolved::Canonical(path) => Some(path),
        _ => None,
    }
}

/// Points `request` at `path`, keeping its query string.
fn set_path<B>(request: &mut Request<B>, path: String) {
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
}

/// Middleware: rewrites an aliased request, or answers 405 for another method on an alias path.
pub async fn route(mut request: Request<Body>, next: Next) -> Response {
    match resolve(request.method(), request.uri().path()) {
        Resolved::Canonical(path) => set_path(&mut request, path),
        Resolved::OtherMethods(methods) => return method_not_allowed(&methods),
        Resolved::NotAlias => {}
    }
    next.run(request).await
}

fn method_not_allowed(methods: &[&Method]) -> Response {
    let allow = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "route.method_not_allowed",
        "Method not allowed on this route.",
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Adds each alias to the OpenAPI document, copying its canonical operation.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::HttpMethod;
    for (method, alias, target) in ALIASES {
        let Some(item) = openapi.paths.paths.get(*target) else {
            continue;
        };
        let operation = match *method {
            Method::GET => item.get.clone(),
            Method::POST => item.post.clone(),
            Method::PUT => item.put.clone(),
            Method::DELETE => item.delete.clone(),
            _ => None,
        };
        let Some(mut operation) = operation else {
            continue;
        };
        operation.operation_id = operation
            .operation_id
            .map(|id| alias_operation_id(&id, method, alias, target));
        rename_path_parameters(&mut operation, alias);
        operation.description = Some(format!("Alias of `{method} {target}`."));
        let http = match *method {
            Method::GET => HttpMethod::Get,
            Method::POST => HttpMethod::Post,
            Method::PUT => HttpMethod::Put,
            _ => HttpMethod::Delete,
        };
        let entry = openapi.paths.paths.entry((*alias).to_owned()).or_default();
        match http {
            HttpMethod::Get => entry.get = Some(operation),
            HttpMethod::Post => entry.post = Some(operation),
            HttpMethod::Put => entry.put = Some(operation),
            _ => entry.delete = Some(operation),
        }
    }
}

/// `<target's id>_alias`, or, when the target has several aliases, `<target's id>_alias_<the
/// alias's last two literal path segments>`, so that every operationId stays unique.
fn alias_operation_id(id: &str, method: &Method, alias: &str, target: &str) -> String {
    let siblings = ALIASES
        .iter()
        .filter(|(m, _, t)| m == method && *t == target)
        .count();
    if siblings < 2 {
        return format!("{id}_alias");
    }
    let literal: Vec<String> = alias
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(|s| s.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
        .collect();
    let tail = literal[literal.len().saturating_sub(2)..].join("_");
    format!("{id}_alias_{tail}")
}

/// The alias's own names for the path parameters it carries over, in order
/// (`/reports/employee-usage/{employeeId}` documents `employeeId`, not the canonical `id`).
fn rename_path_parameters(operation: &mut utoipa::openapi::path::Operation, alias: &str) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    let mut names = alias
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'));
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.parameter_in == ParameterIn::Path
            && let Some(name) = names.next()
        {
            parameter.name = name.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_carry_parameters_over() {
        let id = "0a4c8f4e-5b8e-4f55-9d5c-1f0f0e6f3a11";
        assert_eq!(
            canonical(
                &Method::PUT,
                &format!("/api/admin-huntzen/companies/{id}/activate")
            )
            .as_deref(),
            Some(format!("/api/companies/{id}/validate").as_str())
        );
        assert_eq!(
            canonical(&Method::GET, "/api/practitioners/search").as_deref(),
            Some("/api/practitioners")
        );
        assert_eq!(canonical(&Method::POST, "/api/practitioners/search"), None);
        assert_eq!(canonical(&Method::GET, "/api/companies"), None);
        assert_eq!(
            resolve(&Method::PUT, "/api/practitioners/me/availability"),
            Resolved::OtherMethods(vec![&Method::GET, &Method::POST])
        );
        assert_eq!(
            resolve(&Method::PUT, "/api/practitioners/me"),
            Resolved::NotAlias
        );
    }
}
