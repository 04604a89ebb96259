//! Backups that keep the erasure promise, with the real files and the real commands: backup →
//! erase → restore (`huntzen restore`, and by hand with the master key) → the erased person's
//! content is unreadable and their account does not come back, while everyone else's data reads
//! as before and every role's requests answer; bad files and non-empty targets are refused with
//! nothing written.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use huntzen::governance::backup::Target;
use huntzen::infra::backup_files::{BackupDir, read_snapshot, snapshot_of};
use huntzen::infra::db::PoolSizes;
use huntzen::infra::identity::Role;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, empty_database};
use crate::seed::Participants;

const MASTER_KEY: &str = "6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf";
/// The commands need a JWT secret to start; it plays no part in a restore.
const JWT_SECRET: &str = "5f0e4c2b9a8d7e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";

struct World {
    emma_employee: Uuid,
    eric_employee: Uuid,
    emma_chat: Uuid,
    eric_chat: Uuid,
    emma: String,
    root: String,
}

async fn world(app: &TestApp) -> World {
    let company = app.seed_company("c").await;
    let emma_employee = app.seed_employee("emma@c.test", company, "emma").await;
    let eric_employee = app.seed_employee("eric@c.test", company, "eric").await;
    let paula = app.seed_practitioner("paula@cabinet.test", "paula").await;
    let chat = |employee| Participants {
        company,
        employee,
        practitioner: paula,
    };
    let emma_chat = app
        .seed_consultation(chat(emma_employee), "VIDEO", "CONFIRMED", 1)
        .await;
    let eric_chat = app
        .seed_consultation(chat(eric_employee), "VIDEO", "CONFIRMED", 2)
        .await;
    app.create_user("hr@c.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    let emma = app.login("emma@c.test").await;
    let eric = app.login("eric@c.test").await;
    let paula = app.login("paula@cabinet.test").await;
    for (token, text) in [(&emma, "journal d'Emma"), (&eric, "journal d'Eric")] {
        let made = app
            .post("/api/journal", Some(token), json!({ "content": text }))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    for (token, chat, text) in [
        (&emma, emma_chat, "message d'Emma"),
        (&paula, emma_chat, "réponse à Emma"),
        (&eric, eric_chat, "message d'Eric"),
    ] {
        let sent = app
            .post(
                &format!("/api/chat/{chat}/messages"),
                Some(token),
                json!({ "content": text }),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }
    // Emma's attachment: a file of hers, in her chat.
    let mut body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.extend(crate::helpers::png("scan", "bytes d'Emma"));
    body.extend_from_slice(b"\r\n--B--\r\n");
    let uploaded = app
        .send(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("/api/chat/{emma_chat}/upload"))
                .header(axum::http::header::AUTHORIZATION, format!("Bearer {emma}"))
                .header(
                    axum::http::header::CONTENT_TYPE,
                    "multipart/form-data; boundary=B",
                )
                .body(axum::body::Body::from(body))
                .expect("request"),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let note = app
        .post(
            "/api/clinical-notes",
            Some(&paula),
            json!({ "consultationId": emma_chat, "content": "note sur Emma" }),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    World {
        emma_employee,
        eric_employee,
        emma_chat,
        eric_chat,
        emma,
        root: app.login("root@huntzen.test").await,
    }
}

/// `POST /api/super-admin/backup`, then the dump file once the job wrote it.
async fn take_backup(app: &TestApp, root: &str) -> PathBuf {
    let queued = app
        .call(Method::POST, "/api/super-admin/backup", Some(root), None)
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let id = queued.body["jobId"].as_str().expect("job id").to_owned();
    let dir = app.dir.path().join("backups");
    for _ in 0..300 {
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                let name = p.to_string_lossy();
                name.contains(&id) && name.ends_with(".dump.enc")
            })
        });
        if let Some(path) = found {
            return path;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the backup job wrote no dump within 30 s");
}

async fn keys_of(app: &TestApp, employee: Uuid, chat: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT id FROM data_keys WHERE (subject_type = 'EMPLOYEE' AND subject_id = $1) \
         OR (subject_type = 'CONSULTATION' AND subject_id = $2) \
         OR (subject_type = 'FILE' AND subject_id IN (SELECT id FROM files WHERE consultation_id = $2))",
    )
    .bind(employee)
    .bind(chat)
    .fetch_all(&app.db().system)
    .await
    .expect("keys")
}

async fn relations(options: &PgConnectOptions) -> i64 {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = options.connect().await.expect("connect");
    let n = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname IN ('public', 'apalis')",
    )
    .fetch_one(&mut conn)
    .await
    .expect("count");
    conn.close().await.ok();
    n
}

fn url_of(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@localhost:{}/{}?host={}",
        options.get_username(),
        options.get_port(),
        options.get_database().expect("database"),
        options.get_socket().expect("socket").display()
    )
}

