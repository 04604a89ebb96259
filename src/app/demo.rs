//! `huntzen seed-demo`: a demo tenant (HR admin, employees), validated practitioners with weekly
//! availability, and consultations in every state, so that a new user can open `/room` in two
//! windows right away. Written in one transaction; running it again only resets the demo accounts'
//! password. Refused when `APP_ENV=production` (it publishes a known password).

use anyhow::bail;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::care::scheduling::consultations::room_name;
use crate::infra::audit::{Action, Entry};
use crate::infra::config::{AppEnv, Settings};
use crate::infra::db::Db;
use crate::infra::identity::Role;
use crate::infra::passwords::Passwords;
use crate::people::accounts::users::{NewUser, create_user};

/// The password of every demo account unless `--password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "Salle-de-demo-HuntZen-2026";
/// The demo company's slug (how a second run recognises it).
pub const COMPANY_SLUG: &str = "demo-huntzen";
const DOMAIN: &str = "demo.huntzen.test";

/// One demo login.
#[derive(Debug, Clone)]
pub struct Login {
    pub role: Role,
    pub email: String,
    pub name: String,
}

/// What `seed` did.
#[derive(Debug)]
pub struct Seeded {
    /// False when the demo already existed (only passwords were reset).
    pub created: bool,
    pub logins: Vec<Login>,
    /// (status, format, employee, practitioner, when) of each consultation.
    pub consultations: Vec<(
        String,
        String,
        String,
        String,
        chrono::DateTime<chrono::Utc>,
    )>,
}

/// Refuses demo data in production.
pub fn ensure_allowed(settings: &Settings) -> anyhow::Result<()> {
    if settings.app_env == AppEnv::Production {
        bail!(
            "seed-demo is refused when APP_ENV=production: it creates accounts with a published password"
        );
    }
    Ok(())
}

struct Person {
    first: &'static str,
    last: &'static str,
    email: &'static str,
}

const HR: Person = Person {
    first: "Hélène",
    last: "Roux",
    email: "rh@demo.huntzen.test",
};
const EMPLOYEES: [(Person, &str); 3] = [
    (
        Person {
            first: "Camille",
            last: "Martin",
            email: "camille.martin@demo.huntzen.test",
        },
        "Produit",
    ),
    (
        Person {
            first: "Lucas",
            last: "Bernard",
            email: "lucas.bernard@demo.huntzen.test",
        },
        "Ventes",
    ),
    (
        Person {
            first: "Inès",
            last: "Petit",
            email: "ines.petit@demo.huntzen.test",
        },
        "Produit",
    ),
];
const PRACTITIONERS: [(Person, &str, &str); 3] = [
    (
        Person {
            first: "Julien",
            last: "Durand",
            email: "dr.durand@praticiens.huntzen.test",
        },
        "Dr",
        "PSYCHIATRE",
    ),
    (
        Person {
            first: "Sophie",
            last: "Leroy",
            email: "sophie.leroy@praticiens.huntzen.test",
        },
        "Mme",
        "PSYCHOLOGUE_CLINICIEN",
    ),
    (
        Person {
            first: "Marc",
            last: "Fontaine",
            email: "marc.fontaine@praticiens.huntzen.test",
        },
        "M.",
        "COACH_MENTAL",
    ),
];

/// Consultations of the demo: (employee index, practitioner index, format, status, minutes from now).
const CONSULTATIONS: [(usize, usize, &str, &str, i32); 6] = [
    (0, 0, "AUDIO", "CONFIRMED", 10),
    (0, 1, "VIDEO", "IN_PROGRESS", -5),
    (1, 0, "IN_PERSON", "SCHEDULED", 2 * 24 * 60),
    (0, 0, "AUDIO", "COMPLETED", -7 * 24 * 60),
    (2, 1, "VIDEO", "CANCELLED", -3 * 24 * 60),
    (1, 2, "AUDIO", "NO_SHOW", -14 * 24 * 60),
];

fn all_logins() -> Vec<Login> {
    let mut logins = vec![Login {
        role: Role::AdminRh,
        email: HR.email.to_owned(),
        name: format!("{} {}", HR.first, HR.last),
    }];
    logins.extend(EMPLOYEES.iter().map(|(p, _)| Login {
        role: Role::Employee,
        email: p.email.to_owned(),
        name: format!("{} {}", p.first, p.last),
    }));
    logins.extend(PRACTITIONERS.iter().map(|(p, title, _)| Login {
        role: Role::Practitioner,
        email: p.email.to_owned(),
        name: format!("{title} {} {}", p.first, p.last),
    }));
    logins
}

