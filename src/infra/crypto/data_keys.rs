//! Per-subject data keys (one per consultation, per employee journal, per file). A data key is 32
//! random bytes, stored only wrapped by the master keyring (bound to its row id), read under the
//! caller's RLS context — so a data key is reachable exactly where its subject is. Destroying a
//! key (erasure) makes every value sealed with it unreadable, in backups too.

use rand::Rng as _;
use sqlx::PgConnection;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CryptoError, Keyring, aad, open_with, seal_with};
use crate::infra::error::ApiError;

/// What a data key protects (`data_key_subject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "data_key_subject", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Subject {
    /// Messages and clinical notes of a consultation.
    Consultation,
    /// An employee's journal.
    Employee,
    /// One stored file.
    File,
    /// Reserved for per-user secrets.
    User,
    /// A support ticket's subject, body and replies.
    Ticket,
}

/// An unwrapped data key.
pub struct DataKey {
    /// Row id (stored beside each value it seals).
    pub id: Uuid,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

fn short_id(id: Uuid) -> u32 {
    let b = id.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl DataKey {
    /// Seals a value bound to `table.column:row_id`.
    pub fn seal(&self, table: &str, column: &str, row_id: Uuid, plaintext: &[u8]) -> Vec<u8> {
        seal_with(
            short_id(self.id),
            &self.key,
            &aad(table, column, row_id),
            plaintext,
        )
    }

    /// Opens a value sealed by `seal` with the same place.
    pub fn open(
        &self,
        table: &str,
        column: &str,
        row_id: Uuid,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open_with(&self.key, &aad(table, column, row_id), sealed)
    }

    /// HMAC-SHA256 of `message` under this key (pseudonyms: same input, same output; no one
    /// without the key can compute or invert it).
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        use hmac::Mac as _;
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.key.as_ref())
            .expect("HMAC accepts a 32-byte key");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Opens UTF-8 text.
    pub fn open_text(
        &self,
        table: &str,
        column: &str,
        row_id: Uuid,
        sealed: &[u8],
    ) -> Result<String, ApiError> {
        let bytes = self
            .open(table, column, row_id, sealed)
            .map_err(|e| ApiError::internal(format!("decrypt {table}: {e}")))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::internal("decrypted text is not UTF-8"))
    }
}

fn wrap_aad(id: Uuid) -> Vec<u8> {
    aad("data_keys", "wrapped_key", id)
}

/// Unwraps the data key `id` from its stored `wrapped_key`.
pub fn unwrap(keyring: &Keyring, id: Uuid, wrapped: &[u8]) -> Result<DataKey, ApiError> {
    let raw = keyring
        .open(&wrap_aad(id), wrapped)
        .map_err(|e| ApiError::internal(format!("unwrap data key: {e}")))?;
    let key: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal("data key has the wrong length"))?;
    Ok(DataKey {
        id,
        key: Zeroizing::new(key),
    })
}

/// The data key of a subject, if it exists and was not destroyed (`Ok(None)` otherwise).
pub async fn find(
    conn: &mut PgConnection,
    keyring: &Keyring,
    subject: Subject,
    subject_id: Uuid,
) -> Result<Option<DataKey>, ApiError> {
    let row: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query!(
        r#"SELECT id AS "id!", wrapped_key AS "wrapped_key?"
               FROM data_keys
               WHERE subject_type = $1 AND subject_id = $2"#,
        subject,
        subject_id
    )
    .map(|r| (r.id, r.wrapped_key))
    .fetch_optional(conn)
    .await?;
    match row {
        Some((id, Some(wrapped))) => unwrap(keyring, id, &wrapped).map(Some),
        _ => Ok(None),
    }
}

