//! Practitioner routes: the directory (validated and active only), their own profile, and the
//! platform's validation queue.

use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sqlx::types::Json as Db;

use super::model::{
    Account, DocumentCounts, Format, PendingReview, Profile, Specialty, VettingDocument,
    account_from_record, is_time_zone,
};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{
    AnyRole, PlatformAdmin, Practitioner as PractitionerRole, PractitionerReviewer,
};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path, apply, patch};
use crate::infra::fields::required;
use crate::infra::pagination::{Page, PageQuery, contains_pattern};
use crate::infra::sessions::ClientMeta;

/// Directory filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    pub specialty: Option<Specialty>,
    /// A language code, e.g. `fr`.
    pub language: Option<String>,
    pub format: Option<Format>,
    /// Text in the name or biography.
    pub q: Option<String>,
}

/// A practitioner's changes to their profile and booking settings: absent stays, `null` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProfile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub specialty: Option<Specialty>,
    pub languages: Option<Vec<String>>,
    pub bio: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub experience: Option<Option<i32>>,
    pub diplomas: Option<Vec<String>>,
    /// Professional registration number (RPPS, ADELI…); `null` removes it.
    #[serde(default, deserialize_with = "patch")]
    pub license_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub cover_url: Option<Option<String>>,
    pub offers_video: Option<bool>,
    pub offers_phone: Option<bool>,
    pub offers_in_person: Option<bool>,
    pub time_zone: Option<String>,
    /// Earliest booking, in minutes from now (default 60).
    pub minimum_notice_minutes: Option<i32>,
    /// How far ahead bookings are open, in days (`null`: as far as availability goes).
    #[serde(default, deserialize_with = "patch")]
    pub booking_horizon_days: Option<Option<i32>>,
    /// Where IN_PERSON sessions happen (at most 300 characters; `null` removes it). Shown only to
    /// employees with an IN_PERSON booking, in that consultation.
    #[serde(default, deserialize_with = "patch")]
    pub office_address: Option<Option<String>>,
    /// Access notes for the office (at most 1000 characters; `null` removes them).
    #[serde(default, deserialize_with = "patch")]
    pub office_access_notes: Option<Option<String>>,
}

/// Search the directory of validated, active practitioners.
#[utoipa::path(get, path = "/practitioners", tag = "practitioners", security(("bearer" = [])), params(SearchQuery, PageQuery),
    responses((status = 200, body = Page<Profile>)))]
