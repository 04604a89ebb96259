//! Row-level security, checked on the catalog and on data, through the real request role.

use huntzen::infra::db::context::{begin_anonymous, begin_as};
use huntzen::infra::db::{Db, PoolSizes, Tx};
use huntzen::infra::identity::Role;
use sqlx::PgPool;
use uuid::Uuid;

use crate::fixtures::{self, Tenant};
use crate::helpers::TestApp;

/// Tables that are not owned by a tenant: the public practitioner directory and the blog.
/// They still have RLS (drafts, unvalidated practitioners); they are checked separately.
const DIRECTORY_TABLES: &[&str] = &["practitioners", "availabilities", "articles"];

/// Tables the request role cannot touch at all (the system pool's bookkeeping).
const SYSTEM_TABLES: &[&str] = &[
    "auth_throttle",
    "live_calls",
    "erasures",
    "message_sequences",
    "report_notices",
];

/// For each tenant-owned table: the ids of the rows that belong to tenant B
/// (`$1` = B's company, `$2` = B's user ids).
const TENANT_ROWS: &[(&str, &str)] = &[
    ("companies", "SELECT id FROM companies WHERE id = $1"),
    ("users", "SELECT id FROM users WHERE id = ANY($2)"),
    (
        "login_sessions",
        "SELECT id FROM login_sessions WHERE user_id = ANY($2)",
    ),
    (
        "refresh_tokens",
        "SELECT id FROM refresh_tokens WHERE user_id = ANY($2)",
    ),
    (
        "one_time_tokens",
        "SELECT id FROM one_time_tokens WHERE user_id = ANY($2)",
    ),
    (
        "recovery_codes",
        "SELECT id FROM recovery_codes WHERE user_id = ANY($2)",
    ),
    (
        "employees",
        "SELECT id FROM employees WHERE company_id = $1",
    ),
    (
        "consultations",
        "SELECT id FROM consultations WHERE company_id = $1",
    ),
    (
        "consultation_events",
        "SELECT id FROM consultation_events WHERE consultation_id IN (SELECT id FROM consultations WHERE company_id = $1)",
    ),
    (
        "messages",
        "SELECT id FROM messages WHERE consultation_id IN (SELECT id FROM consultations WHERE company_id = $1)",
    ),
    (
        "clinical_notes",
        "SELECT id FROM clinical_notes WHERE consultation_id IN (SELECT id FROM consultations WHERE company_id = $1)",
    ),
    (
        "journal_entries",
        "SELECT id FROM journal_entries WHERE employee_id IN (SELECT id FROM employees WHERE company_id = $1)",
    ),
    (
        "files",
        "SELECT id FROM files WHERE company_id = $1 OR owner_user_id = ANY($2)",
    ),
    (
        "data_keys",
        "SELECT id FROM data_keys WHERE subject_id = ANY($2) \
           OR subject_id IN (SELECT id FROM consultations WHERE company_id = $1) \
           OR subject_id IN (SELECT id FROM employees WHERE company_id = $1) \
           OR subject_id IN (SELECT id FROM files WHERE company_id = $1) \
           OR subject_id IN (SELECT id FROM support_tickets WHERE creator_id = ANY($2))",
    ),
    (
        "support_tickets",
        "SELECT id FROM support_tickets WHERE creator_id = ANY($2)",
    ),
    (
        "support_ticket_replies",
        "SELECT id FROM support_ticket_replies WHERE ticket_id IN (SELECT id FROM support_tickets WHERE creator_id = ANY($2))",
    ),
    ("news", "SELECT id FROM news WHERE company_id = $1"),
    (
        "notifications",
        "SELECT id FROM notifications WHERE user_id = ANY($2)",
    ),
    (
        "consents",
        "SELECT id FROM consents WHERE user_id = ANY($2)",
    ),
    (
        "audit_logs",
        "SELECT id FROM audit_logs WHERE user_id = ANY($2) OR company_id = $1",
    ),
];

/// (table, policy, command, USING, WITH CHECK)
type PolicyRow = (String, String, String, Option<String>, Option<String>);

