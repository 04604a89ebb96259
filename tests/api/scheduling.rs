//! Scheduling over HTTP: availability, DST-correct slots, booking (limits, concurrency),
//! every lifecycle move, Jitsi room tokens, attendance and webhook events, reminders,
//! notifications and counters.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc, Weekday};
use huntzen::infra::identity::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{JITSI_SECRET, JITSI_WEBHOOK_SECRET, TestApp};

struct World {
    company: Uuid,
    practitioner: Uuid,
    practitioner_token: String,
    employees: Vec<(Uuid, String)>,
}

async fn world(app: &TestApp, employees: usize, zone: &str) -> World {
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('Sched', 'sched', 'sched.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let user = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, bio, is_validated, time_zone, languages) \
         VALUES ($1, 'Jeanne', 'Martin', 'Dr.', 'PSYCHIATRE', 'bio', true, $2, '{fr}') RETURNING id",
    )
    .bind(user)
    .bind(zone)
    .fetch_one(system)
    .await
    .expect("practitioner");
    let practitioner_token = app.login("doc@cabinet.test").await;
    let mut list = Vec::new();
    for i in 0..employees {
        let email = format!("e{i}@sched.test");
        let user = app.create_user(&email, Role::Employee, Some(company)).await;
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, 'Emp', $3) RETURNING id",
        )
        .bind(user)
        .bind(company)
        .bind(format!("Number{i}"))
        .fetch_one(system)
        .await
        .expect("employee");
        list.push((id, app.login(&email).await));
    }
    World {
        company,
        practitioner,
        practitioner_token,
        employees: list,
    }
}

async fn slots(
    app: &TestApp,
    token: &str,
    practitioner: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let response = app
        .get(
            &format!("/api/practitioners/{practitioner}/availability?from={from}&to={to}"),
            Some(token),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| {
            s["startsAt"]
                .as_str()
                .expect("startsAt")
                .parse()
                .expect("instant")
        })
        .collect()
}

async fn book(
    app: &TestApp,
    token: &str,
    practitioner: Uuid,
    at: DateTime<Utc>,
) -> crate::helpers::TestResponse {
    app.post(
        "/api/consultations",
        Some(token),
        json!({ "practitionerId": practitioner, "scheduledAt": at, "format": "VIDEO" }),
    )
    .await
}

/// The next local date on which `zone`'s UTC offset changes, at least `after` days from today.
fn next_change(zone: chrono_tz::Tz, after: i64) -> NaiveDate {
    let mut day = Utc::now().date_naive() + Duration::days(after);
    let offset = |d: NaiveDate| {
        zone.from_utc_datetime(&d.and_hms_opt(12, 0, 0).expect("noon"))
            .offset()
            .fix()
    };
    while offset(day) == offset(day + Duration::days(1)) {
        day += Duration::days(1);
    }
    day + Duration::days(1)
}

fn monday_on_or_after(day: NaiveDate) -> NaiveDate {
    let mut d = day;
    while d.weekday() != Weekday::Mon {
        d += Duration::days(1);
    }
    d
}

