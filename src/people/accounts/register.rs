//! `POST /api/auth/register`: employees (by their company's email domain) and practitioners sign
//! themselves up. Other roles are created by administrators. A verification email is always sent.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::users::{NewUser, create_user};
use crate::care::practitioners::model::{Specialty, is_time_zone};
use crate::infra::audit::{Action, Entry};
use crate::infra::error::{ApiError, ApiResult, Validator};
use crate::infra::extract::ApiJson;
use crate::infra::fields::{email, locale, required};
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
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

/// The new account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// User id.
    pub id: Uuid,
    /// Email (lower-cased).
    pub email: String,
    /// Role.
    pub role: Role,
    /// Company (employees).
    pub company_id: Option<Uuid>,
    /// Whether the account can sign in now.
    pub is_active: bool,
    /// Employee waiting for the HR admin's approval.
    pub awaiting_approval: bool,
    /// Practitioner waiting for validation by the platform (signs in, not listed yet).
    pub awaiting_validation: bool,
    /// Always false here: the verification email is on its way.
    pub email_verified: bool,
}

/// Create an employee or practitioner account.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 409, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
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

    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let domain = email.split_once('@').map(|(_, d)| d).unwrap_or_default();
    let company: Option<(Uuid, String, bool)> = if practitioner {
        None
    } else {
        let found = sqlx::query!(
            "SELECT id, name, auto_approve_employees FROM companies
             WHERE lower(domain) = $1 AND is_active AND deleted_at IS NULL",
            domain
        )
        .map(|r| (r.id, r.name, r.auto_approve_employees))
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(ApiError::invalid_field(
                "email",
                "no company on HuntZen Care uses this email domain; ask your HR department",
            ));
        }
        found
    };
    let company_name = company.as_ref().map(|c| c.1.as_str()).unwrap_or("");
    check_strength(
        "password",
        &body.password,
        &[&email, &first_name, &last_name, company_name],
    )?;
    let hash = state.passwords.hash(&body.password).await?;
    let awaiting_approval = company.as_ref().is_some_and(|c| !c.2);
    let user_id = create_user(
        &mut tx,
        &NewUser {
            company_id: company.as_ref().map(|c| c.0),
            password_hash: Some(&hash),
            awaiting_approval,
            locale: Some(&locale),
            ..NewUser::new(&email, body.role)
        },
    )
    .await?;
    if let Some((company_id, _, _)) = &company {
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
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id: user_id,
            email,
            role: body.role,
            company_id,
            is_active: !awaiting_approval,
            awaiting_approval,
            awaiting_validation: practitioner,
            email_verified: false,
        }),
    ))
}
