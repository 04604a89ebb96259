//! Account safety (issue 18): a stolen access token cannot take an account over (step-up on every
//! change of credentials), self-service password, email and logins, registrations that grant
//! nothing before the mailbox is proven, throttling that never keeps the owner out, suspension by
//! exactly the right admin, and admins managed over the API.

use axum::http::{Method, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, TestResponse};

const NEW_PASSWORD: &str = "a quite different passphrase 2027";

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_one(&app.db().system)
        .await
        .expect("user")
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post(
        "/api/auth/login",
        None,
        json!({ "email": email, "password": password }),
    )
    .await
}

fn token_of(response: &TestResponse) -> String {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

fn code_of(secret: &str) -> String {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("secret"))
        .build()
        .expect("totp")
        .generate_current()
        .to_string()
}

/// Turns 2FA on for the holder of `access`; returns the secret and the recovery codes.
async fn enable_two_factor(app: &TestApp, access: &str) -> (String, Vec<String>) {
    let setup = app
        .post(
            "/api/auth/2fa/setup",
            Some(access),
            json!({ "currentPassword": PASSWORD }),
        )
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let secret = setup.body["secret"].as_str().expect("secret").to_owned();
    let verified = app
        .post(
            "/api/auth/2fa/verify",
            Some(access),
            json!({ "code": code_of(&secret) }),
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let codes = verified.body["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (secret, codes)
}

#[tokio::test]
async fn a_bare_token_cannot_enrol_2fa_change_credentials_or_erase() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("acme").await;
    app.seed_employee("emma@acme.test", company, "Emma").await;
    let stolen = app.login("emma@acme.test").await;
    let wrong = json!({ "currentPassword": "an attacker's guess" });
    for (method, path, body) in [
        (Method::POST, "/api/auth/2fa/setup", None),
        (Method::POST, "/api/auth/2fa/setup", Some(wrong.clone())),
        (
            Method::PUT,
            "/api/me/password",
            Some(json!({ "newPassword": NEW_PASSWORD })),
        ),
        (
            Method::PUT,
            "/api/me/email",
            Some(json!({ "newEmail": "thief@acme.test", "currentPassword": "guess" })),
        ),
        (Method::DELETE, "/api/me", None),
        (Method::DELETE, "/api/me", Some(wrong.clone())),
    ] {
        app.call(method.clone(), path, Some(&stolen), body)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
    }
    // Nothing changed: the password, the address, the account, 2FA.
    let row: (String, bool, bool, Option<String>) = sqlx::query_as(
        "SELECT email, totp_secret IS NOT NULL, erased_at IS NOT NULL, pending_email FROM users WHERE lower(email) = 'emma@acme.test'",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("user");
    assert_eq!(row, ("emma@acme.test".to_owned(), false, false, None));
    token_of(&sign_in(&app, "emma@acme.test", PASSWORD).await);
}

#[tokio::test]
async fn the_owner_changes_password_and_email_and_ends_other_logins() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("acme").await;
    sqlx::query("UPDATE companies SET domains = '{acme.test,acme-group.test}' WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("domains");
    app.seed_employee("emma@acme.test", company, "Emma").await;
    let phone = app.login("emma@acme.test").await;
    let laptop = app.login("emma@acme.test").await;

    let sessions = app.get("/api/me/sessions", Some(&laptop)).await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.body);
    let items = sessions.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{}", sessions.body);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    for field in ["id", "userAgent", "ip", "createdAt", "lastUsedAt"] {
        assert!(items[0].get(field).is_some(), "{field} missing");
    }

    let weak = app
        .call(
            Method::PUT,
            "/api/me/password",
            Some(&laptop),
            Some(json!({ "currentPassword": PASSWORD, "newPassword": "short" })),
        )
        .await;
    weak.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(weak.body["errors"][0]["field"], "newPassword");
    let changed = app
        .call(
            Method::PUT,
            "/api/me/password",
            Some(&laptop),
            Some(json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    app.get("/api/me", Some(&phone))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    assert_eq!(
        app.get("/api/me", Some(&laptop)).await.status,
        StatusCode::OK
    );
    sign_in(&app, "emma@acme.test", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    token_of(&sign_in(&app, "emma@acme.test", NEW_PASSWORD).await);
    let notice = app.wait_for_mail("emma@acme.test", 1).await;
    assert!(!notice.body.contains(NEW_PASSWORD), "no secret in mail");

    // An employee's new address stays in the company's domains.
    app.call(
        Method::PUT,
        "/api/me/email",
        Some(&laptop),
        Some(json!({ "currentPassword": NEW_PASSWORD, "newEmail": "emma@gmail.test" })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    let asked = app
        .call(
            Method::PUT,
            "/api/me/email",
            Some(&laptop),
            Some(json!({ "currentPassword": NEW_PASSWORD, "newEmail": "Emma@Acme-Group.test" })),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["status"], "confirmation_sent");
    let told = app.wait_for_mail("emma@acme.test", 2).await;
    assert!(told.subject.contains("adresse"), "{}", told.subject);
    // Until the new address confirms, the old one signs in.
    token_of(&sign_in(&app, "emma@acme.test", NEW_PASSWORD).await);
    let confirm = app.wait_for_mail("emma@acme-group.test", 1).await;
    let done = app
        .post(
            "/api/auth/verify-email",
            None,
            json!({ "token": confirm.token("verify-email") }),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    sign_in(&app, "emma@acme.test", NEW_PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    let me = app
        .get(
            "/api/me",
            Some(&token_of(
                &sign_in(&app, "emma@acme-group.test", NEW_PASSWORD).await,
            )),
        )
        .await;
    assert_eq!(me.body["email"], "emma@acme-group.test");
}

#[tokio::test]
async fn logins_are_ended_one_by_one_or_all_but_this_one() {
    let app = TestApp::spawn().await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    app.create_user("other@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let first = app.login("ops@huntzen.test").await;
    let second = app.login("ops@huntzen.test").await;
    let third = app.login("ops@huntzen.test").await;
    let others = app.login("other@huntzen.test").await;
    let ids = |response: TestResponse| -> Vec<(String, bool)> {
        response.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().expect("id").to_owned(),
                    s["current"] == true,
                )
            })
            .collect()
    };
    let listed = ids(app.get("/api/me/sessions", Some(&first)).await);
    let other_session = ids(app.get("/api/me/sessions", Some(&others)).await)[0]
        .0
        .clone();
    // Another person's login is not ours to end.
    app.call(
        Method::DELETE,
        &format!("/api/me/sessions/{other_session}"),
        Some(&first),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "session.not_found");
    assert_eq!(
        app.get("/api/me", Some(&others)).await.status,
        StatusCode::OK
    );
    // End the second login by its id: found by listing from it.
    let second_id = ids(app.get("/api/me/sessions", Some(&second)).await)
        .into_iter()
        .find(|(_, current)| *current)
        .expect("current")
        .0;
    assert!(listed.iter().any(|(id, _)| *id == second_id));
    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/me/sessions/{second_id}"),
            Some(&first),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    app.get("/api/me", Some(&second))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    // Sign out everywhere else.
    let all = app
        .call(Method::DELETE, "/api/me/sessions", Some(&first), None)
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT, "{}", all.body);
    app.get("/api/me", Some(&third))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    assert_eq!(
        app.get("/api/me", Some(&first)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        ids(app.get("/api/me/sessions", Some(&first)).await).len(),
        1
    );
}

fn signup(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD, "role": "EMPLOYEE", "firstName": "Marc", "lastName": "Dupont" })
}

#[tokio::test]
async fn register_answers_alike_grants_nothing_and_yields_to_an_invitation() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("acme").await;
    sqlx::query("UPDATE companies SET auto_approve_employees = true WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("auto approve");
    app.seed_employee("known@acme.test", company, "Known").await;
    let hr = app
        .create_user("hr@acme.test", Role::AdminRh, Some(company))
        .await;
    let _ = hr;

    let new = app
        .post("/api/auth/register", None, signup("squat@acme.test"))
        .await;
    let taken = app
        .post("/api/auth/register", None, signup("known@acme.test"))
        .await;
    let stranger = app
        .post("/api/auth/register", None, signup("who@nowhere.test"))
        .await;
    for response in [&new, &taken, &stranger] {
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        assert_eq!(response.body, json!({ "status": "verification_sent" }));
    }
    // Each mailbox learns what happened, and only it.
    let link = app.wait_for_mail("squat@acme.test", 1).await;
    link.token("verify-email");
    let known = app.wait_for_mail("known@acme.test", 1).await;
    assert!(!known.body.contains("verify-email"), "{}", known.body);
    app.wait_for_mail("who@nowhere.test", 1).await;

    // The unverified registration grants nothing: no login, no news, no booking.
    sign_in(&app, "squat@acme.test", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.email_unverified");
    // HR invites the real owner of the address: the squatted registration gives way.
    let hr_token = app.login("hr@acme.test").await;
    let invited = app
        .post(
            "/api/employees",
            Some(&hr_token),
            json!({ "email": "squat@acme.test", "firstName": "Real", "lastName": "Owner" }),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    sign_in(&app, "squat@acme.test", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    // The squatter's old link no longer works; the invitation does.
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": link.token("verify-email") }),
    )
    .await
    .assert_problem(StatusCode::BAD_REQUEST, "auth.token_invalid");
    let invitation = app.wait_for_mail("squat@acme.test", 2).await;
    let set = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": invitation.token("reset-password"), "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    token_of(&sign_in(&app, "squat@acme.test", NEW_PASSWORD).await);
}

#[tokio::test]
async fn registrations_are_limited_per_address_and_per_domain() {
    let app = TestApp::spawn().await;
    app.seed_company("acme").await;
    let mut limited = None;
    for i in 0..15 {
        let response = app
            .post_from(
                "198.51.100.9",
                "/api/auth/register",
                signup(&format!("person{i}@acme.test")),
            )
            .await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, response));
            break;
        }
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    }
    let (at, response) = limited.expect("one address is limited");
    assert_eq!(
        at, 10,
        "the eleventh registration from one address is refused"
    );
    assert!(response.headers.get("retry-after").is_some());
    response.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Per domain, from many addresses.
    let mut domain_limited = false;
    for i in 0..60 {
        let response = app
            .post_from(
                &format!("198.51.{}.{}", 101 + i / 200, i % 200),
                "/api/auth/register",
                signup(&format!("many{i}@crowd.test")),
            )
            .await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            domain_limited = true;
            assert!(i >= 50, "limited too early ({i})");
            break;
        }
    }
    assert!(domain_limited, "one domain is limited");
}

#[tokio::test]
async fn the_owner_always_gets_in_during_a_wrong_password_storm() {
    let app = TestApp::spawn().await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    app.create_user("plain@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let access = app.login("root@huntzen.test").await;
    let (secret, recovery) = enable_two_factor(&app, &access).await;
    // Let the TOTP step used to enable 2FA pass (a code never works twice).
    sqlx::query("UPDATE users SET totp_last_step = totp_last_step - 1")
        .execute(&app.db().system)
        .await
        .expect("step");
    for email in ["root@huntzen.test", "plain@huntzen.test"] {
        for i in 0..30 {
            app.post_from(
                &format!("10.66.{}.{}", i / 100, i % 100),
                "/api/auth/login",
                json!({ "email": email, "password": "storm storm storm" }),
            )
            .await;
        }
    }
    let from_home = |body: Value| app.post_from("192.0.2.44", "/api/auth/login", body);
    // Right password alone: slowed, like everyone.
    from_home(json!({ "email": "root@huntzen.test", "password": PASSWORD }))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // A wrong password with a code is refused too.
    from_home(json!({ "email": "root@huntzen.test", "password": "storm storm storm", "totpCode": recovery[0] }))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // The right password with a recovery code gets in, from any address.
    token_of(
        &from_home(
            json!({ "email": "root@huntzen.test", "password": PASSWORD, "totpCode": recovery[1] }),
        )
        .await,
    );
    // …and with a TOTP code, from the storm's own address.
    token_of(
        &app.post_from(
            "10.66.0.1",
            "/api/auth/login",
            json!({ "email": "root@huntzen.test", "password": PASSWORD, "totpCode": code_of(&secret) }),
        )
        .await,
    );

    // Without 2FA, the owner is mailed an unlock link (once per window) that lets them in.
    from_home(json!({ "email": "plain@huntzen.test", "password": PASSWORD }))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let mail = app.wait_for_mail("plain@huntzen.test", 1).await;
    let unlock = mail.token("unlock");
    from_home(json!({ "email": "plain@huntzen.test", "password": "storm storm storm", "unlockToken": unlock }))
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    token_of(
        &from_home(
            json!({ "email": "plain@huntzen.test", "password": PASSWORD, "unlockToken": unlock }),
        )
        .await,
    );
    // The link works once.
    from_home(
        json!({ "email": "plain@huntzen.test", "password": PASSWORD, "unlockToken": unlock }),
    )
    .await
    .assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let unlock_mails = app
        .outbox()
        .into_iter()
        .filter(|m| m.to.contains("plain@huntzen.test"))
        .count();
    assert_eq!(unlock_mails, 1, "one unlock mail per window");
}

struct World {
    hr: String,
    other_hr: String,
    ops: String,
    root: String,
    employee: Uuid,
    outsider: Uuid,
    practitioner: Uuid,
    hr_user: Uuid,
    ops_user: Uuid,
    root2: Uuid,
}

async fn world(app: &TestApp) -> World {
    let acme = app.seed_company("acme").await;
    let globex = app.seed_company("globex").await;
    app.seed_employee("emma@acme.test", acme, "Emma").await;
    app.seed_employee("otto@globex.test", globex, "Otto").await;
    app.seed_practitioner("paula@cabinet.test", "Paula").await;
    app.create_user("hr@acme.test", Role::AdminRh, Some(acme))
        .await;
    app.create_user("hr@globex.test", Role::AdminRh, Some(globex))
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    app.create_user("root2@huntzen.test", Role::SuperAdmin, None)
        .await;
    World {
        hr: app.login("hr@acme.test").await,
        other_hr: app.login("hr@globex.test").await,
        ops: app.login("ops@huntzen.test").await,
        root: app.login("root@huntzen.test").await,
        employee: user_id(app, "emma@acme.test").await,
        outsider: user_id(app, "otto@globex.test").await,
        practitioner: user_id(app, "paula@cabinet.test").await,
        hr_user: user_id(app, "hr@acme.test").await,
        ops_user: user_id(app, "ops@huntzen.test").await,
        root2: user_id(app, "root2@huntzen.test").await,
    }
}

async fn suspend(app: &TestApp, actor: &str, target: Uuid) -> TestResponse {
    app.post(
        &format!("/api/accounts/{target}/suspend"),
        Some(actor),
        json!({ "reason": "contract ended", "currentPassword": PASSWORD }),
    )
    .await
}

async fn reactivate(app: &TestApp, actor: &str, target: Uuid) -> TestResponse {
    app.post(
        &format!("/api/accounts/{target}/reactivate"),
        Some(actor),
        json!({ "currentPassword": PASSWORD }),
    )
    .await
}

#[tokio::test]
async fn each_kind_of_account_is_suspended_and_reactivated_by_exactly_the_right_admin() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let employee_token = app.login("emma@acme.test").await;
    // (kind, target, its email, the email of the one admin who may act on it)
    let cases = [
        ("employee", w.employee, "emma@acme.test", "hr@acme.test"),
        (
            "practitioner",
            w.practitioner,
            "paula@cabinet.test",
            "ops@huntzen.test",
        ),
        ("hr admin", w.hr_user, "hr@acme.test", "ops@huntzen.test"),
        (
            "platform admin",
            w.ops_user,
            "ops@huntzen.test",
            "root@huntzen.test",
        ),
        (
            "super admin",
            w.root2,
            "root2@huntzen.test",
            "root@huntzen.test",
        ),
    ];
    let everyone = [
        ("hr@acme.test", &w.hr),
        ("hr@globex.test", &w.other_hr),
        ("ops@huntzen.test", &w.ops),
        ("root@huntzen.test", &w.root),
        ("emma@acme.test", &employee_token),
    ];
    // Everyone else gets 404 and nothing changes.
    for (kind, target, email, right) in cases {
        for (actor, token) in everyone.iter().filter(|(a, _)| *a != right && *a != email) {
            let response = suspend(&app, token, target).await;
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{kind} suspended by {actor}: {}",
                response.body
            );
        }
    }
    for (kind, target, email, right) in cases {
        let right = app.login(right).await;
        let token = token_of(&sign_in(&app, email, PASSWORD).await);
        // The right admin without step-up changes nothing.
        app.post(
            &format!("/api/accounts/{target}/suspend"),
            Some(&right),
            json!({ "reason": "contract ended" }),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
        assert_eq!(
            app.get("/api/me", Some(&token)).await.status,
            StatusCode::OK
        );
        // With it: immediate, the next request is refused, sign-in too.
        let suspended = suspend(&app, &right, target).await;
        assert_eq!(
            suspended.status,
            StatusCode::OK,
            "{kind}: {}",
            suspended.body
        );
        assert_eq!(suspended.body["isActive"], false);
        assert!(suspended.body["suspendedAt"].is_string());
        app.get("/api/me", Some(&token))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
        sign_in(&app, email, PASSWORD)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "auth.account_disabled");
        suspend(&app, &right, target)
            .await
            .assert_problem(StatusCode::CONFLICT, "user.already_suspended");
        let back = reactivate(&app, &right, target).await;
        assert_eq!(back.status, StatusCode::OK, "{kind}: {}", back.body);
        assert_eq!(back.body["isActive"], true);
        token_of(&sign_in(&app, email, PASSWORD).await);
    }
    let w = World {
        hr: app.login("hr@acme.test").await,
        root: app.login("root@huntzen.test").await,
        ..w
    };
    // HR of one company cannot reach another's employee.
    assert_eq!(
        suspend(&app, &w.hr, w.outsider).await.status,
        StatusCode::NOT_FOUND
    );
    // Nobody suspends themself.
    let root = user_id(&app, "root@huntzen.test").await;
    suspend(&app, &w.root, root)
        .await
        .assert_problem(StatusCode::CONFLICT, "user.self_suspension");
    // A suspension needs a reason, and every act is audited with actor and reason.
    let missing = app
        .post(
            &format!("/api/accounts/{}/suspend", w.employee),
            Some(&w.hr),
            json!({ "currentPassword": PASSWORD }),
        )
        .await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    let audited: Vec<(Option<Uuid>, Value)> = sqlx::query_as(
        "SELECT user_id, details FROM audit_logs WHERE resource = 'user' AND resource_id = $1 AND details->>'event' IN ('account_suspended', 'account_reactivated') ORDER BY created_at",
    )
    .bind(w.employee.to_string())
    .fetch_all(&app.db().system)
    .await
    .expect("audit");
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert_eq!(audited[0].0, Some(w.hr_user));
    assert_eq!(audited[0].1["reason"], "contract ended");
}