#[tokio::test]
async fn acceptance_slots_across_dst_booking_rooms_and_counters() {
    let app = TestApp::spawn().await;
    let w = world(&app, 1, "Europe/Paris").await;
    let monday = app
        .post(
            "/api/practitioners/me/availability",
            Some(&w.practitioner_token),
            json!({ "dayOfWeek": 1, "startTime": "09:00", "endTime": "12:00", "slotDuration": 60 }),
        )
        .await;
    assert_eq!(monday.status, StatusCode::CREATED, "{}", monday.body);
    assert_eq!(monday.body["startTime"], "09:00");

    let change = next_change(chrono_tz::Europe::Paris, 8);
    let before = monday_on_or_after(change - Duration::days(7));
    let after = monday_on_or_after(change);
    let (employee, token) = &w.employees[0];
    let found = slots(&app, token, w.practitioner, before, after).await;
    assert_eq!(found.len(), 6, "{found:?}");
    let hours = |d: NaiveDate| {
        found
            .iter()
            .filter(|s| s.date_naive() == d)
            .map(|s| s.format("%H:%M").to_string())
            .collect::<Vec<_>>()
    };
    let paris_offset = |d: NaiveDate| {
        chrono_tz::Europe::Paris
            .from_utc_datetime(&d.and_hms_opt(12, 0, 0).expect("t"))
            .offset()
            .fix()
            .local_minus_utc()
            / 3600
    };
    for day in [before, after] {
        let first = 9 - paris_offset(day);
        assert_eq!(
            hours(day),
            [
                format!("{first:02}:00"),
                format!("{:02}:00", first + 1),
                format!("{:02}:00", first + 2)
            ],
            "{day}"
        );
    }
    assert_ne!(
        hours(before),
        hours(after),
        "the UTC times move with the change"
    );
    let via_query = app
        .get(
            &format!(
                "/api/availability/slots?practitionerId={}&from={before}&to={after}",
                w.practitioner
            ),
            Some(token),
        )
        .await;
    assert_eq!(via_query.body["timeZone"], "Europe/Paris");
    assert_eq!(via_query.body["slots"].as_array().map(Vec::len), Some(6));

    let chosen = found[3];
    let booked = book(&app, token, w.practitioner, chosen).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    assert_eq!(booked.body["status"], "SCHEDULED");
    assert_eq!(booked.body["duration"], 60);
    let id = booked.body["id"].as_str().expect("id").to_owned();
    assert!(
        !slots(&app, token, w.practitioner, before, after)
            .await
            .contains(&chosen),
        "a booked slot is no longer free"
    );

    let confirmed = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{id}/accept"),
            Some(&w.practitioner_token),
            None,
        )
        .await;
    assert_eq!(confirmed.body["status"], "CONFIRMED", "{}", confirmed.body);
    app.get(&format!("/api/consultations/{id}/room"), Some(token))
        .await
        .assert_problem(StatusCode::CONFLICT, "consultation.room_unavailable");

    // Bring the consultation to now (the room opens 15 minutes before its time).
    sqlx::query(
        "UPDATE consultations SET scheduled_at = now() + interval '5 minutes' WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db().system)
    .await
    .expect("move");
    for (who, t, moderator, affiliation) in [
        ("employee", token, false, "member"),
        ("practitioner", &w.practitioner_token, true, "owner"),
    ] {
        let room = app
            .get(&format!("/api/consultations/{id}/room-link"), Some(t))
            .await;
        assert_eq!(room.status, StatusCode::OK, "{who}: {}", room.body);
        let jwt = room.body["jwt"].as_str().expect("jwt");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["jitsi"]);
        validation.set_issuer(&["huntzen"]);
        let decoded = jsonwebtoken::decode::<Value>(
            jwt,
            &jsonwebtoken::DecodingKey::from_secret(JITSI_SECRET.as_bytes()),
            &validation,
        )
        .unwrap_or_else(|e| panic!("{who}: room token does not verify: {e}"));
        let header = decoded.header;
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let claims = decoded.claims;
        let room_name = room.body["roomName"].as_str().expect("room");
        assert_eq!(claims["room"], room_name);
        assert_eq!(room_name, room_name.to_lowercase());
        assert!(!room_name.contains(&id), "room names are opaque");
        assert_eq!(claims["sub"], "meet.test");
        let user = &claims["context"]["user"];
        for field in ["id", "name", "email", "avatar"] {
            assert!(
                user[field].is_string(),
                "{who}: context.user.{field} is {}",
                user[field]
            );
        }
        assert_eq!(user["moderator"], moderator);
        assert_eq!(user["affiliation"], affiliation);
        let scheduled = Utc::now() + Duration::minutes(5);
        let nbf = claims["nbf"].as_i64().expect("nbf");
        assert!(
            (nbf - (scheduled - Duration::minutes(15)).timestamp()).abs() <= 5,
            "nbf is 15 minutes before the start"
        );
        let exp = claims["exp"].as_i64().expect("exp");
        assert!(
            (exp - (scheduled + Duration::minutes(60 + 30)).timestamp()).abs() <= 5,
            "exp is 30 minutes after the planned end"
        );
        assert_eq!(
            room.body["url"],
            format!("https://meet.test/{room_name}?jwt={jwt}")
        );
    }

    let started = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{id}/start"),
            Some(&w.practitioner_token),
            None,
        )
        .await;
    assert_eq!(started.body["status"], "IN_PROGRESS", "{}", started.body);
    sqlx::query("UPDATE consultations SET started_at = now() - interval '50 minutes 20 seconds' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.db().system)
        .await
        .expect("age");
    let ended = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{id}/end"),
            Some(&w.practitioner_token),
            None,
        )
        .await;
    assert_eq!(ended.body["status"], "COMPLETED", "{}", ended.body);
    assert_eq!(ended.body["actualDuration"], 50);

    let stats = app
        .get(
            "/api/practitioners/me/usage-stats",
            Some(&w.practitioner_token),
        )
        .await;
    assert_eq!(
        (
            stats.body["consultationCount"].as_i64(),
            stats.body["totalDurationMinutes"].as_i64()
        ),
        (Some(1), Some(50))
    );
    assert_eq!(stats.body["months"][0]["consultationCount"], 1);
    let me = app.get("/api/me", Some(token)).await;
    assert_eq!(
        me.body["usage"],
        json!({ "consultationCount": 1, "totalDurationMinutes": 50 })
    );
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type::text FROM consultation_events WHERE consultation_id = $1::uuid ORDER BY timestamp",
    )
    .bind(&id)
    .fetch_all(&app.db().system)
    .await
    .expect("events");
    assert_eq!(events, ["SCHEDULED", "CONFIRMED", "STARTED", "ENDED"]);
    let _ = employee;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_bookings_of_one_slot_succeed_once() {
    let app = TestApp::spawn().await;
    let w = world(&app, 20, "Europe/Paris").await;
    app.open_mornings(&w.practitioner_token).await;
    let from = Utc::now().date_naive() + Duration::days(3);
    let slot = slots(
        &app,
        &w.employees[0].1,
        w.practitioner,
        from,
        from + Duration::days(2),
    )
    .await[0];
    let attempts = w
        .employees
        .iter()
        .map(|(_, token)| book(&app, token, w.practitioner, slot));
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created,
        1,
        "{:?}",
        results
            .iter()
            .map(|r| (r.status, r.code().to_owned()))
            .collect::<Vec<_>>()
    );
    for refused in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        refused.assert_problem(StatusCode::CONFLICT, "consultation.slot_unavailable");
    }
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM consultations WHERE scheduled_at = $1")
            .bind(slot)
            .fetch_one(&app.db().system)
            .await
            .expect("count");
    assert_eq!(live, 1);
}

