//! Reports: only counters, only one's own company, k ≥ 5 for groups, CSV safe for spreadsheets.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use huntzen::infra::identity::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::TestApp;

async fn employee(app: &TestApp, company: Uuid, tag: &str, first: &str, department: &str) -> Uuid {
    let user = app
        .create_user(
            &format!("{first}.{tag}@x.test").to_lowercase(),
            Role::Employee,
            Some(company),
        )
        .await;
    sqlx::query_scalar("INSERT INTO employees (user_id, company_id, first_name, last_name, department) VALUES ($1, $2, $3, 'Test', $4) RETURNING id")
        .bind(user)
        .bind(company)
        .bind(first)
        .bind(department)
        .fetch_one(&app.db().system)
        .await
        .expect("employee")
}

async fn completed(
    app: &TestApp,
    company: Uuid,
    employee: Uuid,
    practitioner: Uuid,
    ended: &str,
    minutes: i32,
    offset_days: i32,
) {
    sqlx::query(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status, started_at, ended_at, actual_duration) \
         VALUES ($1, $2, $3, $4::timestamptz - make_interval(days => $6), 'VIDEO', 'COMPLETED', $4::timestamptz - make_interval(mins => $5), $4::timestamptz, $5)",
    )
    .bind(company)
    .bind(employee)
    .bind(practitioner)
    .bind(ended)
    .bind(minutes)
    .bind(offset_days)
    .execute(&app.db().system)
    .await
    .expect("consultation");
}

async fn raw_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("r");
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("utf8"),
    )
}

fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn hr_sees_counters_only_for_its_company() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("acme").await;
    let other = app.seed_company("other").await;
    let user = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'Jeanne', 'Secret', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db().system)
    .await
    .expect("practitioner");
    let mut sales = Vec::new();
    for (i, name) in [
        "Émilie",
        "=cmd|' /C calc'!A0",
        "Bob",
        "Inj,=2+3",
        "Dan",
        "Eve",
    ]
    .iter()
    .enumerate()
    {
        sales.push(employee(&app, acme, &format!("s{i}"), name, "Sales").await);
    }
    let legal = employee(&app, acme, "l", "Lina", "Legal").await;
    let outsider = employee(&app, other, "o", "Oscar", "Sales").await;
    completed(
        &app,
        acme,
        sales[0],
        practitioner,
        "2026-01-10T10:50:00Z",
        50,
        0,
    )
    .await;
    completed(
        &app,
        acme,
        sales[0],
        practitioner,
        "2026-01-20T10:45:00Z",
        45,
        1,
    )
    .await;
    completed(
        &app,
        acme,
        sales[1],
        practitioner,
        "2026-01-11T10:30:00Z",
        30,
        2,
    )
    .await;
    completed(
        &app,
        acme,
        legal,
        practitioner,
        "2026-01-12T10:40:00Z",
        40,
        3,
    )
    .await;
    completed(
        &app,
        acme,
        sales[0],
        practitioner,
        "2026-02-02T10:50:00Z",
        50,
        4,
    )
    .await;
    completed(
        &app,
        other,
        outsider,
        practitioner,
        "2026-01-15T10:50:00Z",
        50,
        5,
    )
    .await;
    app.create_user("rh@acme.test", Role::AdminRh, Some(acme))
        .await;
    let hr = app.login("rh@acme.test").await;

    let report = app
        .get("/api/reports/employee-usage?period=2026-01", Some(&hr))
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let mut seen = Vec::new();
    keys(&report.body, &mut seen);
    let allowed = [
        "period",
        "items",
        "employeeId",
        "employeeName",
        "consultationCount",
        "totalDurationMinutes",
    ];
    assert!(
        seen.iter().all(|k| allowed.contains(&k.as_str())),
        "unexpected keys: {seen:?}"
    );
    // Regression: spaced like every other answer (compact), not `"employeeId" : …`.
    assert!(
        report.text.contains(r#""employeeId":""#) && !report.text.contains(" : "),
        "{}",
        report.text
    );
    let text = report.body.to_string();
    for secret in [
        "Secret",
        "Jeanne",
        "VIDEO",
        "2026-01-10",
        "PSYCHIATRE",
        "Oscar",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the HR report");
    }
    let items = report.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 7, "every employee of acme, none of other");
    let emilie = items
        .iter()
        .find(|i| i["employeeName"] == "Émilie Test")
        .expect("Émilie");
    assert_eq!(
        (
            emilie["consultationCount"].as_i64(),
            emilie["totalDurationMinutes"].as_i64()
        ),
        (Some(2), Some(95))
    );
    app.get("/api/reports/employee-usage?period=2026-1", Some(&hr))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    let (status, content_type, csv) =
        raw_get(&app, "/api/reports/export-csv?period=2026-01", &hr).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    assert!(csv.starts_with('\u{feff}'), "UTF-8 BOM for spreadsheets");
    assert!(csv.contains("employeeId;employeeName;period;consultationCount;totalDurationMinutes"));
    assert!(csv.contains("Émilie Test;2026-01;2;95"), "{csv}");
    assert!(csv.contains("'=cmd|"), "formula neutralised: {csv}");
    assert!(!csv.contains(";=cmd"), "{csv}");
    // A cell holding the other separator is quoted, and neutralised after it too.
    assert!(csv.contains("\"Inj,'=2+3 Test\""), "{csv}");
    assert!(!csv.contains(",=2+3"), "{csv}");
    let (_, _, comma) = raw_get(&app, "/api/reports/export-csv?period=2026-01&sep=,", &hr).await;
    assert!(comma.contains("employeeId,employeeName,period"));
    assert_eq!(
        raw_get(&app, "/api/reports/export-csv?period=2026-01&sep=|", &hr)
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    for path in [
        format!("/api/employees/{}/usage-stats", sales[0]),
        format!("/api/reports/employee-usage/{}", sales[0]),
    ] {
        let months = app.get(&path, Some(&hr)).await;
        assert_eq!(months.status, StatusCode::OK, "{path}: {}", months.body);
        let periods: Vec<&str> = months.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["period"].as_str())
            .collect();
        assert_eq!(periods, ["2026-02", "2026-01"]);
    }
    app.get(&format!("/api/employees/{outsider}/usage-stats"), Some(&hr))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "employee.not_found");

    let departments = app
        .get("/api/reports/department-usage?period=2026-01", Some(&hr))
        .await;
    assert_eq!(departments.status, StatusCode::OK, "{}", departments.body);
    let names: Vec<&str> = departments.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["department"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Sales"],
        "Legal (1 person) is never shown on its own"
    );
    assert_eq!(departments.body["suppressedEmployees"], 1);
    assert_eq!(departments.body["items"][0]["consultationCount"], 3);

    let employee_token = { app.login("Émilie.s0@x.test").await };
    app.get(
        "/api/reports/employee-usage?period=2026-01",
        Some(&employee_token),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
}