/// Everything wrong with the public schema's RLS setup, one line per problem.
async fn rls_violations(pool: &PgPool) -> Vec<String> {
    let mut problems = Vec::new();
    let tables: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT count(*) FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("catalog");
    for (table, enabled, forced, policies) in tables {
        if !enabled {
            problems.push(format!("{table}: row level security is not enabled"));
        }
        if !forced {
            problems.push(format!("{table}: row level security is not forced"));
        }
        if policies == 0 {
            problems.push(format!("{table}: no policy"));
        }
    }
    let policies: Vec<PolicyRow> = sqlx::query_as(
        "SELECT tablename::text, policyname::text, cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public'",
    )
    .fetch_all(pool)
    .await
    .expect("policies");
    for (table, name, cmd, using, check) in policies {
        if matches!(cmd.as_str(), "INSERT" | "UPDATE" | "ALL") && check.is_none() {
            problems.push(format!("{table}.{name}: {cmd} policy without WITH CHECK"));
        }
        for expr in [&using, &check].into_iter().flatten() {
            if expr
                .trim()
                .trim_matches(['(', ')'])
                .eq_ignore_ascii_case("true")
            {
                problems.push(format!("{table}.{name}: always-true expression"));
            }
        }
    }
    problems
}

#[tokio::test]
async fn every_table_has_forced_rls_with_checked_write_policies() {
    let app = TestApp::spawn().await;
    let problems = rls_violations(&app.db().system).await;
    assert!(
        problems.is_empty(),
        "RLS problems:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn catalog_check_catches_a_table_without_policies() {
    let app = TestApp::spawn().await;
    let pool = &app.db().system;
    sqlx::query("CREATE TABLE leaky (id uuid PRIMARY KEY, company_id uuid)")
        .execute(pool)
        .await
        .expect("create");
    let problems = rls_violations(pool).await;
    assert!(
        problems
            .iter()
            .any(|p| p == "leaky: row level security is not enabled"),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p == "leaky: no policy"),
        "{problems:?}"
    );

    sqlx::raw_sql(
        "ALTER TABLE leaky ENABLE ROW LEVEL SECURITY; ALTER TABLE leaky FORCE ROW LEVEL SECURITY",
    )
    .execute(pool)
    .await
    .expect("enable");
    sqlx::query("CREATE POLICY open_door ON leaky FOR ALL USING (true)")
        .execute(pool)
        .await
        .expect("policy");
    let problems = rls_violations(pool).await;
    assert!(
        problems
            .iter()
            .any(|p| p == "leaky.open_door: ALL policy without WITH CHECK"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "leaky.open_door: always-true expression"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn the_request_role_owns_nothing_and_cannot_bypass_rls() {
    let app = TestApp::spawn().await;
    let (user, superuser, bypass): (String, bool, bool) =
        sqlx::query_as("SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&app.db().app)
            .await
            .expect("role");
    assert_eq!(user, "huntzen_app");
    assert!(!superuser && !bypass);
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'huntzen_app'",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("owned");
    assert_eq!(owned, 0);
    // The job queue: the request role may enqueue, never read or change jobs.
    let (insert, select, update, delete): (bool, bool, bool, bool) = sqlx::query_as(
        "SELECT has_table_privilege('huntzen_app', 'apalis.jobs', 'INSERT'), \
                has_table_privilege('huntzen_app', 'apalis.jobs', 'SELECT'), \
                has_table_privilege('huntzen_app', 'apalis.jobs', 'UPDATE'), \
                has_table_privilege('huntzen_app', 'apalis.jobs', 'DELETE')",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("privileges");
    assert!(insert && !select && !update && !delete);
    for table in SYSTEM_TABLES {
        let any: bool = sqlx::query_scalar(
            "SELECT has_table_privilege('huntzen_app', $1, 'SELECT') OR has_table_privilege('huntzen_app', $1, 'INSERT') \
                 OR has_table_privilege('huntzen_app', $1, 'UPDATE') OR has_table_privilege('huntzen_app', $1, 'DELETE')",
        )
        .bind(table)
        .fetch_one(&app.db().system)
        .await
        .expect("privilege");
        assert!(!any, "the request role has privileges on {table}");
    }
    // Without a context, nothing at all is visible.
    for (table, _) in TENANT_ROWS {
        let mut tx = begin_anonymous(&app.db().app).await.expect("tx");
        assert_eq!(
            count_all(&mut tx, table).await,
            0,
            "{table} visible without context"
        );
    }
}

async fn count_all(tx: &mut Tx, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

async fn count_ids(tx: &mut Tx, table: &str, ids: &[Uuid]) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE id = ANY($1)"
    )))
    .bind(ids)
    .fetch_one(&mut **tx)
    .await
    .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

async fn context(db: &Db, session: Uuid) -> Tx {
    begin_as(&db.app, session)
        .await
        .expect("begin")
        .expect("live session")
        .0
}

fn user_ids(t: &Tenant) -> Vec<Uuid> {
    vec![t.hr_user, t.employee_user, t.practitioner_user]
}

#[tokio::test]
async fn a_tenant_sees_none_of_another_tenants_rows() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let a = fixtures::tenant(system, "alpha").await;
    let b = fixtures::tenant(system, "beta").await;

    // Every table is either tenant-owned (checked here) or part of the public directory.
    let all_tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'",
    )
    .fetch_all(system)
    .await
    .expect("tables");
    for table in &all_tables {
        assert!(
            TENANT_ROWS.iter().any(|(t, _)| t == table)
                || DIRECTORY_TABLES.contains(&table.as_str())
                || SYSTEM_TABLES.contains(&table.as_str()),
            "table {table} is not covered by the isolation test"
        );
    }

    for (table, sql) in TENANT_ROWS {
        let b_ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(*sql))
            .bind(b.company)
            .bind(user_ids(&b))
            .fetch_all(system)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert!(
            !b_ids.is_empty(),
            "fixture has no row of tenant B in {table}"
        );
        for (who, session) in [
            ("HR", a.hr_session),
            ("employee", a.employee_session),
            ("practitioner", a.practitioner_session),
        ] {
            let mut tx = context(app.db(), session).await;
            assert_eq!(
                count_ids(&mut tx, table, &b_ids).await,
                0,
                "A's {who} sees B's rows in {table}"
            );
        }
    }

    // Positive controls: the policies are not simply closed.
    let mut tx = context(app.db(), a.employee_session).await;
    assert_eq!(
        count_ids(&mut tx, "consultations", &[a.consultation]).await,
        1
    );
    assert_eq!(count_all(&mut tx, "messages").await, 1);
    assert_eq!(count_all(&mut tx, "journal_entries").await, 1);
    assert_eq!(
        count_all(&mut tx, "clinical_notes").await,
        0,
        "an employee never reads clinical notes"
    );
    let mut tx = context(app.db(), a.hr_session).await;
    assert_eq!(count_ids(&mut tx, "employees", &[a.employee]).await, 1);
    assert_eq!(
        count_all(&mut tx, "consultations").await,
        0,
        "HR never reads consultations"
    );
    assert_eq!(count_all(&mut tx, "messages").await, 0);
    let mut tx = context(app.db(), a.practitioner_session).await;
    assert_eq!(count_all(&mut tx, "clinical_notes").await, 1);
    assert_eq!(
        count_all(&mut tx, "journal_entries").await,
        0,
        "a practitioner never reads a journal"
    );
    assert_eq!(
        count_ids(&mut tx, "employees", &[a.employee]).await,
        1,
        "a practitioner sees their patient"
    );
}