pub async fn search_practitioners(
    mut auth: Auth<AnyRole>,
    ApiQuery(query): ApiQuery<SearchQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Profile>>> {
    let paging = page.paging()?;
    let q = contains_pattern(query.q.as_deref());
    let language = query.language.as_deref().map(|l| l.trim().to_lowercase());
    let format = query.format.map(|f| match f {
        Format::Video => "VIDEO",
        Format::Audio => "AUDIO",
        Format::InPerson => "IN_PERSON",
    });
    let items: Vec<Profile> = sqlx::query_as!(
        Profile,
        r#"SELECT p.id, p.first_name, p.last_name, p.title, p.specialty, p.languages, p.bio,
             p.experience, p.diplomas, p.avatar_url, p.cover_url, p.offers_video, p.offers_phone,
             p.offers_in_person, p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days
           FROM practitioners p
           WHERE p.is_validated AND p.is_active AND ($1::specialty IS NULL OR p.specialty = $1)
             AND ($2::text IS NULL OR $2 = ANY(p.languages))
             AND ($3::text IS NULL OR ($3 = 'VIDEO' AND p.offers_video) OR ($3 = 'AUDIO' AND p.offers_phone) OR ($3 = 'IN_PERSON' AND p.offers_in_person))
             AND ($4::text IS NULL OR lower(p.first_name || ' ' || p.last_name || ' ' || p.bio) LIKE $4)
           ORDER BY p.last_name, p.first_name, p.id
           LIMIT $5 OFFSET $6"#,
        query.specialty,
        language.as_deref(),
        format,
        q.as_deref(),
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM practitioners p
           WHERE p.is_validated AND p.is_active AND ($1::specialty IS NULL OR p.specialty = $1)
             AND ($2::text IS NULL OR $2 = ANY(p.languages))
             AND ($3::text IS NULL OR ($3 = 'VIDEO' AND p.offers_video) OR ($3 = 'AUDIO' AND p.offers_phone) OR ($3 = 'IN_PERSON' AND p.offers_in_person))
             AND ($4::text IS NULL OR lower(p.first_name || ' ' || p.last_name || ' ' || p.bio) LIKE $4)"#,
        query.specialty,
        language.as_deref(),
        format,
        q.as_deref()
    )
        .fetch_one(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// One practitioner's public profile (listed ones; unlisted ones only to themselves and the platform).
#[utoipa::path(get, path = "/practitioners/{id}", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_practitioner(
    mut auth: Auth<AnyRole>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Profile>> {
    let profile = sqlx::query_as!(
        Profile,
        r#"SELECT p.id, p.first_name, p.last_name, p.title, p.specialty, p.languages, p.bio,
             p.experience, p.diplomas, p.avatar_url, p.cover_url, p.offers_video, p.offers_phone,
             p.offers_in_person, p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days
           FROM practitioners p
           WHERE p.id = $1"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("practitioner.not_found")?;
    auth.commit().await?;
    Ok(Json(profile))
}

/// Practitioners waiting for validation, oldest first, then validated practitioners whose
/// credential changes wait for review (`pendingReview`).
#[utoipa::path(get, path = "/practitioners/pending", tag = "practitioners", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Account>)))]
pub async fn list_pending_practitioners(
    mut auth: Auth<PlatformAdmin>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Account>>> {
    let paging = page.paging()?;
    let items: Vec<Account> = sqlx::query!(
        r#"SELECT p.id, p.first_name, p.last_name, p.title, p.specialty, p.languages, p.bio,
             p.experience, p.diplomas, p.avatar_url, p.cover_url, p.offers_video, p.offers_phone,
             p.offers_in_person, p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days,
             p.user_id, u.email, p.is_validated, p.validated_at, p.documents_verified, p.is_active,
             p.license_number, p.pending_review AS "pending_review: Db<PendingReview>",
             p.rejected_at, p.rejection_reason, p.office_address, p.office_access_notes,
             p.created_at, p.updated_at
           FROM practitioners p
           JOIN users u ON u.id = p.user_id
           WHERE ((NOT p.is_validated AND p.rejected_at IS NULL) OR p.pending_review IS NOT NULL)
             AND p.is_active AND u.email_verified
           ORDER BY p.is_validated, p.created_at, p.id
           LIMIT $1 OFFSET $2"#,
        paging.limit(),
        paging.offset()
    )
    .map(|r| account_from_record!(r))
    .fetch_all(&mut *auth.tx)
    .await?;
    let mut items = items;
    let ids: Vec<Uuid> = items.iter().map(|a| a.profile.id).collect();
    let counts = sqlx::query!(
        r#"SELECT p.id, count(f.id) AS "total!", count(f.verified_at) AS "verified!"
           FROM practitioners p
           LEFT JOIN files f ON f.owner_user_id = p.user_id AND f.purpose = 'PRACTITIONER_DOCUMENT'
           WHERE p.id = ANY($1)
           GROUP BY p.id"#,
        &ids
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    for account in &mut items {
        account.documents = counts
            .iter()
            .find(|c| c.id == account.profile.id)
            .map(|c| DocumentCounts {
                total: c.total,
                verified: c.verified,
            })
            .or(Some(DocumentCounts {
                total: 0,
                verified: 0,
            }));
    }
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
               FROM practitioners p
               JOIN users u ON u.id = p.user_id
               WHERE ((NOT p.is_validated AND p.rejected_at IS NULL) OR p.pending_review IS NOT NULL)
             AND p.is_active AND u.email_verified"#
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

async fn find_account<R: crate::infra::auth::RoleSet>(
    auth: &mut Auth<R>,
    id: Uuid,
) -> ApiResult<Account> {
    sqlx::query!(
        r#"SELECT p.id, p.first_name, p.last_name, p.title, p.specialty, p.languages, p.bio,
             p.experience, p.diplomas, p.avatar_url, p.cover_url, p.offers_video, p.offers_phone,
             p.offers_in_person, p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days,
             p.user_id, u.email, p.is_validated, p.validated_at, p.documents_verified, p.is_active,
             p.license_number, p.pending_review AS "pending_review: Db<PendingReview>",
             p.rejected_at, p.rejection_reason, p.office_address, p.office_access_notes,
             p.created_at, p.updated_at
           FROM practitioners p
           JOIN users u ON u.id = p.user_id
           WHERE p.id = $1"#,
        id
    )
    .map(|r| account_from_record!(r))
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("practitioner.not_found")
}

/// The account, its row locked until the transaction ends (so what is read is what is changed).
async fn locked_account<R: crate::infra::auth::RoleSet>(
    auth: &mut Auth<R>,
    id: Uuid,
) -> ApiResult<Account> {
    sqlx::query!("SELECT id FROM practitioners WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *auth.tx)
        .await?
        .or_not_found("practitioner.not_found")?;
    find_account(auth, id).await
}

async fn platform_change(
    client: &ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    id: Uuid,
    changed: u64,
    action: Action,
    event: &str,
) -> ApiResult<Json<Account>> {
    if changed == 0 {
        return Err(ApiError::not_found("practitioner.not_found"));
    }
    auth.audit(
        client,
        action,
        "practitioner",
        Some(id),
        Some(serde_json::json!({ "event": event })),
    )
    .await?;
    let account = find_account(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(account))
}

/// The same as `POST /practitioners/{id}/validate`, with the method `API.md` writes for approving
/// a credentials review.
#[utoipa::path(put, path = "/practitioners/{id}/validate", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = Account), (status = 404, body = crate::infra::error::Problem)))]
pub async fn approve_practitioner(
    client: ClientMeta,
    auth: Auth<PlatformAdmin>,
    path: Path<Uuid>,
) -> ApiResult<Json<Account>> {
    validate_practitioner(client, auth, path).await
}

/// Validate a practitioner: they become listed and bookable. For a validated practitioner with
/// credential changes waiting (`pendingReview`), validating again approves them: the public
/// profile takes the new values.
#[utoipa::path(post, path = "/practitioners/{id}/validate", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = Account), (status = 404, body = crate::infra::error::Problem)))]
pub async fn validate_practitioner(
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Account>> {
    // The row stays locked to the end, so the review approved is the one read here.
    let before = locked_account(&mut auth, id).await?;
    let review = before.pending_review.clone().unwrap_or_default();
    let (set_license, license) = match &review.license_number {
        Some(number) => (true, number.clone()),
        None => (false, None),
    };
    sqlx::query!(
        r#"UPDATE practitioners SET is_validated = true,
             validated_at = CASE WHEN is_validated AND pending_review IS NULL THEN validated_at ELSE now() END,
             validated_by = CASE WHEN is_validated AND pending_review IS NULL THEN validated_by ELSE app_user_id() END,
             title = coalesce($2, title), specialty = coalesce($3, specialty),
             diplomas = coalesce($4, diplomas),
             license_number = CASE WHEN $5 THEN $6 ELSE license_number END,
             pending_review = NULL, rejected_at = NULL
           WHERE id = $1"#,
        id,
        review.title.as_deref(),
        review.specialty as Option<Specialty>,
        review.diplomas.as_deref(),
        set_license,
        license
    )
    .execute(&mut *auth.tx)
    .await?;
    let event = if !before.is_validated {
        "validated"
    } else if review.is_empty() {
        "revalidated"
    } else {
        "credentials_approved"
    };
    if event == "validated" {
        crate::infra::jobs::enqueue_mail(
            &mut auth.tx,
            crate::infra::mail::MailKind::PractitionerValidated,
            before.user_id,
        )
        .await?;
    }
    auth.audit(
        &client,
        Action::Validate,
        "practitioner",
        Some(id),
        Some(serde_json::json!({ "event": event, "fields": review.fields() })),
    )
    .await?;
    let account = find_account(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(account))
}

/// Record that the practitioner's documents (diplomas, registration) were checked.
#[utoipa::path(put, path = "/practitioners/{id}/documents-verified", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = Account), (status = 404, body = crate::infra::error::Problem)))]
pub async fn verify_practitioner_documents(
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Account>> {
    let changed = sqlx::query!(
        "UPDATE practitioners SET documents_verified = true WHERE id = $1",
        id
    )
    .execute(&mut *auth.tx)
    .await?
    .rows_affected();
    // Each document not yet verified is stamped with who verified it, and when.
    sqlx::query!(
        r#"UPDATE files SET verified_at = now(), verified_by = app_user_id()
           WHERE purpose = 'PRACTITIONER_DOCUMENT' AND verified_at IS NULL
             AND owner_user_id = (SELECT user_id FROM practitioners WHERE id = $1)"#,
        id
    )
    .execute(&mut *auth.tx)
    .await?;
    platform_change(
        &client,
        auth,
        id,
        changed,
        Action::Validate,
        "documents_verified",
    )
    .await
}

/// A practitioner's vetting documents, oldest first (platform admins; the practitioner for their
/// own: anyone else's is a 404).
#[utoipa::path(get, path = "/practitioners/{id}/documents", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = DocumentList), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_practitioner_documents(
    mut auth: Auth<PractitionerReviewer>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<DocumentList>> {
    if auth.principal.role == crate::infra::identity::Role::Practitioner
        && auth.principal.practitioner_id != Some(id)
    {
        return Err(ApiError::not_found("practitioner.not_found"));
    }
    sqlx::query!("SELECT id FROM practitioners WHERE id = $1", id)
        .fetch_optional(&mut *auth.tx)
        .await?
        .or_not_found("practitioner.not_found")?;
    let items = sqlx::query!(
        r#"SELECT f.id, coalesce(f.document_kind, 'OTHER') AS "kind!", f.original_name, f.size,
             f.content_type, f.created_at, f.verified_at, f.verified_by
           FROM files f
           JOIN practitioners p ON p.user_id = f.owner_user_id
           WHERE p.id = $1 AND f.purpose = 'PRACTITIONER_DOCUMENT'
           ORDER BY f.created_at, f.id
           LIMIT 500"#,
        id
    )
    .map(|r| VettingDocument {
        id: r.id,
        kind: r.kind,
        file_name: r.original_name,
        size: r.size,
        content_type: r.content_type,
        url: format!("/api/files/{}", r.id),
        uploaded_at: r.created_at,
        verified_at: r.verified_at,
        verified_by: r.verified_by,
    })
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(DocumentList { items }))
}

/// A practitioner's vetting documents.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentList {
    pub items: Vec<VettingDocument>,
}

/// Why an application (or a credentials review) is refused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rejection {
    /// Told to the practitioner by mail (3 to 2,000 characters).
    pub reason: Option<String>,
}

/// Refuse a practitioner waiting for validation, or a validated practitioner's credential changes
/// (`pendingReview`, which is dropped: the validated values stay). The reason is mailed to them;
/// they are back in the queue once they change their profile or add a document.
#[utoipa::path(put, path = "/practitioners/{id}/reject", tag = "practitioners", security(("bearer" = [])), request_body = Rejection,
    responses((status = 200, body = Account), (status = 404, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn reject_practitioner(
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Rejection>,
) -> ApiResult<Json<Account>> {
    let reason = body.reason.as_deref().map(str::trim).unwrap_or_default();
    let mut v = Validator::new();
    let length = reason.chars().count();
    v.check(
        (3..=2000).contains(&length),
        "reason",
        "give the practitioner a reason (3 to 2,000 characters)",
    );
    v.finish()?;
    let before = locked_account(&mut auth, id).await?;
    let event = match (before.is_validated, &before.pending_review) {
        (true, Some(_)) => "review_rejected",
        (false, _) if before.rejected_at.is_none() => "rejected",
        _ => {
            return Err(ApiError::conflict(
                "practitioner.not_pending",
                "This practitioner has no application or credential change waiting for review.",
            ));
        }
    };
    sqlx::query!(
        r#"UPDATE practitioners SET rejected_at = now(), rejected_by = app_user_id(),
             rejection_reason = $2, pending_review = NULL
           WHERE id = $1"#,
        id,
        reason
    )
    .execute(&mut *auth.tx)
    .await?;
    crate::infra::jobs::enqueue_mail(
        &mut auth.tx,
        crate::infra::mail::MailKind::PractitionerRejected,
        before.user_id,
    )
    .await?;
    // The reason stays on the practitioner's row (they read it); the audit row says who and what.
    auth.audit(
        &client,
        Action::Validate,
        "practitioner",
        Some(id),
        Some(serde_json::json!({ "event": event, "fields": before.pending_review.as_ref().map(PendingReview::fields) })),
    )
    .await?;
    let account = find_account(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(account))
}

fn own_id(auth: &Auth<PractitionerRole>) -> ApiResult<Uuid> {
    auth.principal
        .practitioner_id
        .or_not_found("practitioner.not_found")
}

/// The practitioner's own account and profile.
#[utoipa::path(get, path = "/practitioners/me", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = Account)))]
pub async fn get_my_practitioner_profile(
    mut auth: Auth<PractitionerRole>,
) -> ApiResult<Json<Account>> {
    let id = own_id(&auth)?;
    let account = find_account(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(account))
}

fn check_languages(v: &mut Validator, languages: &[String]) {
    v.check(
        !languages.is_empty(),
        "languages",
        "list at least one language",
    );
    v.check(
        languages.iter().all(|l| {
            (2..=8).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        }),
        "languages",
        "use language codes such as fr, en",
    );
}

/// The answer to a profile update: applied at once, or (credential changes of a validated
/// practitioner) applied except for the credentials, which wait for review.
pub enum ProfileUpdate {
    /// 200 with the account.
    Applied(Account),
    /// 202 `{ status: "pending_review", practitioner }`.
    PendingReview(Account),
}

/// `202` body of a profile update whose credential changes wait for review.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingReviewAnswer {
    /// Always `pending_review`.
    pub status: &'static str,
    /// The account: the validated values, and `pendingReview` with what waits.
    pub practitioner: Account,
}

impl IntoResponse for ProfileUpdate {
    fn into_response(self) -> Response {
        match self {
            Self::Applied(account) => Json(account).into_response(),
            Self::PendingReview(practitioner) => (
                StatusCode::ACCEPTED,
                Json(PendingReviewAnswer {
                    status: "pending_review",
                    practitioner,
                }),
            )
                .into_response(),
        }
    }
}

/// A patch of free text, trimmed; blank clears it like `null`.
fn optional_text(patch: Option<Option<String>>) -> Option<Option<String>> {
    patch.map(|value| {
        value
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    })
}

/// The credentials a validated practitioner asked for, each kept only where it differs from the
/// validated value, merged over what already waited. `None` when nothing waits any more.
fn park_credentials(
    current: &Account,
    asked: &PendingReview,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<PendingReview> {
    fn keep<T: PartialEq + Clone>(
        validated: &T,
        asked: &Option<T>,
        waiting: Option<T>,
    ) -> Option<T> {
        match asked {
            Some(value) if value == validated => None,
            Some(value) => Some(value.clone()),
            None => waiting,
        }
    }
    let waiting = current.pending_review.clone().unwrap_or_default();
    let p = &current.profile;
    let review = PendingReview {
        title: keep(&p.title, &asked.title, waiting.title),
        specialty: keep(&p.specialty, &asked.specialty, waiting.specialty),
        diplomas: keep(&p.diplomas, &asked.diplomas, waiting.diplomas),
        license_number: keep(
            &current.license_number,
            &asked.license_number,
            waiting.license_number,
        ),
        requested_at: now,
    };
    (!review.is_empty()).then_some(review)
}

/// Update the practitioner's own profile and booking settings. Once validated, changes to what
/// validation vouched for (`title`, `specialty`, `diplomas`, `licenseNumber`) wait for a platform
/// admin's review (202, `pendingReview`); the other fields apply at once.
#[utoipa::path(put, path = "/practitioners/me", tag = "practitioners", security(("bearer" = [])), request_body = UpdateProfile,
    responses((status = 200, body = Account), (status = 202, body = PendingReviewAnswer),
        (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_my_practitioner_profile(
    mut auth: Auth<PractitionerRole>,
    ApiJson(body): ApiJson<UpdateProfile>,
) -> ApiResult<ProfileUpdate> {
    let id = own_id(&auth)?;
    // Locked to the end: two updates at once merge their credential changes one after the other.
    let current = locked_account(&mut auth, id).await?;
    let mut p = current.profile.clone();
    let mut v = Validator::new();
    if let Some(x) = &body.first_name {
        p.first_name = required(&mut v, "firstName", x, 100);
    }
    if let Some(x) = &body.last_name {
        p.last_name = required(&mut v, "lastName", x, 100);
    }
    let mut asked = PendingReview {
        title: body
            .title
            .as_ref()
            .map(|x| required(&mut v, "title", x, 40)),
        specialty: body.specialty,
        diplomas: body.diplomas.as_ref().map(|diplomas| {
            v.check(
                diplomas.len() <= 30 && diplomas.iter().all(|d| d.chars().count() <= 200),
                "diplomas",
                "at most 30 entries of 200 characters",
            );
            diplomas
                .iter()
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect()
        }),
        license_number: body.license_number.as_ref().map(|number| {
            let number = number.as_deref().map(str::trim).filter(|n| !n.is_empty());
            v.check(
                number.is_none_or(|n| {
                    n.len() <= 40
                        && n.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '/' | '.')
                        })
                }),
                "licenseNumber",
                "at most 40 letters, digits, spaces, '-', '/' or '.'",
            );
            number.map(str::to_owned)
        }),
        requested_at: chrono::Utc::now(),
    };
    if let Some(x) = &body.bio {
        p.bio = required(&mut v, "bio", x, 5000);
    }
    if let Some(languages) = body.languages {
        check_languages(&mut v, &languages);
        p.languages = languages.iter().map(|l| l.trim().to_lowercase()).collect();
    }
    if let Some(zone) = body.time_zone {
        v.check(
            is_time_zone(&zone),
            "timeZone",
            "must be an IANA time zone such as Europe/Paris",
        );
        p.time_zone = zone;
    }
    if let Some(minutes) = body.minimum_notice_minutes {
        v.check(
            (0..=43_200).contains(&minutes),
            "minimumNoticeMinutes",
            "must be between 0 and 43200 (30 days)",
        );
        p.minimum_notice_minutes = minutes;
    }
    p.offers_video = body.offers_video.unwrap_or(p.offers_video);
    p.offers_phone = body.offers_phone.unwrap_or(p.offers_phone);
    p.offers_in_person = body.offers_in_person.unwrap_or(p.offers_in_person);
    apply(&mut p.experience, body.experience);
    crate::infra::fields::check_url_patch(&mut v, "avatarUrl", &body.avatar_url);
    crate::infra::fields::check_url_patch(&mut v, "coverUrl", &body.cover_url);
    apply(&mut p.avatar_url, body.avatar_url);
    apply(&mut p.cover_url, body.cover_url);
    apply(&mut p.booking_horizon_days, body.booking_horizon_days);
    let mut office_address = current.office_address.clone();
    let mut office_access_notes = current.office_access_notes.clone();
    apply(&mut office_address, optional_text(body.office_address));
    apply(
        &mut office_access_notes,
        optional_text(body.office_access_notes),
    );
    v.check(
        office_address
            .as_ref()
            .is_none_or(|a| a.chars().count() <= 300),
        "officeAddress",
        "must have at most 300 characters",
    );
    v.check(
        office_access_notes
            .as_ref()
            .is_none_or(|a| a.chars().count() <= 1000),
        "officeAccessNotes",
        "must have at most 1000 characters",
    );
    v.check(
        p.experience.is_none_or(|e| (0..=80).contains(&e)),
        "experience",
        "must be between 0 and 80 years",
    );
    v.check(
        p.booking_horizon_days
            .is_none_or(|d| (1..=730).contains(&d)),
        "bookingHorizonDays",
        "must be between 1 and 730",
    );
    v.check(
        p.offers_video || p.offers_phone || p.offers_in_person,
        "offersVideo",
        "offer at least one format",
    );
    v.finish()?;
    let mut license_number = current.license_number.clone();
    let parked = if current.is_validated {
        let review = park_credentials(&current, &asked, asked.requested_at);
        // Something new waits when the request asked for a value other than the validated one.
        let waits = review.as_ref().is_some_and(|r| {
            (asked.title.is_some() && r.title == asked.title)
                || (asked.specialty.is_some() && r.specialty == asked.specialty)
                || (asked.diplomas.is_some() && r.diplomas == asked.diplomas)
                || (asked.license_number.is_some() && r.license_number == asked.license_number)
        });
        Some((review, waits))
    } else {
        p.title = asked.title.take().unwrap_or(p.title);
        p.specialty = asked.specialty.unwrap_or(p.specialty);
        p.diplomas = asked.diplomas.take().unwrap_or(p.diplomas);
        apply(&mut license_number, asked.license_number.take());
        None
    };
    let review = parked.as_ref().and_then(|(review, _)| review.clone());
    sqlx::query!(
        r#"UPDATE practitioners SET first_name = $2, last_name = $3, title = $4, specialty = $5,
             languages = $6, bio = $7, experience = $8, diplomas = $9, avatar_url = $10,
             cover_url = $11, offers_video = $12, offers_phone = $13, offers_in_person = $14,
             time_zone = $15, minimum_notice_minutes = $16, booking_horizon_days = $17,
             license_number = $18, pending_review = $19, rejected_at = NULL,
             office_address = $20, office_access_notes = $21
           WHERE id = $1"#,
        id,
        &p.first_name,
        &p.last_name,
        &p.title,
        p.specialty,
        &p.languages,
        &p.bio,
        p.experience,
        &p.diplomas,
        p.avatar_url.as_deref(),
        p.cover_url.as_deref(),
        p.offers_video,
        p.offers_phone,
        p.offers_in_person,
        &p.time_zone,
        p.minimum_notice_minutes,
        p.booking_horizon_days,
        license_number.as_deref(),
        review.map(Db) as Option<Db<PendingReview>>,
        office_address.as_deref(),
        office_access_notes.as_deref()
    )
    .execute(&mut *auth.tx)
    .await?;
    let account = find_account(&mut auth, id).await?;
    auth.commit().await?;
    Ok(if parked.is_some_and(|(_, waits)| waits) {
        ProfileUpdate::PendingReview(account)
    } else {
        ProfileUpdate::Applied(account)
    })
}