#[tokio::test]
async fn booking_rules_limits_and_allowance() {
    let app = TestApp::spawn().await;
    let w = world(&app, 2, "Europe/Paris").await;
    app.open_mornings(&w.practitioner_token).await;
    let from = Utc::now().date_naive() + Duration::days(2);
    let free = slots(
        &app,
        &w.employees[0].1,
        w.practitioner,
        from,
        from + Duration::days(6),
    )
    .await;
    let token = &w.employees[0].1;
    book(&app, token, w.practitioner, free[0] + Duration::minutes(10))
        .await
        .assert_problem(StatusCode::CONFLICT, "consultation.slot_unavailable");
    let in_person = app
        .post(
            "/api/consultations",
            Some(token),
            json!({ "practitionerId": w.practitioner, "scheduledAt": free[0], "format": "IN_PERSON" }),
        )
        .await;
    in_person.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    book(&app, token, Uuid::new_v4(), free[0])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "practitioner.not_found");
    for slot in &free[..3] {
        assert_eq!(
            book(&app, token, w.practitioner, *slot).await.status,
            StatusCode::CREATED
        );
    }
    book(&app, token, w.practitioner, free[3])
        .await
        .assert_problem(StatusCode::CONFLICT, "consultation.booking_limit");

    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = 3 WHERE id = $1")
        .bind(w.company)
        .execute(&app.db().system)
        .await
        .expect("allowance");
    let other = &w.employees[1].1;
    // Cancelled consultations do not count against the allowance.
    let first = book(&app, other, w.practitioner, free[4]).await;
    let first_id = first.body["id"].as_str().expect("id").to_owned();
    app.call(
        Method::PUT,
        &format!("/api/consultations/{first_id}/cancel"),
        Some(other),
        Some(json!({ "reason": "conflict" })),
    )
    .await;
    sqlx::query("UPDATE consultations SET status = 'COMPLETED' WHERE id IN (SELECT id FROM consultations WHERE status = 'SCHEDULED' AND employee_id = $1)")
        .bind(w.employees[0].0)
        .execute(&app.db().system)
        .await
        .expect("complete");
    assert_eq!(
        book(&app, token, w.practitioner, free[5]).await.code(),
        "consultation.allowance_exhausted"
    );
    assert_eq!(
        book(&app, other, w.practitioner, free[6]).await.status,
        StatusCode::CREATED,
        "the cancelled one does not count"
    );
}