#[tokio::test]
async fn practitioners_bill_and_the_platform_sees_aggregates() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("acme").await;
    let user = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'J', 'M', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db().system)
    .await
    .expect("practitioner");
    let patient = employee(&app, acme, "p", "Patient", "Ops").await;
    completed(
        &app,
        acme,
        patient,
        practitioner,
        "2026-03-05T09:50:00Z",
        50,
        0,
    )
    .await;
    completed(
        &app,
        acme,
        patient,
        practitioner,
        "2026-03-12T09:55:00Z",
        55,
        1,
    )
    .await;
    let doc = app.login("doc@cabinet.test").await;
    let billing = app
        .get(
            "/api/reports/practitioner-billing?period=2026-03",
            Some(&doc),
        )
        .await;
    assert_eq!(billing.status, StatusCode::OK, "{}", billing.body);
    assert_eq!(
        (
            billing.body["consultationCount"].as_i64(),
            billing.body["totalDurationMinutes"].as_i64()
        ),
        (Some(2), Some(105))
    );
    assert_eq!(
        billing.body["items"][0],
        serde_json::json!({ "date": "2026-03-05", "durationMinutes": 50, "format": "VIDEO", "companyName": "acme" })
    );
    assert!(
        !billing.body.to_string().contains("Patient"),
        "no patient name in billing"
    );
    for path in [
        "/api/reports/practitioner-export-csv?period=2026-03",
        "/api/practitioners/me/export-billing?period=2026-03",
    ] {
        let (status, _, csv) = raw_get(&app, path, &doc).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(csv.contains("2026-03-12;55;VIDEO;acme"), "{path}: {csv}");
    }
    let stats = app.get("/api/reports/practitioner-stats", Some(&doc)).await;
    assert_eq!(stats.body["consultationCount"], 2);

    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@huntzen.test").await;
    for path in ["/api/reports/platform-kpis", "/api/admin-huntzen/kpis"] {
        let kpis = app.get(path, Some(&ops)).await;
        assert_eq!(kpis.status, StatusCode::OK, "{path}: {}", kpis.body);
        assert_eq!(kpis.body["validatedPractitioners"], 1);
        assert_eq!(kpis.body["consultationsByStatus"]["COMPLETED"], 2);
        assert_eq!(kpis.body["consultationsByFormat"]["VIDEO"], 2);
        assert_eq!(kpis.body["utilisationRate"], 1.0);
        assert!(!kpis.body.to_string().contains("Patient"));
    }
    app.get("/api/reports/platform-kpis", Some(&doc))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
}