#[tokio::test]
async fn platform_roles_never_reach_clinical_or_employee_rows() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    fixtures::tenant(system, "alpha").await;
    for role in [Role::AdminHuntzen, Role::SuperAdmin] {
        let user = app
            .create_user(
                &format!("{role}@huntzen.example").to_lowercase(),
                role,
                None,
            )
            .await;
        let session: Uuid = sqlx::query_scalar(
            "INSERT INTO login_sessions (user_id, expires_at) VALUES ($1, now() + interval '1 hour') RETURNING id",
        )
        .bind(user)
        .fetch_one(system)
        .await
        .expect("session");
        let mut tx = context(app.db(), session).await;
        for table in [
            "consultations",
            "consultation_events",
            "messages",
            "clinical_notes",
            "journal_entries",
            "employees",
            "files",
            "notifications",
            "consents",
        ] {
            assert_eq!(count_all(&mut tx, table).await, 0, "{role} reads {table}");
        }
        let employee_users: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'EMPLOYEE'")
                .fetch_one(&mut *tx)
                .await
                .expect("users");
        assert_eq!(employee_users, 0, "{role} reads employees' accounts");
        let companies: i64 = sqlx::query_scalar("SELECT count(*) FROM companies")
            .fetch_one(&mut *tx)
            .await
            .expect("c");
        assert_eq!(companies, 1, "{role} manages companies");
    }
}

