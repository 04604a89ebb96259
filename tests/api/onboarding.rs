//! The onboarding walk-through of `docs/onboarding.md`, as a new user would do it over HTTP,
//! plus the rules of companies, employees and practitioners.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huntzen::infra::identity::Role;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

/// A platform admin made with the command line's code, signed in.
pub async fn platform_admin(app: &TestApp) -> String {
    huntzen::app::cli::create_admin(app.db(), "ops@huntzen.test", Role::AdminHuntzen, PASSWORD)
        .await
        .expect("admin");
    app.login("ops@huntzen.test").await
}

/// Creates and validates a company through the API, follows the HR invitation; returns (company id, HR token).
pub async fn onboard_company(
    app: &TestApp,
    admin: &str,
    name: &str,
    domain: &str,
) -> (String, String) {
    let hr_email = format!("rh@{domain}");
    let created = app
        .post(
            "/api/companies",
            Some(admin),
            json!({ "name": name, "domain": domain, "sector": "Tech", "size": "MEDIUM", "autoApproveEmployees": true,
                    "hrAdmin": { "email": hr_email, "firstName": "Rita", "lastName": "Hache" } }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["isActive"], false);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let validated = app
        .call(
            Method::PUT,
            &format!("/api/companies/{id}/validate"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
    assert_eq!(validated.body["isActive"], true);

    let invitation = app.wait_for_mail(&hr_email, 1).await;
    assert!(invitation.body.contains("Rita"), "{}", invitation.body);
    let token = invitation.token("reset-password");
    let set = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    (id, app.login(&hr_email).await)
}

async fn import_csv(
    app: &TestApp,
    token: &str,
    csv: &str,
    query: &str,
) -> crate::helpers::TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/employees/import{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .body(Body::from(csv.to_owned()))
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn onboarding_walkthrough() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (company_id, hr) = onboard_company(&app, &admin, "Acme", "acme.test").await;
    let mine = app.get("/api/companies/me", Some(&hr)).await;
    assert_eq!(mine.body["id"], company_id.as_str());

    let csv = "\u{feff}prenom;nom;email;departement;poste\nMarc;Dupont;marc@acme.test;Ventes;Commercial\n\
               Léa;Durand;lea@acme.test;R&D;Ingénieure\nBad;Row;not-an-email;;\n";
    let dry = import_csv(&app, &hr, csv, "?dryRun=true").await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(
        (dry.body["created"].as_u64(), dry.body["dryRun"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(
        app.get("/api/employees", Some(&hr)).await.body["total"],
        0,
        "a dry run writes nothing"
    );

    let report = import_csv(&app, &hr, csv, "").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["created"], 2);
    assert_eq!(
        report.body["errors"],
        json!([{ "line": 4, "field": "email", "message": "must be a valid email address" }])
    );
    let again = import_csv(&app, &hr, csv, "").await;
    assert_eq!(
        (
            again.body["created"].as_u64(),
            again.body["unchanged"].as_u64()
        ),
        (Some(0), Some(2)),
        "idempotent"
    );
    let changed = import_csv(
        &app,
        &hr,
        "email,firstName,lastName,department\nmarc@acme.test,Marc,Dupont,Direction\n",
        "",
    )
    .await;
    assert_eq!(changed.body["updated"], 1);

    let employees = app
        .get("/api/employees?department=Direction", Some(&hr))
        .await;
    assert_eq!(employees.body["total"], 1, "{}", employees.body);
    assert_eq!(employees.body["items"][0]["email"], "marc@acme.test");

    let invitation = app.wait_for_mail("marc@acme.test", 1).await;
    let set = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": invitation.token("reset-password"), "password": PASSWORD }),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT);
    let marc = app.login("marc@acme.test").await;
    let me = app.get("/api/employees/me", Some(&marc)).await;
    assert_eq!(me.body["department"], "Direction");
    assert_eq!(
        me.body["emailVerified"], true,
        "following the invitation proves the address"
    );

    let registered = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "jeanne@cabinet.test", "password": PASSWORD, "role": "PRACTITIONER", "firstName": "Jeanne",
                    "lastName": "Martin", "title": "Dr.", "specialty": "PSYCHOLOGUE_CLINICIEN", "languages": ["fr", "en"],
                    "bio": "Thérapies cognitives et comportementales.", "offersInPerson": true }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::ACCEPTED,
        "{}",
        registered.body
    );
    let unproven = app
        .get("/api/admin-huntzen/practitioners/pending", Some(&admin))
        .await;
    assert_eq!(
        unproven.body["total"], 0,
        "an unverified sign-up waits for its mailbox"
    );
    let mail = app.wait_for_mail("jeanne@cabinet.test", 1).await;
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": mail.token("verify-email") }),
    )
    .await;
    let before = app.get("/api/practitioners?q=jeanne", Some(&marc)).await;
    assert_eq!(before.body["total"], 0, "not listed before validation");
    let pending = app
        .get("/api/admin-huntzen/practitioners/pending", Some(&admin))
        .await;
    assert_eq!(pending.body["total"], 1, "{}", pending.body);
    let practitioner_id = pending.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let validated = app
        .call(
            Method::POST,
            &format!("/api/admin-huntzen/practitioners/{practitioner_id}/validate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
    assert_eq!(validated.body["isValidated"], true);

    for query in [
        "q=jeanne",
        "specialty=PSYCHOLOGUE_CLINICIEN",
        "language=en",
        "format=IN_PERSON",
    ] {
        let found = app
            .get(&format!("/api/practitioners/search?{query}"), Some(&marc))
            .await;
        assert_eq!(found.body["total"], 1, "{query}: {}", found.body);
        assert_eq!(found.body["items"][0]["id"], practitioner_id.as_str());
        assert!(
            found.body["items"][0].get("email").is_none(),
            "the directory shows no email"
        );
    }
    let none = app
        .get("/api/practitioners?specialty=PSYCHIATRE", Some(&marc))
        .await;
    assert_eq!(none.body["total"], 0);
    let profile = app
        .get(
            &format!("/api/practitioners/{practitioner_id}"),
            Some(&marc),
        )
        .await;
    assert_eq!(profile.body["lastName"], "Martin");
}

#[tokio::test]
async fn company_rules() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (id, hr) = onboard_company(&app, &admin, "Globex", "globex.test").await;
    let duplicate = app
        .post(
            "/api/admin-huntzen/companies",
            Some(&admin),
            json!({ "name": "Globex 2", "domain": "GLOBEX.test",
              "hrAdmin": { "email": "other@globex.test", "firstName": "A", "lastName": "B" } }),
        )
        .await;
    duplicate.assert_problem(StatusCode::CONFLICT, "company.domain_taken");
    let invalid = app
        .post(
            "/api/companies",
            Some(&admin),
            json!({ "name": "", "hrAdmin": { "email": "x", "firstName": "", "lastName": "B" } }),
        )
        .await;
    invalid.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    let renamed = app
        .call(
            Method::PUT,
            "/api/companies/me",
            Some(&hr),
            Some(json!({ "name": "Globex Corp", "primaryColor": "#112233" })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Globex Corp");
    let domain = app
        .call(
            Method::PUT,
            &format!("/api/companies/{id}"),
            Some(&hr),
            Some(json!({ "domain": "evil.test" })),
        )
        .await;
    domain.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    app.call(
        Method::PUT,
        &format!("/api/companies/{id}"),
        Some(&hr),
        Some(json!({ "isActive": false })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    let listed = app.get("/api/companies?q=globex", Some(&admin)).await;
    assert_eq!(listed.body["total"], 1);
    let wildcard = app.get("/api/companies?q=%25", Some(&admin)).await;
    assert_eq!(
        wildcard.body["total"], 0,
        "a % in the search is a literal, not a wildcard"
    );
    // A platform admin suspends the company: its HR admin is refused at once, then reactivated.
    let suspended = app
        .call(
            Method::PUT,
            &format!("/api/companies/{id}"),
            Some(&admin),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    assert_eq!(suspended.body["isActive"], false);
    app.get("/api/companies/me", Some(&hr))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    let sign_in = json!({ "email": "rh@globex.test", "password": PASSWORD });
    app.post("/api/auth/login", None, sign_in.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.account_disabled");
    let reactivated = app
        .call(
            Method::PUT,
            &format!("/api/companies/{id}"),
            Some(&admin),
            Some(json!({ "isActive": true })),
        )
        .await;
    assert_eq!(reactivated.body["isActive"], true, "{}", reactivated.body);
    let hr = app.post("/api/auth/login", None, sign_in).await;
    assert_eq!(hr.status, StatusCode::OK, "{}", hr.body);
    let hr = hr.body["accessToken"].as_str().expect("token").to_owned();

    let listed = app.get("/api/companies?limit=100", Some(&admin)).await;
    assert!(
        listed.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|c| c["id"] == id),
        "listed before its deletion"
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/companies/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // Regression: a deleted company leaves both company lists (docs/decisions.md).
    for list in ["/api/companies", "/api/super-admin/companies"] {
        let caller = if list.starts_with("/api/super-admin") {
            let _ = app
                .create_user("root@platform.test", Role::SuperAdmin, None)
                .await;
            app.login("root@platform.test").await
        } else {
            admin.clone()
        };
        let page = app.get(&format!("{list}?limit=100"), Some(&caller)).await;
        assert_eq!(page.status, StatusCode::OK, "{list}: {}", page.body);
        assert!(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|c| c["id"] != id),
            "{list} still lists the deleted company"
        );
    }
    app.get("/api/companies/me", Some(&hr))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    let hr_again = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "rh@globex.test", "password": PASSWORD }),
        )
        .await;
    hr_again.assert_problem(StatusCode::UNAUTHORIZED, "auth.account_disabled");
}

#[tokio::test]
async fn employee_management_and_own_profile() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (_, hr) = onboard_company(&app, &admin, "Initech", "initech.test").await;
    let created = app
        .post(
            "/api/employees",
            Some(&hr),
            json!({ "email": "Peter@Initech.test", "firstName": "Peter", "lastName": "Gibbons", "department": "IT" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["status"], "ACTIVE");
    app.post(
        "/api/employees",
        Some(&hr),
        json!({ "email": "peter@initech.test", "firstName": "P", "lastName": "G" }),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "user.email_taken");

    let invitation = app.wait_for_mail("peter@initech.test", 1).await;
    app.post(
        "/api/auth/reset-password",
        None,
        json!({ "token": invitation.token("reset-password"), "password": PASSWORD }),
    )
    .await;
    let peter = app.login("peter@initech.test").await;

    // Profile fields only: account fields are refused, never applied.
    for forbidden in [
        json!({ "role": "ADMIN_RH" }),
        json!({ "companyId": id }),
        json!({ "email": "x@y.test" }),
        json!({ "status": "ACTIVE" }),
    ] {
        let refused = app
            .call(
                Method::PUT,
                "/api/employees/me",
                Some(&peter),
                Some(forbidden.clone()),
            )
            .await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    }
    let updated = app
        .call(
            Method::PUT,
            "/api/employees/me",
            Some(&peter),
            Some(json!({ "bio": "TPS reports", "locale": "en" })),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(
        (
            updated.body["bio"].as_str(),
            updated.body["locale"].as_str()
        ),
        (Some("TPS reports"), Some("en"))
    );
    let me = app.get("/api/me", Some(&peter)).await;
    assert_eq!(me.body["role"], "EMPLOYEE");

    let search = app
        .get("/api/employees?q=gibb&status=ACTIVE", Some(&hr))
        .await;
    assert_eq!(search.body["total"], 1);
    let deactivated = app
        .call(
            Method::PUT,
            &format!("/api/employees/{id}/deactivate"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(deactivated.body["status"], "INACTIVE");
    app.get("/api/employees/me", Some(&peter))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    let reactivated = app
        .call(
            Method::PUT,
            &format!("/api/employees/{id}/activate"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(reactivated.body["status"], "ACTIVE");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/employees/{id}"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/employees", Some(&hr)).await.body["total"], 0);
    assert_eq!(
        app.get("/api/employees?status=REMOVED", Some(&hr))
            .await
            .body["total"],
        1
    );

    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE resource = 'employee'")
            .fetch_one(&app.db().system)
            .await
            .expect("audit");
    assert!(audited >= 4, "HR actions are audited ({audited})");
}

#[tokio::test]
async fn self_registered_employees_wait_for_hr_when_required() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (id, hr) = onboard_company(&app, &admin, "Umbrella", "umbrella.test").await;
    app.call(
        Method::PUT,
        &format!("/api/companies/{id}"),
        Some(&hr),
        Some(json!({ "autoApproveEmployees": false })),
    )
    .await;
    let signup = json!({ "email": "alice@umbrella.test", "password": PASSWORD, "role": "EMPLOYEE", "firstName": "Alice", "lastName": "A" });
    let registered = app.post("/api/auth/register", None, signup).await;
    assert_eq!(registered.status, StatusCode::ACCEPTED);
    let mail = app.wait_for_mail("alice@umbrella.test", 1).await;
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": mail.token("verify-email") }),
    )
    .await;
    let pending = app.get("/api/employees?status=PENDING", Some(&hr)).await;
    assert_eq!(pending.body["total"], 1);
    let employee_id = pending.body["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.call(
        Method::PUT,
        &format!("/api/employees/{employee_id}/activate"),
        Some(&hr),
        None,
    )
    .await;
    app.login("alice@umbrella.test").await;
}

#[tokio::test]
async fn practitioner_profile_and_settings() {
    let app = TestApp::spawn().await;
    let registered: Value = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "paul@cabinet.test", "password": PASSWORD, "role": "PRACTITIONER", "firstName": "Paul",
                    "lastName": "Petit", "title": "M.", "specialty": "COACH_MENTAL", "languages": ["fr"], "bio": "Coach." }),
        )
        .await
        .body;
    assert_eq!(registered["status"], "verification_sent");
    let mail = app.wait_for_mail("paul@cabinet.test", 1).await;
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": mail.token("verify-email") }),
    )
    .await;
    let paul = app.login("paul@cabinet.test").await;
    let me = app.get("/api/practitioners/me", Some(&paul)).await;
    assert_eq!(
        (
            me.body["minimumNoticeMinutes"].as_i64(),
            me.body["isValidated"].as_bool()
        ),
        (Some(60), Some(false))
    );
    let updated = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&paul),
            Some(json!({ "minimumNoticeMinutes": 120, "bookingHorizonDays": 30, "timeZone": "America/Montreal" })),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["timeZone"], "America/Montreal");
    let bad = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&paul),
            Some(json!({ "timeZone": "Mars/Olympus" })),
        )
        .await;
    assert_eq!(bad.body["errors"][0]["field"], "timeZone");
    app.call(
        Method::PUT,
        "/api/practitioners/me",
        Some(&paul),
        Some(json!({ "isValidated": true })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    let own = app
        .get(
            &format!("/api/practitioners/{}", me.body["id"].as_str().expect("id")),
            Some(&paul),
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "a practitioner sees their own unlisted profile"
    );
}

#[tokio::test]
async fn imports_over_the_limits_are_refused() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (_, hr) = onboard_company(&app, &admin, "Big", "big.test").await;
    let mut big = String::from("email,firstName,lastName\n");
    while big.len() <= huntzen::people::employees::import::MAX_BYTES {
        big.push_str("someone.with.a.long.address@big.test,Firstname,Lastname\n");
    }
    import_csv(&app, &hr, &big, "")
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large");
    let mut many = String::from("email,firstName,lastName\n");
    for i in 0..=huntzen::people::employees::import::MAX_ROWS {
        many.push_str(&format!("u{i}@big.test,A,B\n"));
    }
    import_csv(&app, &hr, &many, "")
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large");
    let json = app
        .post("/api/employees/import", Some(&hr), json!({}))
        .await;
    json.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.unsupported_media_type",
    );
    let missing = import_csv(&app, &hr, "mail;nom\nx@big.test;Y\n", "").await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(app.get("/api/employees", Some(&hr)).await.body["total"], 0);
}

#[tokio::test]
async fn import_accepts_a_multipart_file_field() {
    let app = TestApp::spawn().await;
    let admin = platform_admin(&app).await;
    let (_, hr) = onboard_company(&app, &admin, "Parts", "parts.test").await;
    let body = "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"staff.csv\"\r\n\
                Content-Type: text/csv\r\n\r\nemail,firstName,lastName\nzoe@parts.test,Zoé,Zed\n\r\n--XBOUNDARY--\r\n";
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/employees/import")
        .header(header::AUTHORIZATION, format!("Bearer {hr}"))
        .header(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=XBOUNDARY",
        )
        .body(Body::from(body))
        .expect("request");
    let report = app.send(request).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["created"], 1);
    assert_eq!(
        app.get("/api/employees?q=zoé", Some(&hr)).await.body["total"],
        1
    );
}
