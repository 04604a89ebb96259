//! Across tenants over HTTP: an HR admin of company B given company A's ids gets 404 on every
//! company and employee route, A is left unchanged, and lists never show A's rows.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;
use crate::onboarding::{onboard_company, platform_admin};

#[tokio::test]
async fn hr_of_another_company_gets_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (company_a, hr_a) = onboard_company(&app, &admin, "Alpha", "alpha.test").await;
    let (_, hr_b) = onboard_company(&app, &admin, "Beta", "beta.test").await;
    let created = app
        .post(
            "/api/employees",
            Some(&hr_a),
            json!({ "email": "ann@alpha.test", "firstName": "Ann", "lastName": "Alpha", "department": "Ops" }),
        )
        .await;
    let employee_a = created.body["id"].as_str().expect("id").to_owned();
    let before_employee = app
        .get(&format!("/api/employees/{employee_a}"), Some(&hr_a))
        .await
        .body;
    let before_company = app
        .get(&format!("/api/companies/{company_a}"), Some(&hr_a))
        .await
        .body;

    let attempts = [
        (Method::GET, format!("/api/companies/{company_a}"), None),
        (
            Method::PUT,
            format!("/api/companies/{company_a}"),
            Some(json!({ "name": "Hacked" })),
        ),
        (Method::GET, format!("/api/employees/{employee_a}"), None),
        (
            Method::PUT,
            format!("/api/employees/{employee_a}"),
            Some(json!({ "department": "Hacked" })),
        ),
        (
            Method::PUT,
            format!("/api/employees/{employee_a}/activate"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/employees/{employee_a}/deactivate"),
            None,
        ),
        (Method::DELETE, format!("/api/employees/{employee_a}"), None),
    ];
    for (method, path, body) in attempts {
        let response = app.call(method.clone(), &path, Some(&hr_b), body).await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            response.body
        );
        assert!(
            !response.body.to_string().contains("Alpha"),
            "{method} {path} leaked content"
        );
    }
    assert_eq!(
        app.get(&format!("/api/employees/{employee_a}"), Some(&hr_a))
            .await
            .body,
        before_employee
    );
    assert_eq!(
        app.get(&format!("/api/companies/{company_a}"), Some(&hr_a))
            .await
            .body,
        before_company
    );

    let listed = app.get("/api/employees?pageSize=100", Some(&hr_b)).await;
    assert_eq!(listed.body["total"], 0, "{}", listed.body);
    let searched = app.get("/api/employees?q=ann", Some(&hr_b)).await;
    assert_eq!(searched.body["total"], 0);
    assert_eq!(
        app.get("/api/companies/me", Some(&hr_b)).await.body["name"],
        "Beta"
    );
    // The same import in B does not touch A's employee: the email belongs to another account.
    let import = app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/api/employees/import")
                .header("authorization", format!("Bearer {hr_b}"))
                .header("content-type", "text/csv")
                .body(axum::body::Body::from(
                    "email,firstName,lastName\nann@alpha.test,Ann,Takeover\n",
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(import.body["created"], 0, "{}", import.body);
    assert_eq!(import.body["errors"][0]["field"], "email");
    assert_eq!(
        app.get(&format!("/api/employees/{employee_a}"), Some(&hr_a))
            .await
            .body,
        before_employee
    );
}

#[tokio::test]
async fn unlisted_practitioners_and_other_people_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (_, hr) = onboard_company(&app, &admin, "Gamma", "gamma.test").await;
    app.post(
        "/api/auth/register",
        None,
        json!({ "email": "new@cabinet.test", "password": crate::helpers::PASSWORD, "role": "PRACTITIONER", "firstName": "N",
                "lastName": "P", "title": "Dr.", "specialty": "PSYCHIATRE", "languages": ["fr"], "bio": "x" }),
    )
    .await;
    let mail = app.wait_for_mail("new@cabinet.test", 1).await;
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": mail.token("verify-email") }),
    )
    .await;
    let pending = app.get("/api/practitioners/pending", Some(&admin)).await;
    let id = pending.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.get(&format!("/api/practitioners/{id}"), Some(&hr))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "practitioner.not_found");
    app.get(&format!("/api/employees/{id}"), Some(&hr))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "employee.not_found");
}