/// Each statement runs as A's user and writes a row attributed to tenant B: all must fail.
#[tokio::test]
async fn writing_a_row_for_another_tenant_fails() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let a = fixtures::tenant(system, "alpha").await;
    let b = fixtures::tenant(system, "beta").await;
    let hr = [
        (
            "users",
            "INSERT INTO users (email, role, company_id) VALUES ('x@beta.example', 'EMPLOYEE', $1)",
        ),
        (
            "employees",
            "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($2, $1, 'x', 'y')",
        ),
        (
            "news",
            "INSERT INTO news (company_id, title, content) VALUES ($1, 't', 'c')",
        ),
        (
            "audit_logs",
            "INSERT INTO audit_logs (user_id, action, resource, company_id) VALUES ($2, 'UPDATE', 'x', $1)",
        ),
    ];
    let employee = [
        (
            "consultations",
            "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format) \
             VALUES ($1, $3, $4, now() + interval '90 days', 'VIDEO')",
        ),
        (
            "messages",
            "INSERT INTO messages (consultation_id, sender_id, sender_role, content, key_id) SELECT $5, app_user_id(), 'EMPLOYEE', '\\x00', gen_random_uuid()",
        ),
        (
            "consultation_events",
            "INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role) VALUES ($5, 'ROOM_JOINED', app_user_id(), 'EMPLOYEE')",
        ),
        (
            "journal_entries",
            "INSERT INTO journal_entries (employee_id, content, key_id) VALUES ($3, '\\x00', gen_random_uuid())",
        ),
        (
            "notifications",
            "INSERT INTO notifications (user_id, type, title, message) VALUES ($2, 'SYSTEM', 't', 'm')",
        ),
        (
            "consents",
            "INSERT INTO consents (user_id, type, version, given) VALUES ($2, 'T', '1', true)",
        ),
        (
            "files",
            "INSERT INTO files (owner_user_id, purpose, content_type, size, storage_key) VALUES ($2, 'X', 'a/b', 1, 'k')",
        ),
        (
            "data_keys",
            "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) VALUES ('EMPLOYEE', $3, 'k', '\\x01')",
        ),
    ];
    let practitioner = [
        (
            "clinical_notes",
            "INSERT INTO clinical_notes (consultation_id, practitioner_id, content, key_id) VALUES ($5, $4, '\\x00', gen_random_uuid())",
        ),
        (
            "clinical_notes (own id)",
            "INSERT INTO clinical_notes (consultation_id, practitioner_id, content, key_id) VALUES ($5, $6, '\\x00', gen_random_uuid())",
        ),
    ];
    let groups: [(Uuid, &[(&str, &str)]); 3] = [
        (a.hr_session, &hr),
        (a.employee_session, &employee),
        (a.practitioner_session, &practitioner),
    ];
    for (session, statements) in groups {
        for (table, sql) in statements {
            let mut tx = context(app.db(), session).await;
            let result = sqlx::query(sqlx::AssertSqlSafe(*sql))
                .bind(b.company)
                .bind(b.employee_user)
                .bind(b.employee)
                .bind(b.practitioner)
                .bind(b.consultation)
                .bind(a.practitioner)
                .execute(&mut *tx)
                .await;
            let error = result
                .err()
                .unwrap_or_else(|| panic!("insert into {table} for tenant B succeeded"));
            let code = error
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned());
            assert_eq!(
                code.as_deref(),
                Some("42501"),
                "insert into {table}: unexpected error {error}"
            );
        }
    }
    // Updates and deletes aimed at B touch nothing.
    let mut tx = context(app.db(), a.hr_session).await;
    for sql in [
        "UPDATE employees SET department = 'hacked' WHERE company_id = $1",
        "UPDATE companies SET name = 'hacked' WHERE id = $1",
        "UPDATE users SET is_active = false WHERE company_id = $1",
        "DELETE FROM employees WHERE company_id = $1",
        "DELETE FROM news WHERE company_id = $1",
    ] {
        let affected = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(b.company)
            .execute(&mut *tx)
            .await
            .expect(sql);
        assert_eq!(affected.rows_affected(), 0, "{sql}");
    }
}

