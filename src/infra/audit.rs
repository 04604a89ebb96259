//! Audit rows: who (id, role), what (action, resource, id), where (company, IP, user agent), when.
//! `details` holds identifiers and counts only, never a secret or confidential text.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::infra::identity::Principal;
use crate::infra::identity::Role;
use crate::infra::sessions::ClientMeta;

/// Audit action, as stored (`audit_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "audit_action", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// A resource was created.
    Create,
    /// Confidential content was read.
    Read,
    /// A resource was changed.
    Update,
    /// A resource was deleted.
    Delete,
    /// A successful sign-in.
    Login,
    /// A failed sign-in.
    LoginFailed,
    /// A sign-out.
    Logout,
    /// Data was exported.
    Export,
    /// Data was imported.
    Import,
    /// A company or practitioner was validated.
    Validate,
    /// A consultation was cancelled.
    Cancel,
    /// A security event (token reuse, 2FA change, password change).
    Security,
}

/// One audit row to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The actor, when known.
    pub user_id: Option<Uuid>,
    /// The actor's role.
    pub user_role: Option<Role>,
    /// What happened.
    pub action: Action,
    /// Kind of resource (`user`, `company`, `consultation`, …).
    pub resource: &'a str,
    /// Its id.
    pub resource_id: Option<String>,
    /// The company concerned.
    pub company_id: Option<Uuid>,
    /// Where the request came from.
    pub client: Option<&'a ClientMeta>,
    /// Non-secret details.
    pub details: Option<Value>,
}

impl<'a> Entry<'a> {
    /// An entry for `action` on `resource`.
    pub fn new(action: Action, resource: &'a str) -> Self {
        Self {
            user_id: None,
            user_role: None,
            action,
            resource,
            resource_id: None,
            company_id: None,
            client: None,
            details: None,
        }
    }

    /// Sets the actor.
    pub fn by(mut self, user_id: Uuid, role: Role, company_id: Option<Uuid>) -> Self {
        self.user_id = Some(user_id);
        self.user_role = Some(role);
        self.company_id = company_id;
        self
    }

    /// Sets the actor to the signed-in caller.
    pub fn by_principal(self, principal: &Principal) -> Self {
        self.by(principal.user_id, principal.role, principal.company_id)
    }

    /// Sets the target id.
    pub fn target(mut self, id: impl ToString) -> Self {
        self.resource_id = Some(id.to_string());
        self
    }

    /// Sets the request origin.
    pub fn from_client(mut self, client: &'a ClientMeta) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets non-secret details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Writes the row in the caller's transaction.
    pub async fn record(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query!(
            r#"INSERT INTO audit_logs (user_id, user_role, action, resource, resource_id, company_id, ip_address, user_agent, details)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
            self.user_id,
            self.user_role,
            self.action,
            self.resource,
            self.resource_id,
            self.company_id,
            self.client.and_then(|c| c.ip.clone()),
            self.client.and_then(|c| c.user_agent.clone()),
            self.details
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Result of checking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every row matches its hash and links to its predecessor.
    Intact {
        /// Rows checked.
        rows: i64,
    },
    /// The first row that does not.
    Broken {
        /// Its position in the chain.
        seq: i64,
        /// Its id.
        id: Uuid,
    },
}

/// Checks the chain of hashes over the audit trail (owner pool).
pub async fn verify(db: &crate::infra::db::Db) -> Result<Verification, sqlx::Error> {
    let (seq, id, checked): (Option<i64>, Option<Uuid>, i64) = sqlx::query!(
        r#"SELECT broken_seq AS "broken_seq?", broken_id AS "broken_id?", checked AS "checked!"
               FROM audit_verify()"#
    )
    .map(|r| (r.broken_seq, r.broken_id, r.checked))
    .fetch_one(&db.system)
    .await?;
    Ok(match (seq, id) {
        (Some(seq), Some(id)) => Verification::Broken { seq, id },
        _ => Verification::Intact { rows: checked },
    })
}

/// Reader pseudonyms for reads of confidential items (chats, notes, files): an audit row names
/// the item by `HMAC(key, reader ‖ item)`, shaped as a UUID, so two people's rows about one
/// consultation share no resource id and nothing in the trail pairs them. The key is a data key
/// of the platform (subject `USER`, the nil id: no request context matches it), created at the
/// first start and kept in backups' key snapshots; each person's own access list recomputes the
/// pseudonyms of their items to show them the truth.
pub struct Pseudonyms {
    key: crate::infra::crypto::data_keys::DataKey,
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms")
    }
}

impl Pseudonyms {
    /// Loads (or creates, once) the pseudonym key with the owner pool.
    pub async fn load(
        system: &sqlx::PgPool,
        keyring: &crate::infra::crypto::Keyring,
    ) -> anyhow::Result<Self> {
        let mut conn = system.acquire().await?;
        let key = crate::infra::crypto::data_keys::get_or_create(
            &mut conn,
            keyring,
            crate::infra::crypto::data_keys::Subject::User,
            Uuid::nil(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("audit pseudonym key: {e}"))?;
        Ok(Self { key })
    }

    /// A short keyed fingerprint of a setting's value (`GET /api/super-admin/config`): the same on
    /// every replica sharing the database, and no help in guessing the value.
    pub fn fingerprint(&self, name: &str, value: &[u8]) -> String {
        let mut message = Vec::with_capacity(name.len() + value.len() + 8);
        message.extend_from_slice(b"config:");
        message.extend_from_slice(name.as_bytes());
        message.push(0);
        message.extend_from_slice(value);
        hex::encode(&self.key.mac(&message)[..6])
    }

    /// The pseudonym of `item` as read by `reader`.
    pub fn of(&self, reader: Uuid, item: Uuid) -> Uuid {
        let mut message = Vec::with_capacity(38);
        message.extend_from_slice(b"audit:");
        message.extend_from_slice(reader.as_bytes());
        message.extend_from_slice(item.as_bytes());
        let mac = self.key.mac(&message);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&mac[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }
}
