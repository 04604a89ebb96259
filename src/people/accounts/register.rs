//! `POST /api/auth/register`: employees (by their company's email domains) and practitioners sign
//! themselves up; other roles are created by administrators. The answer is the same 202 whatever
//! the address, and only its mailbox learns what happened: a verification link (new account), a
//! notice (the address has an account), or a pointer to HR (no customer uses the domain). An
//! unverified registration grants nothing and gives way to an invitation of the same address.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::throttle;
use super::users::{NewUser, create_user};
use crate::care::practitioners::model::{Specialty, is_time_zone};
use crate::infra::audit::{Action, Entry};
use crate::infra::error::{ApiResult, Validator};
use crate::infra::extract::ApiJson;
use crate::infra::fields::{email, locale, required};
use crate::infra::identity::Role;
use crate::infra::jobs::{enqueue_mail, enqueue_mail_to_address};
use crate::infra::mail::MailKind;
use crate::infra::passwords::check_strength;
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// Sign-up request. Practitioners also give `title`, `specialty`, `languages` and `bio`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Email; for employees, its domain must be an active company's.
    pub email: String,
    /// 12 to 128 characters, not guessable.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// `EMPLOYEE` or `PRACTITIONER`.
    #[schema(schema_with = registrable_role)]
    pub role: Role,
    /// First name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub first_name: String,
    /// Last name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub last_name: String,
    /// `fr` (default) or `en`.
    #[serde(default)]
    #[schema(pattern = "^(fr|en)$")]
    pub locale: Option<String>,
    /// Employee: department.
    #[serde(default)]
    pub department: Option<String>,
    /// Employee: position.
    #[serde(default)]
    pub position: Option<String>,
    /// Practitioner: title (Dr., Mme, M.).
    #[serde(default)]
    pub title: Option<String>,
    /// Practitioner: specialty.
    #[serde(default)]
    pub specialty: Option<Specialty>,
    /// Practitioner: languages spoken (ISO 639-1 codes).
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    /// Practitioner: public biography.
    #[serde(default)]
    pub bio: Option<String>,
    /// Practitioner: IANA time zone of their availability (default `Europe/Paris`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Practitioner: offers video consultations (default true).
    #[serde(default)]
    pub offers_video: Option<bool>,
    /// Practitioner: offers audio consultations (default true).
    #[serde(default)]
    pub offers_phone: Option<bool>,
    /// Practitioner: offers in-person consultations (default false).
    #[serde(default)]
    pub offers_in_person: Option<bool>,
}

/// The roles one can register with (the others are created by administrators).
fn registrable_role() -> utoipa::openapi::Object {
    crate::infra::schemas::string_enum(&["EMPLOYEE", "PRACTITIONER"])
}

/// The same answer whatever the address: new, already in use, or of no customer's domain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationSent {
    /// Always `verification_sent`: the mailbox's owner learns by mail what happened.
    pub status: &'static str,
}

