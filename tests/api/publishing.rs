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

/// The status and headers of a `GET` (`token`: none for an anonymous reader).
async fn read(app: &TestApp, token: Option<&str>, url: &str) -> crate::helpers::TestResponse {
    let mut builder = axum::http::Request::builder().uri(url);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    app.send(builder.body(axum::body::Body::empty()).expect("request"))
        .await
}

#[tokio::test]
async fn news_images_and_article_covers_reach_their_audience_only() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let acme = app.seed_company("imga").await;
    let beta = app.seed_company("imgb").await;
    app.create_user("rh@imga.test", Role::AdminRh, Some(acme))
        .await;
    app.create_user("rh2@imga.test", Role::AdminRh, Some(acme))
        .await;
    app.seed_employee("emp@imga.test", acme, "Ana").await;
    app.seed_employee("emp@imgb.test", beta, "Bob").await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let hr = app.login("rh@imga.test").await;
    let hr2 = app.login("rh2@imga.test").await;
    let employee = app.login("emp@imga.test").await;
    let outsider = app.login("emp@imgb.test").await;
    let ops = app.login("ops@huntzen.test").await;
    let picture = crate::helpers::png("GPS 48.8584N 2.2945E", "seminar-picture");

    // A news image: the company's employees read it; another company's, nobody signed out.
    let news = app
        .post(
            "/api/news",
            Some(&hr),
            json!({ "title": "Séminaire", "content": "Le 12 décembre." }),
        )
        .await;
    let news_id = news.body["id"].as_str().expect("id").to_owned();
    let uploaded = app
        .upload(&hr, &format!("/api/news/{news_id}/image"), &picture)
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let url = uploaded.body["url"].as_str().expect("url").to_owned();
    let listed = app.get("/api/news/company", Some(&employee)).await;
    assert_eq!(listed.body["items"][0]["imageUrl"], url.as_str());
    let seen = read(&app, Some(&employee), &url).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.headers["content-type"], "image/png");
    assert!(seen.text.contains("seminar-picture"), "the picture itself");
    assert!(!seen.text.contains("GPS"), "its metadata stripped");
    assert_eq!(
        read(&app, Some(&outsider), &url).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        read(&app, None, &url).await.status,
        StatusCode::UNAUTHORIZED
    );
    // One stored image for the item.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE purpose = 'NEWS_IMAGE'")
        .fetch_one(system)
        .await
        .expect("count");
    assert_eq!(stored, 1);
    // Only the company's HR admin attaches one; bad files are refused like any upload.
    let beta_hr = {
        app.create_user("rh@imgb.test", Role::AdminRh, Some(beta))
            .await;
        app.login("rh@imgb.test").await
    };
    app.upload(&beta_hr, &format!("/api/news/{news_id}/image"), &picture)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "news.not_found");
    app.upload(&employee, &format!("/api/news/{news_id}/image"), &picture)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    app.upload(
        &hr,
        &format!("/api/news/{news_id}/image"),
        b"<svg onload=alert(1)>",
    )
    .await
    .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.unsupported_type");
    app.upload(
        &hr,
        &format!("/api/news/{news_id}/image"),
        b"%PDF-1.7\n1 0 obj x",
    )
    .await
    .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.unsupported_type");
    // Another HR admin of the company replaces it: the old image is gone.
    let second = app
        .upload(&hr2, &format!("/api/news/{news_id}/image"), &picture)
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(
        read(&app, Some(&employee), &url).await.status,
        StatusCode::NOT_FOUND
    );
    let second_url = second.body["url"].as_str().expect("url").to_owned();
    assert_eq!(
        read(&app, Some(&employee), &second_url).await.status,
        StatusCode::OK
    );
    // Deleting the news deletes its image.
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/news/{news_id}"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        read(&app, Some(&hr2), &second_url).await.status,
        StatusCode::NOT_FOUND
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE purpose = 'NEWS_IMAGE'")
        .fetch_one(system)
        .await
        .expect("count");
    assert_eq!(left, 0);

    // An article cover: private while a draft, public once published.
    let draft = app
        .post(
            "/api/articles",
            Some(&ops),
            json!({ "title": "Dormir mieux", "content": "…", "category": "WELLBEING" }),
        )
        .await;
    let article = draft.body["id"].as_str().expect("id").to_owned();
    let cover = app
        .upload(&ops, &format!("/api/articles/{article}/cover"), &picture)
        .await;
    assert_eq!(cover.status, StatusCode::CREATED, "{}", cover.body);
    let cover_url = format!("/api/articles/{article}/cover");
    assert_eq!(cover.body["url"], cover_url.as_str());
    app.upload(&hr, &format!("/api/articles/{article}/cover"), &picture)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    assert_eq!(
        read(&app, None, &cover_url).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        read(&app, Some(&employee), &cover_url).await.status,
        StatusCode::NOT_FOUND
    );
    let staff = read(&app, Some(&ops), &cover_url).await;
    assert_eq!(staff.status, StatusCode::OK);
    assert_eq!(staff.headers["cache-control"], "private, no-store");
    // The file itself stays private to its audience too.
    let file_id = cover.body["id"].as_str().expect("id");
    assert_eq!(
        read(&app, Some(&employee), &format!("/api/files/{file_id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let published = app
        .call(
            Method::POST,
            &format!("/api/articles/{article}/publish"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.body["coverUrl"], cover_url.as_str());
    for token in [None, Some(employee.as_str()), Some(outsider.as_str())] {
        let public = read(&app, token, &cover_url).await;
        assert_eq!(public.status, StatusCode::OK, "{token:?}");
        assert_eq!(public.headers["content-type"], "image/png");
        assert!(public.text.contains("seminar-picture"));
        assert!(!public.text.contains("GPS"));
    }
    assert_eq!(
        read(&app, None, &cover_url).await.headers["cache-control"],
        "public, max-age=300"
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/articles/{article}"),
            Some(&ops),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        read(&app, None, &cover_url).await.status,
        StatusCode::NOT_FOUND
    );
}
