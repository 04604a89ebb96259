//! Two complete tenants, written as the owner (bypassing RLS): every scoped table gets rows for
//! each, so isolation tests can look for the other tenant's rows everywhere.

use huntzen::infra::identity::Role;
use sqlx::PgPool;
use uuid::Uuid;

/// The ids of one tenant's world.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub company: Uuid,
    pub hr_user: Uuid,
    pub employee_user: Uuid,
    pub employee: Uuid,
    pub practitioner_user: Uuid,
    pub practitioner: Uuid,
    pub consultation: Uuid,
    /// A login session per user: HR, employee, practitioner.
    pub hr_session: Uuid,
    pub employee_session: Uuid,
    pub practitioner_session: Uuid,
}

async fn id(pool: &PgPool, sql: &'static str, binds: &[Uuid]) -> Uuid {
    let mut query = sqlx::query_scalar::<_, Uuid>(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    query
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("fixture `{sql}`: {e}"))
}

async fn user(pool: &PgPool, tag: &str, who: &str, role: Role, company: Option<Uuid>) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO users (email, role, company_id) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(format!("{who}@{tag}.example"))
    .bind(role)
    .bind(company)
    .fetch_one(pool)
    .await
    .expect("fixture user")
}

async fn session(pool: &PgPool, user: Uuid) -> Uuid {
    let session = id(
        pool,
        "INSERT INTO login_sessions (user_id, expires_at) VALUES ($1, now() + interval '1 day') RETURNING id",
        &[user],
    )
    .await;
    sqlx::query(
        "INSERT INTO refresh_tokens (session_id, user_id, token_hash, expires_at) \
         VALUES ($1, $2, decode(md5(random()::text), 'hex'), now() + interval '1 day')",
    )
    .bind(session)
    .bind(user)
    .execute(pool)
    .await
    .expect("fixture refresh token");
    sqlx::query(
        "INSERT INTO one_time_tokens (user_id, purpose, token_hash, expires_at) \
         VALUES ($1, 'VERIFY_EMAIL', decode(md5(random()::text), 'hex'), now() + interval '1 day')",
    )
    .bind(user)
    .execute(pool)
    .await
    .expect("fixture one-time token");
    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, '\\x00')")
        .bind(user)
        .execute(pool)
        .await
        .expect("fixture recovery code");
    for sql in [
        "INSERT INTO notifications (user_id, type, title, message) VALUES ($1, 'SYSTEM', 'hello', 'world')",
        "INSERT INTO consents (user_id, type, version, given) VALUES ($1, 'TERMS', '1', true)",
        "INSERT INTO audit_logs (user_id, action, resource) VALUES ($1, 'LOGIN', 'user')",
        "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) VALUES ('USER', $1, 'k', '\\x01')",
    ] {
        sqlx::query(sql)
            .bind(user)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("fixture `{sql}`: {e}"));
    }
    session
}