/// One employee firing 30 bookings of 30 different free slots at once: the yearly allowance and
/// the live-booking cap hold exactly (bookings are serialised per employee).
#[tokio::test]
async fn quotas_hold_under_thirty_parallel_bookings() {
    let app = TestApp::spawn_with(huntzen::infra::db::PoolSizes { app: 10, system: 3 }).await;
    let w = world(&app, 2, "Europe/Paris").await;
    app.open_mornings(&w.practitioner_token).await;
    let from = Utc::now().date_naive() + Duration::days(1);
    let free = slots(
        &app,
        &w.employees[0].1,
        w.practitioner,
        from,
        from + Duration::days(29),
    )
    .await;
    assert!(free.len() >= 90, "{} free slots", free.len());
    let count = |results: &[crate::helpers::TestResponse], code: &str| {
        results.iter().filter(|r| r.code() == code).count()
    };

    // The live-booking cap (MAX_LIVE_BOOKINGS = 3), no allowance.
    let results = futures::future::join_all(
        free[..30]
            .iter()
            .map(|slot| book(&app, &w.employees[0].1, w.practitioner, *slot)),
    )
    .await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 3, "the cap of 3 held");
    assert_eq!(count(&results, "consultation.booking_limit"), 27);

    // A yearly allowance of 1.
    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = 1 WHERE id = $1")
        .bind(w.company)
        .execute(&app.db().system)
        .await
        .expect("allowance");
    // Thirty slots of one calendar year (the allowance is per year; the range may cross one).
    let rest = &free[30..90];
    let year = |t: &DateTime<Utc>| t.year();
    let most = if rest.iter().filter(|t| year(t) == year(&rest[0])).count() >= 30 {
        year(&rest[0])
    } else {
        year(&rest[59])
    };
    let same_year: Vec<DateTime<Utc>> = rest.iter().filter(|t| year(t) == most).copied().collect();
    let results = futures::future::join_all(
        same_year[..30]
            .iter()
            .map(|slot| book(&app, &w.employees[1].1, w.practitioner, *slot)),
    )
    .await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "the allowance of 1 held");
    assert_eq!(count(&results, "consultation.allowance_exhausted"), 29);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consultations WHERE employee_id = $1 AND status <> 'CANCELLED'",
    )
    .bind(w.employees[1].0)
    .fetch_one(&app.db().system)
    .await
    .expect("count");
    assert_eq!(stored, 1);
}

/// Creates a consultation directly in `status`, scheduled `minutes_from_now` ahead.
async fn consultation(app: &TestApp, w: &World, status: &str, minutes_from_now: i64) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, duration, format, status, started_at) \
         VALUES ($1, $2, $3, now() + make_interval(mins => $4), 50, 'VIDEO', $5::consultation_status, \
                 CASE WHEN $5 = 'IN_PROGRESS' THEN now() END) RETURNING id",
    )
    .bind(w.company)
    .bind(w.employees[0].0)
    .bind(w.practitioner)
    .bind(minutes_from_now as i32)
    .bind(status)
    .fetch_one(&app.db().system)
    .await
    .expect("consultation")
}

/// (status, minutes from now, move, who — `p`ractitioner or `e`mployee —, new status or error code)
type Case = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    Result<&'static str, &'static str>,
);