/// Everyone but the erased person reads as before, every role's requests answer, and the erased
/// account and content are gone.
async fn check_restored(again: &TestApp, w: &World) {
    again
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "emma@c.test", "password": PASSWORD }),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    let emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE email = 'emma@c.test' OR erased_at IS NULL AND id = (SELECT user_id FROM employees WHERE id = $1)",
    )
    .bind(w.emma_employee)
    .fetch_one(&again.db().system)
    .await
    .expect("emma");
    assert_eq!(emails, 0, "the erased account came back");
    let readable: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_keys WHERE wrapped_key IS NOT NULL AND \
         ((subject_type = 'EMPLOYEE' AND subject_id = $1) OR (subject_type = 'CONSULTATION' AND subject_id = $2))",
    )
    .bind(w.emma_employee)
    .bind(w.emma_chat)
    .fetch_one(&again.db().system)
    .await
    .expect("keys");
    assert_eq!(readable, 0, "a key of the erased person came back");
    let files: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE consultation_id = $1")
        .bind(w.emma_chat)
        .fetch_one(&again.db().system)
        .await
        .expect("files");
    assert_eq!(files, 0, "the erased person's attachment came back");
    let journals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE employee_id = $1")
            .bind(w.emma_employee)
            .fetch_one(&again.db().system)
            .await
            .expect("journal");
    assert_eq!(journals, 0);

    let eric = again.login("eric@c.test").await;
    let journal = again.get("/api/journal", Some(&eric)).await;
    assert_eq!(journal.status, StatusCode::OK, "{}", journal.body);
    assert_eq!(journal.body["items"][0]["content"], "journal d'Eric");
    let chat = again
        .get(&format!("/api/chat/{}/messages", w.eric_chat), Some(&eric))
        .await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.body);
    assert_eq!(chat.body["items"][0]["content"], "message d'Eric");
    assert_eq!(
        again.get("/api/me", Some(&eric)).await.status,
        StatusCode::OK
    );

    let paula = again.login("paula@cabinet.test").await;
    let notes = again
        .get(
            &format!("/api/clinical-notes/consultation/{}", w.emma_chat),
            Some(&paula),
        )
        .await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.body);
    assert_eq!(
        notes.body[0]["content"], "note sur Emma",
        "the practitioner keeps their note"
    );
    let emma_chat = again
        .get(&format!("/api/chat/{}/messages", w.emma_chat), Some(&paula))
        .await;
    assert!(
        !emma_chat.body.to_string().contains("Emma"),
        "{}",
        emma_chat.body
    );

    let hr = again.login("hr@c.test").await;
    assert_eq!(again.get("/api/me", Some(&hr)).await.status, StatusCode::OK);
    let employees = again.get("/api/employees", Some(&hr)).await;
    assert_eq!(employees.status, StatusCode::OK, "{}", employees.body);
    let root = again.login("root@huntzen.test").await;
    let audit = again.get("/api/super-admin/audit-logs", Some(&root)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    assert_eq!(
        huntzen::infra::audit::verify(again.db())
            .await
            .expect("verify"),
        huntzen::infra::audit::Verification::Intact {
            rows: sqlx::query_scalar("SELECT count(*) FROM audit_logs")
                .fetch_one(&again.db().system)
                .await
                .expect("rows")
        }
    );
}

fn copy_backup(dump: &Path, to: &Path, with_keys: bool) -> PathBuf {
    let copy = to.join(dump.file_name().expect("name"));
    std::fs::copy(dump, &copy).expect("copy dump");
    if with_keys {
        let keys = snapshot_of(dump).expect("keys");
        std::fs::copy(&keys, to.join(keys.file_name().expect("name"))).expect("copy keys");
    }
    copy
}