/// Creates one tenant named `tag` (company, HR, employee, practitioner, consultation and every
/// dependent row).
pub async fn tenant(pool: &PgPool, tag: &str) -> Tenant {
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ($1, $1, $2, true) RETURNING id",
    )
    .bind(tag)
    .bind(format!("{tag}.example"))
    .fetch_one(pool)
    .await
    .expect("fixture company");
    let hr_user = user(pool, tag, "hr", Role::AdminRh, Some(company)).await;
    let employee_user = user(pool, tag, "employee", Role::Employee, Some(company)).await;
    let practitioner_user = user(pool, tag, "practitioner", Role::Practitioner, None).await;
    let employee = id(
        pool,
        "INSERT INTO employees (user_id, company_id, first_name, last_name, department) \
         VALUES ($1, $2, 'Emma', 'Employee', 'Sales') RETURNING id",
        &[employee_user, company],
    )
    .await;
    let practitioner = id(
        pool,
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) \
         VALUES ($1, 'Paul', 'Practitioner', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
        &[practitioner_user],
    )
    .await;
    sqlx::query(
        "INSERT INTO availabilities (practitioner_id, day_of_week, start_time, end_time) VALUES ($1, 1, '09:00', '17:00')",
    )
    .bind(practitioner)
    .execute(pool)
    .await
    .expect("fixture availability");
    let consultation = id(
        pool,
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format) \
         VALUES ($1, $2, $3, now() + interval '2 days' + (random() * interval '30 days'), 'VIDEO') RETURNING id",
        &[company, employee, practitioner],
    )
    .await;
    id(
        pool,
        "INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role) \
         VALUES ($1, 'SCHEDULED', $2, 'EMPLOYEE') RETURNING id",
        &[consultation, employee_user],
    )
    .await;
    let consultation_key = id(
        pool,
        "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) \
         VALUES ('CONSULTATION', $1, 'k', '\\x01') RETURNING id",
        &[consultation],
    )
    .await;
    let employee_key = id(
        pool,
        "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) \
         VALUES ('EMPLOYEE', $1, 'k', '\\x01') RETURNING id",
        &[employee],
    )
    .await;
    let file = id(
        pool,
        "INSERT INTO files (owner_user_id, company_id, consultation_id, purpose, content_type, size, storage_key) \
         VALUES ($1, $2, $3, 'CHAT_ATTACHMENT', 'application/pdf', 3, gen_random_uuid()::text) RETURNING id",
        &[employee_user, company, consultation],
    )
    .await;
    id(
        pool,
        "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) \
         VALUES ('FILE', $1, 'k', '\\x01') RETURNING id",
        &[file],
    )
    .await;
    id(
        pool,
        "INSERT INTO messages (consultation_id, sender_id, sender_role, content, key_id, attachment_file_id) \
         VALUES ($1, $2, 'EMPLOYEE', '\\x02', $3, $4) RETURNING id",
        &[consultation, employee_user, consultation_key, file],
    )
    .await;
    id(
        pool,
        "INSERT INTO clinical_notes (consultation_id, practitioner_id, content, key_id) \
         VALUES ($1, $2, '\\x03', $3) RETURNING id",
        &[consultation, practitioner, consultation_key],
    )
    .await;
    id(
        pool,
        "INSERT INTO journal_entries (employee_id, content, key_id) VALUES ($1, '\\x04', $2) RETURNING id",
        &[employee, employee_key],
    )
    .await;
    id(
        pool,
        "INSERT INTO news (company_id, title, content, author_id) VALUES ($1, 'News', 'Body', $2) RETURNING id",
        &[company, hr_user],
    )
    .await;
    // A support ticket of the employee, with its key and a reply.
    let ticket = Uuid::new_v4();
    let ticket_key = id(
        pool,
        "INSERT INTO data_keys (subject_type, subject_id, master_key_id, wrapped_key) \
         VALUES ('TICKET', $1, 'k', '\\x01') RETURNING id",
        &[ticket],
    )
    .await;
    id(
        pool,
        "INSERT INTO support_tickets (id, creator_id, creator_role, category, key_id, subject, body) \
         VALUES ($1, $2, 'EMPLOYEE', 'OTHER', $3, '\\x05', '\\x06') RETURNING id",
        &[ticket, employee_user, ticket_key],
    )
    .await;
    id(
        pool,
        "INSERT INTO support_ticket_replies (ticket_id, author_id, author_role, body) \
         VALUES ($1, $2, 'EMPLOYEE', '\\x07') RETURNING id",
        &[ticket, employee_user],
    )
    .await;
    sqlx::query("INSERT INTO audit_logs (user_id, action, resource, company_id) VALUES ($1, 'UPDATE', 'company', $2)")
        .bind(hr_user)
        .bind(company)
        .execute(pool)
        .await
        .expect("fixture audit");
    sqlx::query(
        "INSERT INTO articles (title, slug, category, author_role, status) VALUES ($1, $1, 'WELLBEING', 'ADMIN_HUNTZEN', 'DRAFT')",
    )
    .bind(format!("draft-{tag}"))
    .execute(pool)
    .await
    .expect("fixture article");
    Tenant {
        company,
        hr_user,
        employee_user,
        employee,
        practitioner_user,
        practitioner,
        consultation,
        hr_session: session(pool, hr_user).await,
        employee_session: session(pool, employee_user).await,
        practitioner_session: session(pool, practitioner_user).await,
    }
}
