//! The people's workflows (issue 23): an employee's allowance in `/api/me`, crisis lines for
//! anyone.

use axum::http::{Method, Request, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::seed::Participants;

/// Moves a consultation to `days` days after the start of the current UTC year (`-1`: last year).
async fn schedule_in_year(app: &TestApp, id: Uuid, years_back: i32, days: i32) {
    sqlx::query(
        "UPDATE consultations SET scheduled_at = date_trunc('year', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
         - make_interval(years => $2) + make_interval(days => $3) WHERE id = $1",
    )
    .bind(id)
    .bind(years_back)
    .bind(days)
    .execute(&app.db().system)
    .await
    .expect("reschedule");
}

#[tokio::test]
async fn an_employee_sees_the_allowance_left_this_year() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("allow").await;
    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = 5 WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("allowance");
    let employee = app.seed_employee("ana@allow.test", company, "Ana").await;
    let other = app.seed_employee("bob@allow.test", company, "Bob").await;
    let practitioner = app.seed_practitioner("pia@cabinet.test", "Pia").await;
    let ana = Participants {
        company,
        employee,
        practitioner,
    };
    let bob = Participants {
        company,
        employee: other,
        practitioner,
    };
    // This year: two done or booked count, a cancelled one does not; last year's does not;
    // another employee's does not.
    for (people, status, years_back, days) in [
        (ana, "COMPLETED", 0, 3),
        (ana, "CONFIRMED", 0, 20),
        (ana, "CANCELLED", 0, 25),
        (ana, "COMPLETED", 1, 40),
        (bob, "COMPLETED", 0, 5),
    ] {
        let id = app.seed_consultation(people, "VIDEO", status, 1).await;
        schedule_in_year(&app, id, years_back, days).await;
    }
    let token = app.login("ana@allow.test").await;
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let allowance = &me.body["allowance"];
    assert_eq!(allowance["perYear"], 5, "{}", me.body);
    assert_eq!(allowance["used"], 2);
    assert_eq!(allowance["remaining"], 3);
    let year = chrono::Datelike::year(&chrono::Utc::now());
    assert_eq!(allowance["resetsOn"], format!("{}-01-01", year + 1));

    // Unlimited: null. Other roles: absent.
    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = NULL WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("unlimited");
    let me = app.get("/api/me", Some(&token)).await;
    assert!(me.body["allowance"].is_null());
    assert!(
        me.body
            .as_object()
            .expect("object")
            .contains_key("allowance")
    );
    app.create_user("rh@allow.test", Role::AdminRh, Some(company))
        .await;
    let hr = app.login("rh@allow.test").await;
    let me = app.get("/api/me", Some(&hr)).await;
    assert!(
        !me.body
            .as_object()
            .expect("object")
            .contains_key("allowance")
    );
}

async fn crisis(app: &TestApp, query: &str, language: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/resources/crisis{query}"));
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let response = app
        .send(request.body(axum::body::Body::empty()).expect("request"))
        .await;
    (response.status, response.body)
}

#[tokio::test]
async fn crisis_lines_are_public_per_country_and_language() {
    let app = TestApp::spawn().await;
    let (status, fr) = crisis(&app, "?country=FR", None).await;
    assert_eq!(status, StatusCode::OK, "{fr}");
    let phones: Vec<&str> = fr["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|line| line["phone"].as_str().expect("phone"))
        .collect();
    for number in ["3114", "15", "112"] {
        assert!(phones.contains(&number), "{number} missing: {phones:?}");
    }
    assert_eq!(fr["listed"], true);
    assert!(fr["advice"].as_str().expect("advice").contains("urgence"));
    // Default country FR; English on request.
    let (_, default) = crisis(&app, "", Some("en-GB,en;q=0.9")).await;
    assert_eq!(default["country"], "FR");
    assert!(
        default["advice"]
            .as_str()
            .expect("advice")
            .contains("emergency")
    );
    // A country without its own list still gets a number to call.
    let (status, elsewhere) = crisis(&app, "?country=pt", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(elsewhere["country"], "PT");
    assert_eq!(elsewhere["listed"], false);
    assert_eq!(elsewhere["items"][0]["phone"], "112");
    let (status, bad) = crisis(&app, "?country=France", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["code"], "validation.failed");
}