#[tokio::test]
async fn every_allowed_and_refused_transition() {
    let app = TestApp::spawn().await;
    let w = world(&app, 2, "Europe/Paris").await;
    let p = w.practitioner_token.clone();
    let e = w.employees[0].1.clone();
    // (status, minutes from now, move, who, expected outcome)
    let cases: &[Case] = &[
        ("SCHEDULED", 120, "confirm", "p", Ok("CONFIRMED")),
        ("SCHEDULED", 120, "accept", "p", Ok("CONFIRMED")),
        (
            "SCHEDULED",
            5,
            "start",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "SCHEDULED",
            120,
            "end",
            "p",
            Err("consultation.invalid_transition"),
        ),
        ("SCHEDULED", 120, "cancel", "e", Ok("CANCELLED")),
        ("SCHEDULED", 120, "cancel", "p", Ok("CANCELLED")),
        ("SCHEDULED", -10, "no-show", "p", Ok("NO_SHOW")),
        (
            "SCHEDULED",
            120,
            "no-show",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "CONFIRMED",
            120,
            "confirm",
            "p",
            Err("consultation.invalid_transition"),
        ),
        ("CONFIRMED", 10, "start", "p", Ok("IN_PROGRESS")),
        (
            "CONFIRMED",
            30,
            "start",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "CONFIRMED",
            120,
            "end",
            "p",
            Err("consultation.invalid_transition"),
        ),
        ("CONFIRMED", 120, "cancel", "e", Ok("CANCELLED")),
        ("CONFIRMED", -5, "no-show", "p", Ok("NO_SHOW")),
        (
            "IN_PROGRESS",
            0,
            "confirm",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "IN_PROGRESS",
            0,
            "start",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "IN_PROGRESS",
            0,
            "cancel",
            "e",
            Err("consultation.invalid_transition"),
        ),
        (
            "IN_PROGRESS",
            0,
            "no-show",
            "p",
            Err("consultation.invalid_transition"),
        ),
        ("IN_PROGRESS", 0, "end", "p", Ok("COMPLETED")),
        (
            "COMPLETED",
            -60,
            "cancel",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "COMPLETED",
            -60,
            "end",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "CANCELLED",
            60,
            "confirm",
            "p",
            Err("consultation.invalid_transition"),
        ),
        (
            "CANCELLED",
            60,
            "cancel",
            "e",
            Err("consultation.invalid_transition"),
        ),
        (
            "NO_SHOW",
            -60,
            "start",
            "p",
            Err("consultation.invalid_transition"),
        ),
    ];
    for (status, minutes, step, who, expected) in cases {
        let id = consultation(&app, &w, status, *minutes).await;
        let token = if *who == "p" { &p } else { &e };
        let method = if *step == "no-show" {
            Method::POST
        } else {
            Method::PUT
        };
        let response = app
            .call(
                method,
                &format!("/api/consultations/{id}/{step}"),
                Some(token),
                None,
            )
            .await;
        match expected {
            Ok(next) => {
                assert_eq!(
                    response.status,
                    StatusCode::OK,
                    "{status} {step}: {}",
                    response.body
                );
                assert_eq!(response.body["status"], *next, "{status} {step}");
                let events: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM consultation_events WHERE consultation_id = $1",
                )
                .bind(id)
                .fetch_one(&app.db().system)
                .await
                .expect("events");
                assert_eq!(events, 1, "{status} {step} wrote no event");
            }
            Err(code) => response.assert_problem(StatusCode::CONFLICT, code),
        }
        // Out of the way of the next case (only live consultations may not overlap).
        sqlx::query("UPDATE consultations SET status = 'CANCELLED' WHERE id = $1")
            .bind(id)
            .execute(&app.db().system)
            .await
            .expect("retire");
    }
    // The employee may not confirm; another employee does not see the consultation at all.
    let id = consultation(&app, &w, "SCHEDULED", 50_000).await;
    app.call(
        Method::PUT,
        &format!("/api/consultations/{id}/confirm"),
        Some(&e),
        None,
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    let stranger = &w.employees[1].1;
    for (method, path) in [
        (Method::GET, format!("/api/consultations/{id}")),
        (Method::PUT, format!("/api/consultations/{id}/cancel")),
        (Method::GET, format!("/api/consultations/{id}/room")),
        (Method::POST, format!("/api/consultations/{id}/events")),
    ] {
        let body = (method == Method::POST).then(|| json!({ "event": "ROOM_JOINED" }));
        app.call(method.clone(), &path, Some(stranger), body)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
    }
    let cancelled = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{id}/cancel"),
            Some(&e),
            Some(json!({ "reason": "sick" })),
        )
        .await;
    assert_eq!(cancelled.body["cancelReason"], "sick");
}

