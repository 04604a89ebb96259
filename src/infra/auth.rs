//! Identity as extractors. `Auth<R>` verifies the bearer token, opens the request's transaction
//! with the database-checked principal (RLS context set), and enforces the role set `R` (403).
//! Handlers state what they need in their signature: `Auth<Employee>`, `Auth<HrAdmin>`, `Auth`.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::infra::audit::{Action, Entry};
use crate::infra::db::context::{Tx, begin_as};
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::identity::Principal;
use crate::infra::identity::Role;
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// A set of roles allowed on a route.
pub trait RoleSet: Send + Sync + 'static {
    /// The roles.
    const ROLES: &'static [Role];
}

macro_rules! role_sets {
    ($($(#[$doc:meta])* $name:ident => [$($role:ident),+];)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;
            impl RoleSet for $name {
                const ROLES: &'static [Role] = &[$(Role::$role),+];
            }
        )+
    };
}

role_sets! {
    /// Anyone signed in.
    AnyRole => [SuperAdmin, AdminHuntzen, AdminRh, Practitioner, Employee];
    /// Employees.
    Employee => [Employee];
    /// Practitioners.
    Practitioner => [Practitioner];
    /// The two consultation participants.
    Participant => [Employee, Practitioner];
    /// A company's HR admin.
    HrAdmin => [AdminRh];
    /// Platform governance.
    PlatformAdmin => [AdminHuntzen];
    /// A practitioner's vetting file: platform admins, and the practitioner for their own.
    PractitionerReviewer => [AdminHuntzen, Practitioner];
    /// Platform governance and operators.
    PlatformStaff => [AdminHuntzen, SuperAdmin];
    /// Operators.
    SuperAdmin => [SuperAdmin];
    /// Who may read a company: the platform, and its own HR admin (RLS narrows to their company).
    CompanyReader => [SuperAdmin, AdminHuntzen, AdminRh];
    /// Who may edit a company: the platform, and its own HR admin.
    CompanyEditor => [AdminHuntzen, AdminRh];
}

/// An authenticated request: its principal and its RLS-scoped transaction.
#[derive(Debug)]
pub struct Auth<R: RoleSet = AnyRole> {
    /// Who is calling.
    pub principal: Principal,
    /// The login session.
    pub session_id: Uuid,
    /// The request's transaction, running as the request role with the caller's context.
    pub tx: Tx,
    roles: PhantomData<R>,
}

impl<R: RoleSet> Auth<R> {
    /// Re-labels an already checked request for a handler with a wider role set (never narrower:
    /// the role check is not repeated).
    pub(crate) fn from_parts(principal: Principal, session_id: Uuid, tx: Tx) -> Self {
        Self {
            principal,
            session_id,
            tx,
            roles: PhantomData,
        }
    }

    /// Commits the request's transaction.
    pub async fn commit(self) -> ApiResult<()> {
        self.tx.commit().await.map_err(ApiError::from)
    }

    /// Audits `action` on `resource` (the row `target`, when there is one), by the caller from
    /// `client`, with `details` (never a secret nor confidential text), in the request's
    /// transaction: the change and its audit row commit together or not at all.
    pub async fn audit(
        &mut self,
        client: &ClientMeta,
        action: Action,
        resource: &str,
        target: Option<Uuid>,
        details: Option<serde_json::Value>,
    ) -> ApiResult<()> {
        let mut entry = Entry::new(action, resource)
            .by_principal(&self.principal)
            .from_client(client);
        if let Some(target) = target {
            entry = entry.target(target);
        }
        if let Some(details) = details {
            entry = entry.details(details);
        }
        entry.record(&mut self.tx).await?;
        Ok(())
    }

    /// Deletes the row `id` of `what` as far as RLS lets the caller, and audits it; 404 when the
    /// caller has no such row.
    pub async fn delete_audited(
        &mut self,
        client: &ClientMeta,
        what: &Deletable,
        id: Uuid,
    ) -> ApiResult<()> {
        // Dynamic on purpose: `what.table` is one of the fixed `Deletable` constants (never input);
        // the statement is the same for each.
        let sql = format!("DELETE FROM {} WHERE id = $1", what.table);
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(ApiError::not_found(what.not_found));
        }
        self.audit(client, Action::Delete, what.resource, Some(id), None)
            .await
    }
}

/// A kind of row that handlers delete by id: its table, its audit name and its 404 code.
#[derive(Debug)]
pub struct Deletable {
    /// The table (a constant of ours, never input).
    pub table: &'static str,
    /// The audit rows' `resource`.
    pub resource: &'static str,
    /// The problem code when the caller has no such row.
    pub not_found: &'static str,
}

impl<R: RoleSet> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token).ok_or_else(|| {
            ApiError::unauthorized(
                "auth.invalid_token",
                "The access token is invalid or expired.",
            )
        })?;
        let (tx, principal) = begin_as(&state.db.app, claims.sid).await?.ok_or_else(|| {
            ApiError::unauthorized(
                "auth.session_ended",
                "This session has ended; sign in again.",
            )
        })?;
        if principal.user_id != claims.sub {
            return Err(ApiError::unauthorized(
                "auth.invalid_token",
                "The access token is invalid or expired.",
            ));
        }
        if !R::ROLES.contains(&principal.role) {
            return Err(ApiError::forbidden());
        }
        Ok(Self {
            principal,
            session_id: claims.sid,
            tx,
            roles: PhantomData,
        })
    }
}

impl<R: RoleSet> axum::extract::OptionalFromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    /// No `Authorization` header: `None` (a public route); a header must be a valid token.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

fn bearer_token(parts: &Parts) -> ApiResult<&str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "auth.missing_token",
                "Send `Authorization: Bearer <accessToken>`.",
            )
        })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "auth.missing_token",
            "Send `Authorization: Bearer <accessToken>`.",
        )),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(Self { ip, user_agent })
    }
}
