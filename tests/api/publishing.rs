//! The blog (public reading, platform writing) and company news (HR writes, its employees read).

use axum::http::{Method, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn articles_are_written_by_the_platform_and_read_by_anyone() {
    let app = TestApp::spawn().await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@huntzen.test").await;
    let draft = app
        .post("/api/admin-huntzen/blog/articles", Some(&ops), json!({ "title": "Gérer le stress au travail", "content": "…", "category": "STRESS_MANAGEMENT", "tags": ["Stress"] }))
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    assert_eq!(draft.body["slug"], "gerer-le-stress-au-travail");
    assert_eq!(draft.body["status"], "DRAFT");
    let second = app
        .post(
            "/api/articles",
            Some(&ops),
            json!({ "title": "Gérer le stress au travail", "content": "bis", "category": "WELLBEING" }),
        )
        .await;
    assert_eq!(
        second.body["slug"], "gerer-le-stress-au-travail-2",
        "slugs are unique"
    );
    let id = draft.body["id"].as_str().expect("id").to_owned();

    assert_eq!(
        app.get("/api/articles", None).await.body["total"],
        0,
        "drafts are not public"
    );
    app.get("/api/articles/gerer-le-stress-au-travail", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "article.not_found");
    let published = app
        .call(
            Method::POST,
            &format!("/api/articles/{id}/publish"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(published.body["status"], "PUBLISHED");
    let public = app
        .get("/api/articles?category=STRESS_MANAGEMENT&tag=stress", None)
        .await;
    assert_eq!(public.body["total"], 1, "{}", public.body);
    let by_slug = app
        .get("/api/articles/gerer-le-stress-au-travail", None)
        .await;
    assert_eq!(by_slug.body["id"], id.as_str());
    for expected in [1, 2] {
        let view = app
            .call(
                Method::PUT,
                "/api/articles/gerer-le-stress-au-travail/view",
                None,
                None,
            )
            .await;
        assert_eq!(view.body["viewCount"], expected);
    }
    let drafts = app.get("/api/articles?status=DRAFT", Some(&ops)).await;
    assert_eq!(drafts.body["total"], 1, "platform staff see drafts");
    app.post(
        "/api/articles",
        None,
        json!({ "title": "x", "content": "y", "category": "WELLBEING" }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "auth.missing_token");
    let updated = app
        .call(
            Method::PUT,
            &format!("/api/articles/{id}"),
            Some(&ops),
            Some(json!({ "status": "ARCHIVED" })),
        )
        .await;
    assert_eq!(updated.body["status"], "ARCHIVED");
    assert_eq!(app.get("/api/articles", None).await.body["total"], 0);
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/articles/{id}"),
            Some(&ops),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn news_stay_inside_the_company_and_notify_its_employees() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let mut tokens = Vec::new();
    for name in ["acme", "beta"] {
        let company = app.seed_company(name).await;
        app.create_user(&format!("rh@{name}.test"), Role::AdminRh, Some(company))
            .await;
        let user = app
            .create_user(&format!("emp@{name}.test"), Role::Employee, Some(company))
            .await;
        sqlx::query("INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, 'E', 'E')")
            .bind(user)
            .bind(company)
            .execute(system)
            .await
            .expect("employee");
        tokens.push((
            app.login(&format!("rh@{name}.test")).await,
            app.login(&format!("emp@{name}.test")).await,
            company,
        ));
    }
    let (acme_hr, acme_emp, acme) = &tokens[0];
    let (beta_hr, beta_emp, _) = &tokens[1];
    let news = app
        .post(
            "/api/news",
            Some(acme_hr),
            json!({ "title": "Séminaire", "content": "Le 12 décembre." }),
        )
        .await;
    assert_eq!(news.status, StatusCode::CREATED, "{}", news.body);
    let id = news.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.get("/api/news/company", Some(acme_emp)).await.body["total"],
        1
    );
    assert_eq!(
        app.get("/api/news", Some(beta_emp)).await.body["total"],
        0,
        "another company's news stay hidden"
    );
    let notified = app.get("/api/notifications", Some(acme_emp)).await;
    assert_eq!(notified.body["items"][0]["type"], "NEWS_PUBLISHED");
    assert_eq!(
        app.get("/api/notifications", Some(beta_emp)).await.body["total"],
        0
    );
    app.call(
        Method::PUT,
        &format!("/api/news/{id}"),
        Some(beta_hr),
        Some(json!({ "title": "Hacked" })),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "news.not_found");
    app.call(
        Method::DELETE,
        &format!("/api/news/{id}"),
        Some(beta_hr),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "news.not_found");
    app.post(
        "/api/news",
        Some(acme_emp),
        json!({ "title": "x", "content": "y" }),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    sqlx::query("UPDATE companies SET allow_internal_news = false WHERE id = $1")
        .bind(acme)
        .execute(system)
        .await
        .expect("off");
    app.post(
        "/api/news",
        Some(acme_hr),
        json!({ "title": "x", "content": "y" }),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "news.disabled");
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/news/{id}"),
            Some(acme_hr),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}