/// Creates the demo (or resets its passwords when it exists). Consultations get their Jitsi room
/// name from `jitsi_secret`, as booked ones do, so the Jitsi webhook finds them.
pub async fn seed(db: &Db, password: &str, jitsi_secret: &[u8]) -> anyhow::Result<Seeded> {
    if password.chars().count() < 12 {
        bail!("the demo password must have at least 12 characters");
    }
    let hash = Passwords::new(1)?
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let logins = all_logins();
    let emails: Vec<String> = logins.iter().map(|l| l.email.clone()).collect();
    let mut tx = crate::infra::db::context::begin(&db.system).await?;
    let existing: Option<Uuid> = sqlx::query_scalar!(
        r#"SELECT id
           FROM companies
           WHERE slug = $1"#,
        COMPANY_SLUG
    )
    .fetch_optional(&mut *tx)
    .await?;
    let created = existing.is_none();
    if let Some(company) = existing {
        sqlx::query!(
            r#"UPDATE users SET password_hash = $1, password_changed_at = now()
               WHERE lower(email) = ANY($2)"#,
            &hash,
            &emails
        )
        .execute(&mut *tx)
        .await?;
        Entry::new(Action::Update, "demo")
            .target(company)
            .details(serde_json::json!({ "via": "seed-demo", "passwordsReset": emails.len() }))
            .record(&mut tx)
            .await?;
        // Demos seeded before room names were given to them get theirs now.
        let unnamed: Vec<Uuid> = sqlx::query_scalar!(
            r#"SELECT id FROM consultations WHERE company_id = $1 AND room_name IS NULL"#,
            company
        )
        .fetch_all(&mut *tx)
        .await?;
        for id in unnamed {
            sqlx::query!(
                r#"UPDATE consultations SET room_name = $2 WHERE id = $1"#,
                id,
                room_name(jitsi_secret, id)
            )
            .execute(&mut *tx)
            .await?;
        }
    } else {
        let company = create(&mut tx, &hash, jitsi_secret).await?;
        Entry::new(Action::Create, "demo")
            .target(company)
            .details(serde_json::json!({ "via": "seed-demo" }))
            .record(&mut tx)
            .await?;
    }
    let consultations = sqlx::query!(
        r#"SELECT c.status::text AS "status!", c.format::text AS "format!",
             e.first_name || ' ' || e.last_name AS "employee!",
             p.title || ' ' || p.first_name || ' ' || p.last_name AS "practitioner!",
             c.scheduled_at
           FROM consultations c
           JOIN employees e ON e.id = c.employee_id
           JOIN practitioners p ON p.id = c.practitioner_id
           JOIN companies co ON co.id = c.company_id
           WHERE co.slug = $1
           ORDER BY c.scheduled_at"#,
        COMPANY_SLUG
    )
    .map(|r| {
        (
            r.status,
            r.format,
            r.employee,
            r.practitioner,
            r.scheduled_at,
        )
    })
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Seeded {
        created,
        logins,
        consultations,
    })
}

async fn user(
    tx: &mut Transaction<'_, Postgres>,
    person: &Person,
    role: Role,
    company: Option<Uuid>,
    hash: &str,
) -> anyhow::Result<Uuid> {
    let new = NewUser {
        company_id: company,
        password_hash: Some(hash),
        first_name: Some(person.first),
        last_name: Some(person.last),
        email_verified: true,
        ..NewUser::new(person.email, role)
    };
    let id = create_user(tx, &new)
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", person.email))?;
    Ok(id)
}

