//! The role matrix (`role_matrix.txt`) against the router's real route list: every route is in the
//! table, every role allowed passes authorisation, every other role gets 403, and no route but the
//! public ones answers without a token.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};

const MATRIX: &str = include_str!("role_matrix.txt");

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    path: String,
}

impl Route {
    /// The path with each `{…}` segment replaced by `value()`.
    fn with_params(&self, mut value: impl FnMut() -> String) -> String {
        self.path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    value()
                } else {
                    s.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

fn matrix() -> Vec<(Route, Option<Vec<Role>>)> {
    MATRIX
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.split_whitespace();
            let (method, path, roles) = (
                parts.next().expect("method"),
                parts.next().expect("path"),
                parts.next().expect("roles"),
            );
            let roles = match roles {
                "PUBLIC" | "WEBHOOK" => None,
                "ANY" => Some(Role::ALL.to_vec()),
                list => Some(list.split(',').map(|r| r.parse().expect("role")).collect()),
            };
            (
                Route {
                    method: method.to_owned(),
                    path: path.to_owned(),
                },
                roles,
            )
        })
        .collect()
}

fn routes_of_the_router() -> BTreeSet<Route> {
    let openapi = serde_json::to_value(huntzen::app::routes::openapi()).expect("openapi");
    let mut routes = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                routes.insert(Route {
                    method: method.to_uppercase(),
                    path: path.clone(),
                });
            }
        }
    }
    routes
}

#[test]
fn every_route_is_in_the_matrix_and_nothing_else() {
    let router = routes_of_the_router();
    let table: BTreeSet<Route> = matrix().into_iter().map(|(r, _)| r).collect();
    let missing: Vec<_> = router.difference(&table).collect();
    let stale: Vec<_> = table.difference(&router).collect();
    assert!(
        missing.is_empty(),
        "routes missing from role_matrix.txt: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "role_matrix.txt lists routes the router does not have: {stale:?}"
    );
}

/// Signs in one user of each role.
async fn tokens(app: &TestApp) -> Vec<(Role, String)> {
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('Matrix', 'matrix', 'matrix.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let mut out = Vec::new();
    for role in Role::ALL {
        let email = format!("{}@matrix.test", role.as_str().to_lowercase());
        let company_id = matches!(role, Role::AdminRh | Role::Employee).then_some(company);
        let user = app.create_user(&email, role, company_id).await;
        match role {
            Role::Employee => {
                sqlx::query(
                    "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, 'E', 'E')",
                )
                .bind(user)
                .bind(company)
                .execute(system)
                .await
                .expect("employee");
            }
            Role::Practitioner => {
                sqlx::query(
                    "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty) VALUES ($1, 'P', 'P', 'Dr.', 'PSYCHIATRE')",
                )
                .bind(user)
                .execute(system)
                .await
                .expect("practitioner");
            }
            _ => {}
        }
        let login = app
            .post(
                "/api/auth/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        out.push((
            role,
            login.body["accessToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        ));
    }
    out
}

#[tokio::test]
async fn roles_are_allowed_and_denied_exactly_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let tokens = tokens(&app).await;
    let mut failures = Vec::new();
    for (route, allowed) in matrix() {
        let Some(allowed) = allowed else { continue };
        let path = route.with_params(|| Uuid::new_v4().to_string());
        let method: Method = route.method.parse().expect("method");
        let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
        let anonymous = app.call(method.clone(), &path, None, body.clone()).await;
        if anonymous.status != StatusCode::UNAUTHORIZED {
            failures.push(format!(
                "{} {} answered {} without a token",
                route.method, route.path, anonymous.status
            ));
        }
        for (role, token) in &tokens {
            let response = app
                .call(method.clone(), &path, Some(token), body.clone())
                .await;
            let denied =
                response.status == StatusCode::FORBIDDEN && response.code() == "auth.forbidden";
            let expect_allowed = allowed.contains(role);
            // A step-up route answers an allowed role without the password 401 reauth_required:
            // authorisation passed, the proof of presence is a check of its own.
            let reauth = response.status == StatusCode::UNAUTHORIZED
                && response.code() == "auth.reauth_required";
            if expect_allowed
                && (denied
                    || (response.status == StatusCode::UNAUTHORIZED && !reauth)
                    || response.status.is_server_error())
            {
                failures.push(format!(
                    "{} {} as {role}: expected allowed, got {} {}",
                    route.method, route.path, response.status, response.body
                ));
            }
            if !expect_allowed && !denied {
                failures.push(format!(
                    "{} {} as {role}: expected 403, got {} {}",
                    route.method, route.path, response.status, response.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A path segment that is not a UUID where one is expected is a 422 problem naming the parameter,
/// on every route with one (axum alone answers a `text/plain` 400). A published article is read
/// (and its view counted) by id or slug, so any text is a key there and an unknown one is a 404.
#[tokio::test]
async fn a_malformed_id_is_a_422_problem_on_every_route() {
    let app = TestApp::spawn().await;
    let tokens = tokens(&app).await;
    let mut failures = Vec::new();
    for (route, allowed) in matrix() {
        if !route.path.contains('{') {
            continue;
        }
        let token = allowed
            .as_ref()
            .and_then(|allowed| tokens.iter().find(|(role, _)| allowed.contains(role)))
            .map(|(_, token)| token.as_str());
        let path = route.with_params(|| String::from("not-a-uuid"));
        let method: Method = route.method.parse().expect("method");
        let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
        let response = app.call(method, &path, token, body).await;
        let content_type = response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let by_key = matches!(
            (route.method.as_str(), route.path.as_str()),
            ("GET", "/api/articles/{id}") | ("PUT", "/api/articles/{id}/view")
        );
        let expected = if by_key {
            response.status == StatusCode::NOT_FOUND
        } else {
            response.status == StatusCode::UNPROCESSABLE_ENTITY
                && response.code() == "validation.failed"
                && response.body["errors"][0]["message"] == "must be a UUID"
        };
        if !expected || content_type != "application/problem+json" {
            failures.push(format!(
                "{} {}: {} {content_type} {}",
                route.method, path, response.status, response.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