#[tokio::test]
async fn a_large_billing_export_streams_every_row_once_and_is_audited() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("bulk").await;
    let employee = app.seed_employee("eve@bulk.test", company, "Eve").await;
    let practitioner = app.seed_practitioner("doc@cabinet.test", "Doc").await;
    // 5,000 lines ≈ 150 KiB: several 64 KiB chunks.
    sqlx::query(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status, \
                                    started_at, ended_at, actual_duration) \
         SELECT $1, $2, $3, t, 'AUDIO', 'COMPLETED', t, t + interval '40 minutes', 40 \
         FROM generate_series(timestamptz '2026-04-01', timestamptz '2026-04-01' + 4999 * interval '5 minutes', interval '5 minutes') t",
    )
    .bind(company)
    .bind(employee)
    .bind(practitioner)
    .execute(&app.db().system)
    .await
    .expect("rows");
    let doc = app.login("doc@cabinet.test").await;
    let (status, _, csv) = raw_get(
        &app,
        "/api/reports/practitioner-export-csv?period=2026-04&sep=,",
        &doc,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 5001, "header and every row");
    assert!(lines[0].ends_with("date,durationMinutes,format,company"));
    assert_eq!(lines[1], "2026-04-01,40,AUDIO,bulk");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'EXPORT'")
            .fetch_one(&app.db().system)
            .await
            .expect("audit");
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn hr_counts_a_consultation_from_the_day_after_it_ended_in_the_company_zone() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("acme").await;
    sqlx::query("UPDATE companies SET time_zone = 'Pacific/Kiritimati' WHERE id = $1")
        .bind(acme)
        .execute(&app.db().system)
        .await
        .expect("zone");
    let user = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'J', 'S', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db().system)
    .await
    .expect("practitioner");
    let emma = employee(&app, acme, "e", "Emma", "Sales").await;
    app.create_user("hr@acme.test", Role::AdminRh, Some(acme))
        .await;
    let hr = app.login("hr@acme.test").await;
    // Local midnight today (UTC+14) and the month it belongs to there.
    let (midnight, period): (String, String) = sqlx::query_as(
        "SELECT to_char(date_trunc('day', now() AT TIME ZONE 'Pacific/Kiritimati') AT TIME ZONE 'Pacific/Kiritimati' AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                to_char(now() AT TIME ZONE 'Pacific/Kiritimati', 'YYYY-MM')",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("midnight");
    // Ended a second ago, today there: not counted yet, in any month.
    let just_now = chrono::Utc::now() - chrono::Duration::seconds(1);
    completed(
        &app,
        acme,
        emma,
        practitioner,
        &just_now.to_rfc3339(),
        30,
        0,
    )
    .await;
    let report = app
        .get(
            &format!("/api/reports/employee-usage?period={period}"),
            Some(&hr),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(
        report.body["items"][0]["consultationCount"], 0,
        "{}",
        report.body
    );
    let months = app
        .get(&format!("/api/employees/{emma}/usage-stats"), Some(&hr))
        .await;
    assert!(
        !months.body.to_string().contains(&period)
            || months.body["items"][0]["consultationCount"] == 0,
        "{}",
        months.body
    );
    // Ended just before local midnight: yesterday there, counted in that local day's month.
    let yesterday = chrono::DateTime::parse_from_rfc3339(&midnight).expect("midnight")
        - chrono::Duration::minutes(5);
    completed(
        &app,
        acme,
        emma,
        practitioner,
        &yesterday.to_rfc3339(),
        45,
        0,
    )
    .await;
    let yesterday_period = yesterday
        .with_timezone(&chrono::FixedOffset::east_opt(14 * 3600).expect("offset"))
        .format("%Y-%m")
        .to_string();
    let report = app
        .get(
            &format!("/api/reports/employee-usage?period={yesterday_period}"),
            Some(&hr),
        )
        .await;
    assert_eq!(
        report.body["items"][0]["consultationCount"], 1,
        "{}",
        report.body
    );
    assert_eq!(report.body["items"][0]["totalDurationMinutes"], 45);
}

/// A completed consultation in `format`, ended at `ended` (UTC), of `minutes`.
async fn completed_as(
    app: &TestApp,
    company: Uuid,
    employee: Uuid,
    practitioner: Uuid,
    ended: &str,
    minutes: i32,
    format: &str,
) {
    sqlx::query(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status, started_at, ended_at, actual_duration) \
         VALUES ($1, $2, $3, $4::timestamptz - make_interval(mins => $5), $6::consultation_format, 'COMPLETED', \
                 $4::timestamptz - make_interval(mins => $5), $4::timestamptz, $5)",
    )
    .bind(company)
    .bind(employee)
    .bind(practitioner)
    .bind(ended)
    .bind(minutes)
    .bind(format)
    .execute(&app.db().system)
    .await
    .expect("consultation");
}