#[tokio::test]
async fn self_service_cannot_grant_itself_privileges() {
    let app = TestApp::spawn().await;
    let a = fixtures::tenant(&app.db().system, "alpha").await;
    let attempts = [
        (
            a.practitioner_session,
            "UPDATE practitioners SET is_validated = false WHERE user_id = app_user_id()",
        ),
        (
            a.employee_session,
            "UPDATE users SET role = 'ADMIN_RH' WHERE id = app_user_id()",
        ),
        (
            a.employee_session,
            "UPDATE users SET company_id = gen_random_uuid() WHERE id = app_user_id()",
        ),
        (
            a.hr_session,
            "UPDATE companies SET is_active = false WHERE id = app_company_id()",
        ),
        (
            a.hr_session,
            "UPDATE users SET role = 'ADMIN_HUNTZEN' WHERE id = app_user_id()",
        ),
    ];
    for (session, sql) in attempts {
        let mut tx = context(app.db(), session).await;
        let result = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await;
        assert!(result.is_err(), "`{sql}` succeeded");
    }
}

#[tokio::test]
async fn a_pooled_connection_carries_no_context_into_the_next_transaction() {
    let app = TestApp::spawn_with(PoolSizes { app: 1, system: 2 }).await;
    let a = fixtures::tenant(&app.db().system, "alpha").await;
    for finish_with_commit in [true, false] {
        let mut tx = context(app.db(), a.employee_session).await;
        assert_eq!(count_all(&mut tx, "consultations").await, 1);
        if finish_with_commit {
            tx.commit().await.expect("commit");
        } else {
            tx.rollback().await.expect("rollback");
        }
        let mut next = begin_anonymous(&app.db().app).await.expect("next");
        let (user, role): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT current_setting('app.user_id', true), current_setting('app.role', true)",
        )
        .fetch_one(&mut *next)
        .await
        .expect("settings");
        assert!(user.unwrap_or_default().is_empty() && role.unwrap_or_default().is_empty());
        assert_eq!(count_all(&mut next, "consultations").await, 0);
        assert_eq!(count_all(&mut next, "employees").await, 0);
    }
    // Outside any explicit transaction too.
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db().app)
        .await
        .expect("users");
    assert_eq!(visible, 0);
}

#[tokio::test]
async fn an_ended_session_or_inactive_account_opens_no_context() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let a = fixtures::tenant(system, "alpha").await;
    assert!(
        begin_as(&app.db().app, a.employee_session)
            .await
            .expect("begin")
            .is_some()
    );
    sqlx::query("UPDATE login_sessions SET revoked_at = now() WHERE id = $1")
        .bind(a.employee_session)
        .execute(system)
        .await
        .expect("revoke");
    assert!(
        begin_as(&app.db().app, a.employee_session)
            .await
            .expect("begin")
            .is_none()
    );

    assert!(
        begin_as(&app.db().app, a.hr_session)
            .await
            .expect("begin")
            .is_some()
    );
    sqlx::query("UPDATE companies SET is_active = false WHERE id = $1")
        .bind(a.company)
        .execute(system)
        .await
        .expect("company");
    assert!(
        begin_as(&app.db().app, a.hr_session)
            .await
            .expect("begin")
            .is_none(),
        "deactivated company"
    );

    assert!(
        begin_as(&app.db().app, a.practitioner_session)
            .await
            .expect("begin")
            .is_some()
    );
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(a.practitioner_user)
        .execute(system)
        .await
        .expect("user");
    assert!(
        begin_as(&app.db().app, a.practitioner_session)
            .await
            .expect("begin")
            .is_none(),
        "deactivated user"
    );
}