/// Create an employee or practitioner account. Answers 202 `verification_sent` in every case —
/// new address, address already in use, domain of no customer — and the mail tells the mailbox's
/// owner which. Nothing is granted before the mailed link is used. Limited per client address
/// and per email domain (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = RegistrationSent), (status = 422, body = crate::infra::error::Problem),
              (status = 429, body = crate::infra::error::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegistrationSent>)> {
    let mut v = Validator::new();
    let email = email(&mut v, "email", &body.email);
    v.check(
        matches!(body.role, Role::Employee | Role::Practitioner),
        "role",
        "only EMPLOYEE or PRACTITIONER accounts can register; others are created by administrators",
    );
    let first_name = required(&mut v, "firstName", &body.first_name, 100);
    let last_name = required(&mut v, "lastName", &body.last_name, 100);
    let locale = locale(&mut v, body.locale.as_deref());
    let practitioner = body.role == Role::Practitioner;
    if practitioner {
        v.check(
            body.title.as_deref().is_some_and(|t| !t.trim().is_empty()),
            "title",
            "is required for practitioners",
        );
        v.check(
            body.specialty.is_some(),
            "specialty",
            "is required for practitioners",
        );
        v.check(
            body.languages.as_ref().is_some_and(|l| !l.is_empty()),
            "languages",
            "list at least one language",
        );
        v.check(
            body.bio.as_deref().is_some_and(|b| !b.trim().is_empty()),
            "bio",
            "is required for practitioners",
        );
        v.check(
            body.bio
                .as_deref()
                .is_none_or(|b| b.chars().count() <= 5000),
            "bio",
            "must have at most 5000 characters",
        );
        v.check(
            body.time_zone.as_deref().is_none_or(is_time_zone),
            "timeZone",
            "must be an IANA time zone such as Europe/Paris",
        );
        v.check(
            body.languages.iter().flatten().all(|l| {
                (2..=8).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
            }),
            "languages",
            "use language codes such as fr, en",
        );
    }
    v.finish()?;

    let domain = email
        .split_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    // Checked before anything else is looked at, and counted whatever happens next.
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let (per_address, per_domain) = (
        throttle::REGISTER_PER_ADDRESS,
        throttle::REGISTER_PER_DOMAIN,
    );
    let address = client.ip.as_deref();
    throttle::check_both(&mut tx, per_domain, domain.as_bytes(), per_address, address).await?;
    throttle::record_both(&mut tx, per_domain, domain.as_bytes(), per_address, address).await?;
    // The strength check may not depend on who the customers are, so its context is the request.
    let domain_label = domain.split('.').next().unwrap_or_default();
    check_strength(
        "password",
        &body.password,
        &[&email, &first_name, &last_name, domain_label],
    )?;
    // Hashed in every case, so the three answers take the same time.
    let hash = state.passwords.hash(&body.password).await?;
    let sent = (
        StatusCode::ACCEPTED,
        Json(RegistrationSent {
            status: "verification_sent",
        }),
    );
    let existing = sqlx::query!(
        r#"SELECT id, self_registered AND NOT email_verified AS "replaceable!"
           FROM users WHERE lower(email) = $1 AND erased_at IS NULL"#,
        email
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(existing) = existing.filter(|e| !e.replaceable) {
        enqueue_mail(&mut tx, MailKind::RegistrationExists, existing.id).await?;
        tx.commit().await?;
        return Ok(sent);
    }
    let company: Option<(Uuid, bool)> = if practitioner {
        None
    } else {
        let found = sqlx::query!(
            "SELECT id, auto_approve_employees FROM companies
             WHERE $1 = ANY (domains) AND is_active AND deleted_at IS NULL",
            domain
        )
        .map(|r| (r.id, r.auto_approve_employees))
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            enqueue_mail_to_address(&mut tx, MailKind::RegistrationNoCompany, &email, &locale)
                .await?;
            tx.commit().await?;
            return Ok(sent);
        }
        found
    };
    let awaiting_approval = company.as_ref().is_some_and(|c| !c.1);
    let created = create_user(
        &mut tx,
        &NewUser {
            company_id: company.as_ref().map(|c| c.0),
            password_hash: Some(&hash),
            awaiting_approval,
            locale: Some(&locale),
            self_registered: true,
            ..NewUser::new(&email, body.role)
        },
    )
    .await;
    let user_id = match created {
        Ok(id) => id,
        // A concurrent creation of the same address won: the same answer, and its mail.
        Err(error) if error.code() == "user.email_taken" => return Ok(sent),
        Err(error) => return Err(error),
    };
    if let Some((company_id, _)) = &company {
        sqlx::query!(
            r#"INSERT INTO employees (user_id, company_id, first_name, last_name, department, position)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
            user_id,
            company_id,
            &first_name,
            &last_name,
            body.department.as_deref().map(str::trim).filter(|d| !d.is_empty()),
            body.position.as_deref().map(str::trim).filter(|p| !p.is_empty())
        )
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query!(
            r#"INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, languages, bio, time_zone, offers_video, offers_phone, offers_in_person)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
            user_id,
            &first_name,
            &last_name,
            body.title.as_deref().map(str::trim),
            body.specialty,
            &body.languages
                .unwrap_or_default()
                .iter()
                .map(|l| l.to_lowercase())
                .collect::<Vec<_>>(),
            body.bio.as_deref().map(str::trim),
            body.time_zone.as_deref().unwrap_or("Europe/Paris"),
            body.offers_video.unwrap_or(true),
            body.offers_phone.unwrap_or(true),
            body.offers_in_person.unwrap_or(false)
        )
        .execute(&mut *tx)
        .await?;
    }
    enqueue_mail(&mut tx, MailKind::VerifyEmail, user_id).await?;
    let company_id = company.as_ref().map(|c| c.0);
    Entry::new(Action::Create, "user")
        .by(user_id, body.role, company_id)
        .target(user_id)
        .from_client(&client)
        .details(serde_json::json!({ "via": "self-registration" }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(sent)
}