/// CSV text (BOM stripped) as rows of cells split on `;` (no cell of these exports is quoted).
fn rows(csv: &str) -> Vec<Vec<String>> {
    csv.trim_start_matches('\u{feff}')
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.split(';').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn reports_cover_a_range_of_months_and_the_platform_exports_usage_per_company_and_month() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("rangea").await;
    let beta = app.seed_company("rangeb").await;
    let practitioner = app.seed_practitioner("doc@range.test", "Doc").await;
    let ana = employee(&app, acme, "ra", "Anaïs", "Sales").await;
    let bob = employee(&app, acme, "rb", "Bertrand", "Sales").await;
    let cid = employee(&app, beta, "rc", "Cyrielle", "Ops").await;
    // Paris time: January 2026 (two), February (one audio), March (in person); beta: February.
    completed_as(
        &app,
        acme,
        ana,
        practitioner,
        "2026-01-10T10:00:00Z",
        50,
        "VIDEO",
    )
    .await;
    completed_as(
        &app,
        acme,
        bob,
        practitioner,
        "2026-01-20T10:00:00Z",
        40,
        "VIDEO",
    )
    .await;
    completed_as(
        &app,
        acme,
        ana,
        practitioner,
        "2026-02-05T10:00:00Z",
        30,
        "AUDIO",
    )
    .await;
    completed_as(
        &app,
        acme,
        ana,
        practitioner,
        "2026-03-31T22:30:00Z",
        45,
        "IN_PERSON",
    )
    .await; // 1 April, 00:30 in Paris (summer time)
    completed_as(
        &app,
        beta,
        cid,
        practitioner,
        "2026-02-14T10:00:00Z",
        60,
        "VIDEO",
    )
    .await;
    app.create_user("rh@rangea.test", Role::AdminRh, Some(acme))
        .await;
    let hr = app.login("rh@rangea.test").await;

    // HR: a quarter at once; `period` names the range.
    let quarter = app
        .get(
            "/api/reports/employee-usage?from=2026-01&to=2026-03",
            Some(&hr),
        )
        .await;
    assert_eq!(quarter.status, StatusCode::OK, "{}", quarter.body);
    assert_eq!(quarter.body["period"], "2026-01/2026-03");
    let count = |body: &Value, name: &str| {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| {
                i["employeeName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name))
            })
            .map(|i| {
                (
                    i["consultationCount"].as_i64(),
                    i["totalDurationMinutes"].as_i64(),
                )
            })
    };
    assert_eq!(count(&quarter.body, "Anaïs"), Some((Some(2), Some(80))));
    assert_eq!(count(&quarter.body, "Bertrand"), Some((Some(1), Some(40))));
    let april = app
        .get(
            "/api/reports/employee-usage?from=2026-04&to=2026-04",
            Some(&hr),
        )
        .await;
    assert_eq!(april.body["period"], "2026-04");
    assert_eq!(count(&april.body, "Anaïs"), Some((Some(1), Some(45))));
    let (status, _, csv) =
        raw_get(&app, "/api/reports/export-csv?from=2026-01&to=2026-02", &hr).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.contains("2026-01/2026-02"), "{csv}");
    let departments = app
        .get(
            "/api/reports/department-usage?from=2026-01&to=2026-12",
            Some(&hr),
        )
        .await;
    assert_eq!(departments.status, StatusCode::OK, "{}", departments.body);
    // Bad ranges name their field.
    for (query, field) in [
        ("", "period"),
        ("?period=2026-01&from=2026-01&to=2026-02", "period"),
        ("?from=2026-01", "to"),
        ("?to=2026-01", "from"),
        ("?from=2026-03&to=2026-01", "to"),
        ("?from=2020-01&to=2026-01", "to"),
        ("?from=2026-13&to=2027-01", "from"),
    ] {
        let refused = app
            .get(&format!("/api/reports/employee-usage{query}"), Some(&hr))
            .await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
        assert!(refused.text.contains(field), "{query}: {}", refused.text);
    }

    // The platform: every company and month, by format, no person.
    app.create_user("ops@range.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@range.test").await;
    let (status, content_type, csv) = raw_get(
        &app,
        "/api/admin-huntzen/exports/usage.csv?from=2026-01&to=2026-04",
        &ops,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(content_type.starts_with("text/csv"));
    let table = rows(&csv);
    assert_eq!(
        table[0][..6],
        [
            "companyId",
            "companyName",
            "period",
            "consultations",
            "minutes",
            "activeEmployees"
        ]
    );
    let line = |company: Uuid, period: &str| {
        table
            .iter()
            .find(|r| r[0] == company.to_string() && r[2] == period)
            .cloned()
            .unwrap_or_else(|| panic!("no line for {company} {period}: {csv}"))
    };
    // consultations, minutes, active, video n/min, audio n/min, in person n/min.
    assert_eq!(
        line(acme, "2026-01")[3..],
        ["2", "90", "2", "2", "90", "0", "0", "0", "0"]
    );
    assert_eq!(
        line(acme, "2026-02")[3..],
        ["1", "30", "1", "0", "0", "1", "30", "0", "0"]
    );
    assert_eq!(
        line(acme, "2026-03")[3..],
        ["0", "0", "0", "0", "0", "0", "0", "0", "0"]
    );
    assert_eq!(
        line(acme, "2026-04")[3..],
        ["1", "45", "1", "0", "0", "0", "0", "1", "45"]
    );
    assert_eq!(line(beta, "2026-02")[3..6], ["1", "60", "1"]);
    assert_eq!(line(beta, "2026-01")[3], "0");
    for person in [
        "Anaïs",
        "Bertrand",
        "Cyrielle",
        &ana.to_string(),
        &cid.to_string(),
        "Doc",
    ] {
        assert!(!csv.contains(person), "{person} in the platform export");
    }
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action = 'EXPORT' AND resource = 'platform_usage'",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    let (status, _, _) = raw_get(
        &app,
        "/api/admin-huntzen/exports/usage.csv?period=2026-01",
        &hr,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hr_admins_hear_once_a_month_that_the_report_is_ready_without_a_figure() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("notice").await;
    let fresh = app.seed_company("fresh").await;
    // The company existed last month; `fresh` was created this month (no past month to report).
    sqlx::query("UPDATE companies SET created_at = now() - interval '70 days' WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("age");
    app.create_user("rha@notice.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("rhb@notice.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("rh@fresh.test", Role::AdminRh, Some(fresh))
        .await;
    employee(&app, company, "nt", "Noémie", "Ops").await;
    // The check runs in every replica, and again after each restart: mails go once.
    let system = &app.db().system;
    let first = huntzen::governance::reports::notify_reports_ready(system)
        .await
        .expect("notices");
    let again = huntzen::governance::reports::notify_reports_ready(system)
        .await
        .expect("again");
    let both = futures::future::join_all(
        (0..8).map(|_| huntzen::governance::reports::notify_reports_ready(system)),
    )
    .await;
    // (The server's own worker may have run the check first: then this call found nothing.)
    let total = first
        + again
        + both
            .into_iter()
            .map(|r| r.expect("parallel"))
            .sum::<usize>();
    assert!(total <= 2, "{total}");
    for hr in ["rha@notice.test", "rhb@notice.test"] {
        let mail = app.wait_for_mail(hr, 1).await;
        assert!(mail.body.contains("/reports"), "{}", mail.body);
        // No figure anywhere but in the link (its host may carry a port).
        let text: String = mail.body.lines().filter(|l| !l.contains("://")).collect();
        assert!(
            !text.chars().any(|c| c.is_ascii_digit()),
            "a figure in: {}",
            mail.body
        );
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let outbox = app.outbox();
    assert_eq!(
        outbox
            .iter()
            .filter(|m| m.to.contains("@notice.test"))
            .count(),
        2
    );
    assert!(!outbox.iter().any(|m| m.to.contains("rh@fresh.test")));
    assert!(!outbox.iter().any(|m| m.to.contains("noemie")));
    let notices: i64 =
        sqlx::query_scalar("SELECT count(*) FROM report_notices WHERE company_id = $1")
            .bind(company)
            .fetch_one(system)
            .await
            .expect("notices");
    assert_eq!(notices, 1);
}