#[tokio::test]
async fn lists_attendance_webhook_and_outsiders() {
    let app = TestApp::spawn().await;
    let w = world(&app, 2, "Europe/Paris").await;
    let upcoming = consultation(&app, &w, "CONFIRMED", 60).await;
    let past = consultation(&app, &w, "COMPLETED", -3000).await;
    let e = &w.employees[0].1;
    let mine = app.get("/api/consultations/mine", Some(e)).await;
    assert_eq!(mine.body["total"], 2);
    assert_eq!(mine.body["items"][0]["practitioner"]["lastName"], "Martin");
    let up = app
        .get("/api/consultations/upcoming", Some(&w.practitioner_token))
        .await;
    assert_eq!(
        up.body["items"]
            .as_array()
            .map(|a| a.iter().map(|c| c["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(upcoming)])
    );
    assert_eq!(up.body["items"][0]["employee"]["firstName"], "Emp");
    let history = app
        .get(
            "/api/consultations/history?status=COMPLETED",
            Some(&w.practitioner_token),
        )
        .await;
    assert_eq!(history.body["items"][0]["id"], past.to_string());
    assert_eq!(
        app.get("/api/consultations/mine", Some(&w.employees[1].1))
            .await
            .body["total"],
        0
    );
    // `GET /api/consultations`: each participant's own, every status, latest first.
    let ids = |page: &serde_json::Value| {
        page["items"]
            .as_array()
            .map(|a| a.iter().map(|c| c["id"].clone()).collect::<Vec<_>>())
    };
    let everything = Some(vec![json!(upcoming), json!(past)]);
    assert_eq!(
        ids(&app.get("/api/consultations", Some(e)).await.body),
        everything
    );
    let practitioners = app
        .get("/api/consultations", Some(&w.practitioner_token))
        .await;
    assert_eq!(ids(&practitioners.body), everything);
    let completed = app
        .get(
            "/api/consultations?status=COMPLETED",
            Some(&w.practitioner_token),
        )
        .await;
    assert_eq!(ids(&completed.body), Some(vec![json!(past)]));
    assert_eq!(
        app.get("/api/consultations", Some(&w.employees[1].1))
            .await
            .body["total"],
        0
    );

    let joined = app
        .post(
            &format!("/api/consultations/{upcoming}/events"),
            Some(e),
            json!({ "event": "ROOM_JOINED" }),
        )
        .await;
    assert_eq!(joined.status, StatusCode::NO_CONTENT);
    app.post(
        &format!("/api/consultations/{upcoming}/events"),
        Some(e),
        json!({ "event": "ENDED" }),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    // HR and platform admins do not see consultations: 404, never content.
    let hr = app
        .create_user("hr@sched.test", Role::AdminRh, Some(w.company))
        .await;
    let _ = hr;
    let hr_token = app.login("hr@sched.test").await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@huntzen.test").await;
    for token in [&hr_token, &ops] {
        app.get(&format!("/api/consultations/{upcoming}"), Some(token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
    }

    // Jitsi's event_sync: secret checked, room mapped, Jitsi's timestamps kept.
    let room: String = sqlx::query_scalar(
        "UPDATE consultations SET room_name = 'hzroomtest' WHERE id = $1 RETURNING room_name",
    )
    .bind(upcoming)
    .fetch_one(&app.db().system)
    .await
    .expect("room");
    let employee_user: Uuid = sqlx::query_scalar("SELECT user_id FROM employees WHERE id = $1")
        .bind(w.employees[0].0)
        .fetch_one(&app.db().system)
        .await
        .expect("user");
    let payload = json!({ "event_name": "muc-occupant-joined", "room_name": room, "room_jid": format!("{room}@conference.meet.test"),
                          "is_breakout": false, "active_occupants_count": 1,
                          "occupant": { "id": employee_user, "name": "Emp", "email": "e0@sched.test", "occupant_jid": "x@meet.test/1", "joined_at": 1_800_000_000 } });
    let webhook = |path: &'static str, secret: &'static str, body: Value| {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {secret}"))
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        app.send(request)
    };
    webhook(
        "/api/webhooks/jitsi/events",
        "wrong-secret",
        payload.clone(),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "webhook.unauthorized");
    assert_eq!(
        webhook(
            "/api/webhooks/jitsi/events/occupant/joined",
            JITSI_WEBHOOK_SECRET,
            payload
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let created = json!({ "event_name": "muc-room-created", "room_name": "HZROOMTEST", "room_jid": "r@c", "created_at": 1_799_999_990 });
    assert_eq!(
        webhook("/api/webhooks/jitsi/events", JITSI_WEBHOOK_SECRET, created)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let unknown = json!({ "event_name": "muc-room-created", "room_name": "nope", "created_at": 1 });
    assert_eq!(
        webhook("/api/webhooks/jitsi/events", JITSI_WEBHOOK_SECRET, unknown)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let recorded: Vec<(String, Option<Uuid>, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT event_type::text, actor_id, timestamp, source FROM consultation_events WHERE consultation_id = $1 ORDER BY timestamp",
    )
    .bind(upcoming)
    .fetch_all(&app.db().system)
    .await
    .expect("events");
    let jitsi: Vec<_> = recorded.iter().filter(|r| r.3 == "jitsi").collect();
    assert_eq!(jitsi.len(), 2);
    assert_eq!(
        (jitsi[0].0.as_str(), jitsi[0].1, jitsi[0].2.timestamp()),
        ("ROOM_CREATED", None, 1_799_999_990)
    );
    assert_eq!(
        (jitsi[1].0.as_str(), jitsi[1].1, jitsi[1].2.timestamp()),
        ("ROOM_JOINED", Some(employee_user), 1_800_000_000)
    );
}

#[tokio::test]
async fn availability_validation() {
    let app = TestApp::spawn().await;
    let w = world(&app, 1, "Europe/Paris").await;
    let t = &w.practitioner_token;
    let base =
        json!({ "dayOfWeek": 2, "startTime": "09:00", "endTime": "12:00", "slotDuration": 50 });
    let first = app.post("/api/availability", Some(t), base.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let id = first.body["id"].as_str().expect("id").to_owned();
    let bad = [
        (
            json!({ "dayOfWeek": 2, "startTime": "11:00", "endTime": "13:00" }),
            "startTime",
        ),
        (
            json!({ "dayOfWeek": 2, "startTime": "14:00", "endTime": "13:00" }),
            "endTime",
        ),
        (
            json!({ "dayOfWeek": 7, "startTime": "14:00", "endTime": "16:00" }),
            "dayOfWeek",
        ),
        (
            json!({ "dayOfWeek": 3, "startTime": "14:00", "endTime": "16:00", "slotDuration": 5 }),
            "slotDuration",
        ),
        (
            json!({ "dayOfWeek": 3, "startTime": "9h", "endTime": "16:00" }),
            "startTime",
        ),
        (json!({ "isException": true }), "exceptionDate"),
    ];
    for (body, field) in bad {
        let response = app.post("/api/availability", Some(t), body.clone()).await;
        response.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
        assert_eq!(response.body["errors"][0]["field"], field, "{body}");
    }
    let moved = app
        .call(
            Method::PUT,
            &format!("/api/availability/{id}"),
            Some(t),
            Some(json!({ "dayOfWeek": 2, "startTime": "10:00", "endTime": "12:00" })),
        )
        .await;
    assert_eq!(
        moved.status,
        StatusCode::OK,
        "an update does not overlap itself: {}",
        moved.body
    );

    // An exception removes a day; a partial one removes only its hours.
    let tuesday =
        monday_on_or_after(Utc::now().date_naive() + Duration::days(3)) + Duration::days(1);
    let before = slots(&app, t, w.practitioner, tuesday, tuesday).await;
    assert_eq!(before.len(), 2, "{before:?}");
    let partial = app
        .post(
            "/api/availability",
            Some(t),
            json!({ "isException": true, "exceptionDate": tuesday, "startTime": "10:00", "endTime": "10:30" }),
        )
        .await;
    assert_eq!(partial.status, StatusCode::CREATED, "{}", partial.body);
    assert_eq!(
        slots(&app, t, w.practitioner, tuesday, tuesday).await.len(),
        1
    );
    app.post(
        "/api/availability",
        Some(t),
        json!({ "isException": true, "exceptionDate": tuesday }),
    )
    .await;
    assert!(
        slots(&app, t, w.practitioner, tuesday, tuesday)
            .await
            .is_empty()
    );
    let list = app.get("/api/practitioners/me/availability", Some(t)).await;
    assert_eq!(list.body["total"], 3);
    let too_long = app
        .get(
            &format!(
                "/api/practitioners/{}/availability?from=2027-01-01&to=2027-04-01",
                w.practitioner
            ),
            Some(t),
        )
        .await;
    too_long.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    // Minimum notice: with 3 days' notice nothing in the next two days is offered.
    app.call(
        Method::PUT,
        "/api/practitioners/me",
        Some(t),
        Some(json!({ "minimumNoticeMinutes": 4320 })),
    )
    .await;
    let today = Utc::now().date_naive();
    let soon = slots(&app, t, w.practitioner, today, today + Duration::days(10)).await;
    assert!(
        soon.iter()
            .all(|s| *s >= Utc::now() + Duration::minutes(4319)),
        "{soon:?}"
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/availability/{id}"),
            Some(t),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn notifications_reminders_and_isolation() {
    let app = TestApp::spawn().await;
    let w = world(&app, 2, "Europe/Paris").await;
    app.open_mornings(&w.practitioner_token).await;
    let e = &w.employees[0].1;
    let from = Utc::now().date_naive() + Duration::days(3);
    let slot = slots(&app, e, w.practitioner, from, from + Duration::days(2)).await[0];
    let booked = book(&app, e, w.practitioner, slot).await;
    let id: Uuid = booked.body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");

    // Reminders are queued for 24 h and 1 h before the start.
    let run_at: Vec<i64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at)::bigint FROM apalis.jobs WHERE job_type = 'reminders' ORDER BY run_at",
    )
    .fetch_all(&app.db().system)
    .await
    .expect("jobs");
    assert_eq!(
        run_at,
        [
            (slot - Duration::hours(24)).timestamp(),
            (slot - Duration::hours(1)).timestamp()
        ]
    );

    let practitioner_notes = app
        .get("/api/notifications", Some(&w.practitioner_token))
        .await;
    assert_eq!(practitioner_notes.body["total"], 1);
    assert_eq!(
        practitioner_notes.body["items"][0]["type"],
        "CONSULTATION_BOOKED"
    );
    assert_eq!(
        app.get("/api/notifications", Some(e)).await.body["total"],
        0,
        "the booker is not notified of their own booking"
    );
    let note_id = practitioner_notes.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (method, path) in [
        (Method::PUT, format!("/api/notifications/{note_id}/read")),
        (Method::DELETE, format!("/api/notifications/{note_id}")),
    ] {
        app.call(method, &path, Some(e), None)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "notification.not_found");
    }
    app.call(
        Method::PUT,
        &format!("/api/consultations/{id}/confirm"),
        Some(&w.practitioner_token),
        None,
    )
    .await;
    let mine = app.get("/api/notifications?unread=true", Some(e)).await;
    assert_eq!(mine.body["items"][0]["type"], "CONSULTATION_CONFIRMED");
    let read = app
        .call(Method::PUT, "/api/notifications/read-all", Some(e), None)
        .await;
    assert_eq!(read.body["updated"], 1);
    assert_eq!(
        app.get("/api/notifications?unread=true", Some(e))
            .await
            .body["total"],
        0
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/notifications/{note_id}"),
            Some(&w.practitioner_token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    // A due reminder runs through the real worker: a notification and a mail to each participant.
    let job = huntzen::infra::jobs::ReminderJob {
        consultation_id: id,
        scheduled_at: slot,
        hours_before: 1,
    };
    let task = apalis::prelude::TaskBuilder::new(serde_json::to_vec(&job).expect("job")).build();
    let mut conn = app.db().system.acquire().await.expect("conn");
    apalis_postgres::queries::push_tasks(
        &mut *conn,
        huntzen::infra::jobs::REMINDER_QUEUE,
        vec![task],
    )
    .await
    .expect("push");
    app.wait_for_mail("e0@sched.test", 1).await;
    let mail = app.wait_for_mail("doc@cabinet.test", 1).await;
    assert!(mail.subject.contains("Rappel"), "{}", mail.subject);
    // Crisis help is mentioned (issue 23, point 8), never the motive or content.
    assert!(mail.body.contains("3114"), "{}", mail.body);
    let reminders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE type = 'CONSULTATION_REMINDER'",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("count");
    assert_eq!(reminders, 2);
}

/// Free slots are for employees and the practitioner themself: HR and platform roles are refused,
/// another practitioner finds nothing (watching slots vanish would tell who booked when).
#[tokio::test]
async fn free_slots_are_for_employees_and_the_practitioner_themself() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("slots").await;
    app.seed_employee("eve@slots.test", company, "Eve").await;
    let doc = app.seed_practitioner("doc@slots.test", "Doc").await;
    app.seed_practitioner("rival@slots.test", "Rival").await;
    app.create_user("rh@slots.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("ops@slots.test", Role::AdminHuntzen, None)
        .await;
    app.create_user("root@slots.test", Role::SuperAdmin, None)
        .await;
    let paths = [
        format!("/api/practitioners/{doc}/availability"),
        format!("/api/availability/slots?practitionerId={doc}"),
    ];
    for path in &paths {
        for who in ["eve@slots.test", "doc@slots.test"] {
            let token = app.login(who).await;
            let answer = app.get(path, Some(&token)).await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{who} {path}: {}",
                answer.body
            );
        }
        for who in ["rh@slots.test", "ops@slots.test", "root@slots.test"] {
            let token = app.login(who).await;
            app.get(path, Some(&token))
                .await
                .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
        }
        let rival = app.login("rival@slots.test").await;
        app.get(path, Some(&rival))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "practitioner.not_found");
    }
}