#[tokio::test]
async fn hr_admins_and_platform_admins_are_managed_over_the_api() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let acme: Uuid = sqlx::query_scalar("SELECT id FROM companies WHERE slug = 'acme'")
        .fetch_one(&app.db().system)
        .await
        .expect("acme");
    let added = app
        .post(
            &format!("/api/companies/{acme}/hr-admins"),
            Some(&w.ops),
            json!({ "email": "second.hr@acme.test", "firstName": "Sam", "lastName": "Second" }),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["role"], "ADMIN_RH");
    let invitation = app.wait_for_mail("second.hr@acme.test", 1).await;
    invitation.token("reset-password");
    let listed = app
        .get(&format!("/api/companies/{acme}/hr-admins"), Some(&w.ops))
        .await;
    assert_eq!(listed.body["total"], 2, "{}", listed.body);
    assert_eq!(
        app.get(&format!("/api/companies/{acme}/hr-admins"), Some(&w.hr))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let second = added.body["id"].as_str().expect("id").to_owned();
    async fn remove_from(
        app: &TestApp,
        acme: Uuid,
        ops: &str,
        user: String,
        body: Value,
    ) -> TestResponse {
        app.call(
            Method::DELETE,
            &format!("/api/companies/{acme}/hr-admins/{user}"),
            Some(ops),
            Some(body),
        )
        .await
    }
    let remove = |user: String, body: Value| remove_from(&app, acme, &w.ops, user, body);
    remove(w.hr_user.to_string(), json!({}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
    let removed = remove(
        w.hr_user.to_string(),
        json!({ "currentPassword": PASSWORD, "reason": "left the company" }),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    app.get("/api/companies/me", Some(&w.hr))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    // The replacement is the last one: it stays.
    remove(second, json!({ "currentPassword": PASSWORD }))
        .await
        .assert_problem(StatusCode::CONFLICT, "company.last_hr_admin");

    // Platform admins: a SUPER_ADMIN creates them over the API, with step-up.
    let new_admin = json!({ "email": "new.ops@huntzen.test", "role": "ADMIN_HUNTZEN", "firstName": "N", "lastName": "O" });
    app.post("/api/super-admin/admins", Some(&w.root), new_admin.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
    assert_eq!(
        app.post("/api/super-admin/admins", Some(&w.ops), new_admin.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mut confirmed = new_admin.clone();
    confirmed["currentPassword"] = json!(PASSWORD);
    let created = app
        .post("/api/super-admin/admins", Some(&w.root), confirmed.clone())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    app.wait_for_mail("new.ops@huntzen.test", 1).await;
    let mut employee_role = confirmed.clone();
    employee_role["email"] = json!("x@huntzen.test");
    employee_role["role"] = json!("EMPLOYEE");
    app.post("/api/super-admin/admins", Some(&w.root), employee_role)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    let admins = app.get("/api/super-admin/admins", Some(&w.root)).await;
    assert_eq!(admins.body["total"], 4, "{}", admins.body);
}

#[tokio::test]
async fn hr_creates_and_imports_only_in_its_domains_and_dry_runs_are_audited() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("acme").await;
    sqlx::query("UPDATE companies SET domains = '{acme.test,acme.fr}' WHERE id = $1")
        .bind(acme)
        .execute(&app.db().system)
        .await
        .expect("domains");
    app.create_user("hr@acme.test", Role::AdminRh, Some(acme))
        .await;
    let hr = app.login("hr@acme.test").await;
    let outside = app
        .post(
            "/api/employees",
            Some(&hr),
            json!({ "email": "someone@gmail.test", "firstName": "S", "lastName": "O" }),
        )
        .await;
    outside.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(outside.body["errors"][0]["field"], "email");
    let second_domain = app
        .post(
            "/api/employees",
            Some(&hr),
            json!({ "email": "lea@acme.fr", "firstName": "Léa", "lastName": "F" }),
        )
        .await;
    assert_eq!(
        second_domain.status,
        StatusCode::CREATED,
        "{}",
        second_domain.body
    );

    let csv = "email,firstName,lastName\nanna@acme.test,Anna,A\nprobe@victim.test,P,V\nbob@acme.fr,Bob,B\n";
    let import = |dry: bool| {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri(format!("/api/employees/import?dryRun={dry}"))
            .header("authorization", format!("Bearer {hr}"))
            .header("content-type", "text/csv")
            .body(axum::body::Body::from(csv))
            .expect("request");
        app.send(request)
    };
    let dry = import(true).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert_eq!(dry.body["created"], 2);
    assert_eq!(dry.body["errors"][0]["line"], 3);
    let audit: Value = sqlx::query_scalar(
        "SELECT details FROM audit_logs WHERE action = 'IMPORT' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("dry run audited");
    assert_eq!(audit["dryRun"], true);
    assert_eq!(audit["rows"], 3);
    assert!(!audit.to_string().contains('@'), "no address: {audit}");
    let users: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE email IN ('anna@acme.test', 'bob@acme.fr')",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("count");
    assert_eq!(users, 0, "a dry run writes nothing");
    let real = import(false).await;
    assert_eq!(real.body["created"], 2, "{}", real.body);

    // A dry run is capped in rows.
    let mut big = String::from("email,firstName,lastName\n");
    for i in 0..1_001 {
        big.push_str(&format!("p{i}@acme.test,P,{i}\n"));
    }
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/employees/import?dryRun=true")
        .header("authorization", format!("Bearer {hr}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(big))
        .expect("request");
    app.send(request)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "import.dry_run_too_large");
}

#[tokio::test]
async fn a_validated_practitioners_credentials_change_only_through_review() {
    let app = TestApp::spawn().await;
    let acme = app.seed_company("acme").await;
    app.seed_employee("emma@acme.test", acme, "Emma").await;
    let id = app.seed_practitioner("paula@cabinet.test", "Paula").await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let paula = app.login("paula@cabinet.test").await;
    let emma = app.login("emma@acme.test").await;
    let ops = app.login("ops@huntzen.test").await;
    let profile = format!("/api/practitioners/{id}");
    let put = |body: Value| {
        app.call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&paula),
            Some(body),
        )
    };

    // Credentials and a plain field in one request: the bio applies, the credentials wait.
    let asked = put(json!({
        "title": "Pr.", "specialty": "COACH_MENTAL", "diplomas": ["DU coaching"],
        "licenseNumber": "10001234567", "bio": "Nouvelle présentation"
    }))
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["status"], "pending_review");
    let account = &asked.body["practitioner"];
    assert_eq!(
        (
            account["title"].as_str(),
            account["specialty"].as_str(),
            account["bio"].as_str()
        ),
        (
            Some("Dr."),
            Some("PSYCHIATRE"),
            Some("Nouvelle présentation")
        )
    );
    assert_eq!(account["licenseNumber"], Value::Null);
    assert_eq!(account["pendingReview"]["title"], "Pr.");
    assert_eq!(account["pendingReview"]["specialty"], "COACH_MENTAL");
    assert_eq!(account["pendingReview"]["diplomas"], json!(["DU coaching"]));
    assert_eq!(account["pendingReview"]["licenseNumber"], "10001234567");

    // The public profile and the directory keep the validated values; the practitioner stays listed.
    let public = app.get(&profile, Some(&emma)).await;
    assert_eq!(
        (
            public.body["title"].as_str(),
            public.body["specialty"].as_str(),
            public.body["diplomas"].clone()
        ),
        (Some("Dr."), Some("PSYCHIATRE"), json!([]))
    );
    assert!(
        public.body.get("pendingReview").is_none() && public.body.get("licenseNumber").is_none()
    );
    let listed = app
        .get("/api/practitioners?specialty=PSYCHIATRE", Some(&emma))
        .await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);

    // The request role cannot write the vetted columns around the handler either.
    let session: Uuid = sqlx::query_scalar(
        "SELECT s.id FROM login_sessions s JOIN practitioners p ON p.user_id = s.user_id \
         WHERE p.id = $1 ORDER BY s.created_at DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(&app.db().system)
    .await
    .expect("session");
    let (mut tx, _) = huntzen::infra::db::context::begin_as(&app.db().app, session)
        .await
        .expect("begin")
        .expect("live session");
    let direct = sqlx::query("UPDATE practitioners SET title = 'Pr.' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await;
    assert!(
        direct.is_err(),
        "the guard refuses a validated practitioner's own credential change"
    );
    drop(tx);

    // Asking again for the validated title withdraws that part of the request; a plain change is 200.
    let withdrawn = put(json!({ "title": "Dr." })).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.body);
    assert!(withdrawn.body["pendingReview"].get("title").is_none());
    assert_eq!(withdrawn.body["pendingReview"]["specialty"], "COACH_MENTAL");
    let plain = put(json!({ "bio": "Encore" })).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    let bad = put(json!({ "licenseNumber": "<script>" })).await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(bad.body["errors"][0]["field"], "licenseNumber");

    // The review queue shows it with what waits; approving applies it to the public profile.
    let queue = app.get("/api/practitioners/pending", Some(&ops)).await;
    assert_eq!(queue.body["total"], 1, "{}", queue.body);
    assert_eq!(queue.body["items"][0]["id"], id.to_string());
    assert_eq!(
        queue.body["items"][0]["pendingReview"]["diplomas"],
        json!(["DU coaching"])
    );
    let approved = app
        .post(
            &format!("/api/practitioners/{id}/validate"),
            Some(&ops),
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["pendingReview"], Value::Null);
    assert_eq!(approved.body["licenseNumber"], "10001234567");
    let public = app.get(&profile, Some(&emma)).await;
    assert_eq!(
        (
            public.body["title"].as_str(),
            public.body["specialty"].as_str(),
            public.body["diplomas"].clone()
        ),
        (Some("Dr."), Some("COACH_MENTAL"), json!(["DU coaching"]))
    );
    let queue = app.get("/api/practitioners/pending", Some(&ops)).await;
    assert_eq!(queue.body["total"], 0, "{}", queue.body);
    let audited: Vec<Value> = sqlx::query_scalar(
        "SELECT details FROM audit_logs WHERE resource_id = $1::uuid::text AND action = 'VALIDATE'",
    )
    .bind(id)
    .fetch_all(&app.db().system)
    .await
    .expect("audit");
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["event"], "credentials_approved");
    assert_eq!(
        audited[0]["fields"],
        json!(["specialty", "diplomas", "licenseNumber"])
    );

    // Before validation, credentials apply at once (nothing to protect yet).
    let fresh = app.seed_practitioner("nina@cabinet.test", "Nina").await;
    sqlx::query("UPDATE practitioners SET is_validated = false WHERE id = $1")
        .bind(fresh)
        .execute(&app.db().system)
        .await
        .expect("unvalidate");
    let nina = app.login("nina@cabinet.test").await;
    let direct = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&nina),
            Some(json!({ "title": "Mme", "licenseNumber": "ADELI 75 93 1234 5" })),
        )
        .await;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.body);
    assert_eq!(
        (
            direct.body["title"].as_str(),
            direct.body["licenseNumber"].as_str()
        ),
        (Some("Mme"), Some("ADELI 75 93 1234 5"))
    );
    assert_eq!(direct.body["pendingReview"], Value::Null);
}
