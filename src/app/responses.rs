//! The error answers of every operation, added to the OpenAPI document by the same rules the
//! extractors and the auth layer follow, so that the document lists what clients really receive:
//! every 4xx/5xx as `application/problem+json`; 401 and 403 on authenticated routes (401 alone
//! where a token is optional); 400, 413, 415 and 422 where a body is read; 422 where parameters
//! are parsed; 429 under `/api/auth/`; 401 on webhooks.

use utoipa::openapi::path::Operation;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Object, OpenApi, Ref, RefOr, Response, ResponseBuilder, Type,
};

const PROBLEM: &str = "application/problem+json";

/// Completes every operation of `openapi`.
pub fn document(openapi: &mut OpenApi) {
    for (path, item) in &mut openapi.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            complete(path, operation);
        }
    }
}

fn complete(path: &str, operation: &mut Operation) {
    let security = operation.security.as_deref().unwrap_or_default();
    // `security((), ("bearer" = []))`: a token is optional, but one that is sent must be valid.
    let token_optional = security.iter().any(|requirement| {
        serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
    });
    let secured = !security.is_empty();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, response: Response| {
        responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(response));
    };
    if has_body {
        add(
            "400",
            problem("Malformed body (`request.malformed_json`, `request.malformed_multipart`)."),
        );
        add("413", problem("Body too large (`request.too_large`)."));
        add(
            "415",
            problem("Wrong `Content-Type` (`request.unsupported_media_type`)."),
        );
    }
    if has_body || has_parameters {
        add(
            "422",
            problem("Invalid input (`validation.failed`); `errors` names each field or parameter."),
        );
    }
    if secured {
        add(
            "401",
            problem("No valid access token, or the session has ended (`auth.*`)."),
        );
    }
    if secured && !token_optional {
        add(
            "403",
            problem("The caller's role may not use this route (`auth.forbidden`)."),
        );
    }
    if path.starts_with("/api/webhooks/") {
        add("401", problem("Missing or wrong webhook signature."));
    }
    if path.starts_with("/api/auth/") {
        add("429", rate_limited());
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if (status.starts_with('4') || status.starts_with('5'))
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert(PROBLEM.to_owned(), content);
        }
    }
}

fn problem(description: &str) -> Response {
    problem_builder(description).build()
}

fn problem_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        PROBLEM,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

fn rate_limited() -> Response {
    problem_builder("Too many attempts (`rate_limited`).")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::Integer)))
                .description(Some("Seconds to wait before trying again."))
                .build(),
        )
        .build()
}