#[tokio::test]
async fn backup_erase_restore_brings_no_erased_person_back() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let dump = take_backup(&app, &w.root).await;
    let keys = snapshot_of(&dump).expect("keys path");
    assert!(keys.exists(), "a key snapshot beside the dump");
    let sealed = std::fs::read(&dump).expect("read");
    assert!(!sealed.windows(5).any(|x| x == b"PGDMP"), "sealed at rest");
    let emma_keys = keys_of(&app, w.emma_employee, w.emma_chat).await;
    let eric_keys = keys_of(&app, w.eric_employee, w.eric_chat).await;
    assert_eq!((emma_keys.len(), eric_keys.len()), (3, 2));

    let erased = app
        .call(
            Method::DELETE,
            "/api/me",
            Some(&w.emma),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);

    // The erasure reached the backup taken before it: its key snapshot lost Emma's keys only.
    let snapshot = read_snapshot(&app.state.keyring, &keys).expect("snapshot");
    for (ids, kept) in [(&emma_keys, false), (&eric_keys, true)] {
        for id in ids {
            let row = snapshot
                .keys
                .iter()
                .find(|k| k.id == *id)
                .expect("key in snapshot");
            assert_eq!(row.wrapped_key.is_some(), kept, "key {id}");
        }
    }
    let ledger = BackupDir::new(app.dir.path()).ledger().expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert!(
        !std::fs::read_to_string(app.dir.path().join("backups/erasures.jsonl"))
            .expect("ledger")
            .contains("emma"),
        "the ledger holds ids and times only"
    );

    // Bad input: nothing is written.
    let target = empty_database().await;
    let scratch = tempfile::tempdir().expect("scratch");
    let backups = BackupDir::new(app.dir.path());
    let restore = |file: PathBuf, options: PgConnectOptions| {
        let keyring = app.state.keyring.clone();
        let backups = backups.clone();
        async move {
            huntzen::governance::restore::restore(
                &file,
                Target {
                    database_url: None,
                    options: &options,
                },
                &keyring,
                &backups,
                20,
                &mut Vec::new(),
            )
            .await
        }
    };
    let tampered = copy_backup(&dump, scratch.path(), true);
    let mut bytes = std::fs::read(&tampered).expect("read");
    bytes[40] ^= 1;
    std::fs::write(&tampered, &bytes).expect("write");
    let error = restore(tampered.clone(), target.clone())
        .await
        .expect_err("tampered");
    assert!(
        error.to_string().contains("cannot be authenticated"),
        "{error:#}"
    );
    std::fs::write(&tampered, &bytes[..bytes.len() / 2]).expect("truncate");
    restore(tampered, target.clone())
        .await
        .expect_err("truncated");
    let lonely = tempfile::tempdir().expect("lonely");
    let error = restore(copy_backup(&dump, lonely.path(), false), target.clone())
        .await
        .expect_err("no keys");
    assert!(error.to_string().contains("is missing"), "{error:#}");
    let error = restore(dump.clone(), (*app.db().system.connect_options()).clone())
        .await
        .expect_err("not empty");
    assert!(error.to_string().contains("not empty"), "{error:#}");
    assert_eq!(
        relations(&target).await,
        0,
        "a refused restore wrote nothing"
    );

    // The documented way: `huntzen restore FILE`, the real command.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_huntzen"))
        .arg("restore")
        .arg(&dump)
        .env("DATABASE_URL", url_of(&target))
        .env("DATA_DIR", app.dir.path())
        .env("ENCRYPTION_KEY", MASTER_KEY)
        .env("JWT_SECRET", JWT_SECRET)
        .output()
        .await
        .expect("run huntzen restore");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("replayed 1 erasures"), "{stdout}");
    assert!(stdout.contains("audit chain intact"), "{stdout}");
    let again = TestApp::spawn_on(target, PoolSizes { app: 5, system: 3 }, |_| {}).await;
    check_restored(&again, &w).await;
}

#[tokio::test]
async fn a_backup_restored_by_hand_with_the_master_key_yields_no_erased_content() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let dump = take_backup(&app, &w.root).await;
    let emma_keys = keys_of(&app, w.emma_employee, w.emma_chat).await;
    let erased = app
        .call(
            Method::DELETE,
            "/api/me",
            Some(&w.emma),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);

    // docs/backup.md, "By hand": decrypt both files with the master key, load the sections.
    let scratch = tempfile::tempdir().expect("scratch");
    let archive = scratch.path().join("restore.dump");
    let keys_sql = scratch.path().join("keys.sql");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_huntzen"))
        .arg("decrypt-backup")
        .arg("--file")
        .arg(&dump)
        .arg("--out")
        .arg(&archive)
        .arg("--keys-out")
        .arg(&keys_sql)
        .env("DATA_DIR", app.dir.path())
        .env("ENCRYPTION_KEY", MASTER_KEY)
        .env("JWT_SECRET", JWT_SECRET)
        .output()
        .expect("decrypt-backup");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read(&archive)
            .expect("archive")
            .starts_with(b"PGDMP")
    );
    let keys_text = std::fs::read_to_string(&keys_sql).expect("keys");
    for id in &emma_keys {
        let line = keys_text
            .lines()
            .find(|l| l.contains(&id.to_string()))
            .expect("the erased key's row is listed");
        assert!(
            line.contains("', NULL, '"),
            "the erased key has no material: {line}"
        );
    }
    let target = empty_database().await;
    let bin = huntzen::infra::db::embedded::find_binaries().expect("binaries");
    let url = url_of(&target);
    let run = |tool: &str, args: Vec<String>| {
        let output = std::process::Command::new(bin.join(tool))
            .args(&args)
            .output()
            .expect("tool");
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let archive_arg = archive.display().to_string();
    for section in ["pre-data", "data"] {
        run(
            "pg_restore",
            vec![
                "--no-owner".into(),
                format!("--section={section}"),
                format!("--dbname={url}"),
                archive_arg.clone(),
            ],
        );
    }
    run(
        "psql",
        vec![
            "--no-psqlrc".into(),
            "--set=ON_ERROR_STOP=1".into(),
            format!("--dbname={url}"),
            format!("--file={}", keys_sql.display()),
        ],
    );
    run(
        "pg_restore",
        vec![
            "--no-owner".into(),
            "--section=post-data".into(),
            format!("--dbname={url}"),
            archive_arg,
        ],
    );
    // Served with the same DATA_DIR: the start replays the ledger, the account stays erased.
    let data_dir = app.dir.path().to_path_buf();
    let again = TestApp::spawn_on(target, PoolSizes { app: 5, system: 3 }, |s| {
        s.data_dir = data_dir;
    })
    .await;
    check_restored(&again, &w).await;
}