async fn create(
    tx: &mut Transaction<'_, Postgres>,
    hash: &str,
    jitsi_secret: &[u8],
) -> anyhow::Result<Uuid> {
    let company: Uuid = sqlx::query_scalar!(
        r#"INSERT INTO companies (name, slug, domain, sector, city, is_active, validated_at, auto_approve_employees, contact_email)
           VALUES ('Démo HuntZen', $1, $2, 'Logiciel', 'Lyon', true, now(), true, $3)
           RETURNING id"#,
        COMPANY_SLUG,
        DOMAIN,
        HR.email
    )
    .fetch_one(&mut **tx)
    .await?;
    user(tx, &HR, Role::AdminRh, Some(company), hash).await?;
    let mut employees = Vec::new();
    for (person, department) in &EMPLOYEES {
        let user_id = user(tx, person, Role::Employee, Some(company), hash).await?;
        let id: Uuid = sqlx::query_scalar!(
            r#"INSERT INTO employees (user_id, company_id, first_name, last_name, department, consent_given_at, onboarding_completed_at)
               VALUES ($1, $2, $3, $4, $5, now(), now())
               RETURNING id"#,
            user_id,
            company,
            person.first,
            person.last,
            department
        )
        .fetch_one(&mut **tx)
        .await?;
        employees.push(id);
    }
    let mut practitioners = Vec::new();
    for (person, title, specialty) in &PRACTITIONERS {
        let user_id = user(tx, person, Role::Practitioner, None, hash).await?;
        let id: Uuid = sqlx::query_scalar!(
            r#"INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, languages, bio, experience, is_validated, validated_at, documents_verified, time_zone, offers_in_person)
               VALUES ($1, $2, $3, $4, $5::text::specialty, '{fr,en}', 'Praticien de démonstration.', 10, true, now(), true, 'Europe/Paris', true)
               RETURNING id"#,
            user_id,
            person.first,
            person.last,
            title,
            specialty
        )
        .fetch_one(&mut **tx)
        .await?;
        // Monday to Friday, 09:00–17:00 Paris time, 50-minute slots.
        sqlx::query!(
            r#"INSERT INTO availabilities (practitioner_id, day_of_week, start_time, end_time, slot_duration) SELECT $1,
                 d, '09:00', '17:00', 50
               FROM generate_series(1, 5) AS d"#,
            id
        )
        .execute(&mut **tx)
        .await?;
        practitioners.push(id);
    }
    for (employee, practitioner, format, status, minutes) in CONSULTATIONS {
        let id = Uuid::new_v4();
        sqlx::query!(
            r#"INSERT INTO consultations (id, room_name, company_id, employee_id, practitioner_id, scheduled_at, duration, format, status, started_at, ended_at, actual_duration, cancelled_at, cancelled_by, cancel_reason) SELECT $7, $8, $1,
                 $2, $3, at, 50, $4::text::consultation_format, $5::text::consultation_status,
                 CASE WHEN $5 IN ('IN_PROGRESS', 'COMPLETED') THEN at END,
                 CASE WHEN $5 = 'COMPLETED' THEN at + interval '45 minutes' END,
                 CASE WHEN $5 = 'COMPLETED' THEN 45 END,
                 CASE WHEN $5 = 'CANCELLED' THEN at - interval '1 day' END,
                 CASE WHEN $5 = 'CANCELLED' THEN (SELECT user_id FROM employees WHERE id = $2) END,
                 CASE WHEN $5 = 'CANCELLED' THEN 'Empêchement' END
               FROM (SELECT date_trunc('minute', now()) + make_interval(mins => $6) AS at) AS t"#,
            company,
            employees[employee],
            practitioners[practitioner],
            format,
            status,
            minutes,
            id,
            room_name(jitsi_secret, id)
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(company)
}

/// The summary printed by the command.
pub fn describe(seeded: &Seeded, password: &str, public_url: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let verb = if seeded.created {
        "created"
    } else {
        "already present; passwords reset"
    };
    let _ = writeln!(out, "Demo data {verb} (company \"Démo HuntZen\").");
    let _ = writeln!(out, "Password of every demo account: {password}\n");
    for login in &seeded.logins {
        let _ = writeln!(
            out,
            "  {:<13} {:<42} {}",
            login.role.to_string(),
            login.email,
            login.name
        );
    }
    let _ = writeln!(out, "\nConsultations:");
    for (status, format, employee, practitioner, at) in &seeded.consultations {
        let _ = writeln!(
            out,
            "  {:<12} {:<10} {} with {} at {}",
            status,
            format,
            employee,
            practitioner,
            at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    let room = format!("{}/room", public_url.trim_end_matches('/'));
    let _ = writeln!(
        out,
        "\nOpen {room} in two windows: sign in as {} in one and {} in the other,\nopen the AUDIO consultation, chat, and press \"Appeler\" / \"Call\".",
        EMPLOYEES[0].0.email, PRACTITIONERS[0].0.email
    );
    out
}