/// A data key by its id (`None` when destroyed or not visible).
pub async fn by_id(
    conn: &mut PgConnection,
    keyring: &Keyring,
    id: Uuid,
) -> Result<Option<DataKey>, ApiError> {
    let wrapped: Option<Option<Vec<u8>>> =
        sqlx::query_scalar!(r#"SELECT wrapped_key FROM data_keys WHERE id = $1"#, id)
            .fetch_optional(conn)
            .await?;
    match wrapped.flatten() {
        Some(wrapped) => unwrap(keyring, id, &wrapped).map(Some),
        None => Ok(None),
    }
}

/// A new random key: its row id, its bytes, and the bytes wrapped by the current master key.
fn fresh(keyring: &Keyring) -> (Uuid, Zeroizing<[u8; 32]>, Vec<u8>) {
    let id = Uuid::new_v4();
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(raw.as_mut());
    let wrapped = keyring.seal(&wrap_aad(id), raw.as_ref());
    (id, raw, wrapped)
}

/// The data key of a subject, created on first use. Concurrent first uses agree on one key.
pub async fn get_or_create(
    conn: &mut PgConnection,
    keyring: &Keyring,
    subject: Subject,
    subject_id: Uuid,
) -> Result<DataKey, ApiError> {
    if let Some(key) = find(&mut *conn, keyring, subject, subject_id).await? {
        return Ok(key);
    }
    let (id, raw, wrapped) = fresh(keyring);
    let inserted = sqlx::query!(
        r#"INSERT INTO data_keys (id, subject_type, subject_id, master_key_id, wrapped_key)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (subject_type, subject_id) DO NOTHING"#,
        id,
        subject,
        subject_id,
        keyring.current_id(),
        wrapped
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(DataKey { id, key: raw });
    }
    find(conn, keyring, subject, subject_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "crypto.key_destroyed",
                "The keys of this content were destroyed.",
            )
        })
}

/// A new data key for a subject whose id was just generated (so no key can exist for it yet).
/// Unlike [`get_or_create`] it needs no `ON CONFLICT`, which PostgreSQL checks against the read
/// policies: a subject's key may be created before the subject's row exists (a ticket names its
/// key).
pub async fn create_for_new_subject(
    conn: &mut PgConnection,
    keyring: &Keyring,
    subject: Subject,
    subject_id: Uuid,
) -> Result<DataKey, ApiError> {
    let (id, raw, wrapped) = fresh(keyring);
    sqlx::query!(
        r#"INSERT INTO data_keys (id, subject_type, subject_id, master_key_id, wrapped_key)
           VALUES ($1, $2, $3, $4, $5)"#,
        id,
        subject,
        subject_id,
        keyring.current_id(),
        wrapped
    )
    .execute(&mut *conn)
    .await?;
    Ok(DataKey { id, key: raw })
}

/// Re-wraps `wrapped` (a data key's row) under the current master key; `None` if it already is.
pub fn rewrap(keyring: &Keyring, id: Uuid, wrapped: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
    if keyring.is_current(wrapped) {
        return Ok(None);
    }
    let raw = keyring.open(&wrap_aad(id), wrapped)?;
    Ok(Some(keyring.seal(&wrap_aad(id), &raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_moved_to_another_row_or_column_does_not_open() {
        let key = DataKey {
            id: Uuid::new_v4(),
            key: Zeroizing::new([7u8; 32]),
        };
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = key.seal("messages", "content", a, b"secret");
        assert_eq!(
            key.open("messages", "content", a, &sealed)
                .expect("open")
                .as_slice(),
            b"secret"
        );
        assert_eq!(
            key.open("messages", "content", b, &sealed).err(),
            Some(CryptoError::Tampered)
        );
        assert_eq!(
            key.open("clinical_notes", "content", a, &sealed).err(),
            Some(CryptoError::Tampered)
        );
        let other = DataKey {
            id: Uuid::new_v4(),
            key: Zeroizing::new([8u8; 32]),
        };
        assert_eq!(
            other.open("messages", "content", a, &sealed).err(),
            Some(CryptoError::Tampered)
        );
        assert!(
            !format!("{key:?}").contains("7, 7"),
            "Debug never prints key material"
        );
    }
}
