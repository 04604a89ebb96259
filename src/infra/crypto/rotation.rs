//! `huntzen rotate-keys`: re-wraps every data key (and re-seals every TOTP secret) under the
//! current master key, in committed batches, printing progress. Interrupting loses nothing and a
//! re-run continues where it stopped; values under an older master key stay readable meanwhile,
//! as long as that key is still in `ENCRYPTION_KEY`.

use std::io::Write;

use uuid::Uuid;

use super::data_keys::rewrap;
use super::{Keyring, aad};
use crate::infra::db::Db;

/// What a rotation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    /// Data keys re-wrapped.
    pub data_keys: u64,
    /// TOTP secrets re-sealed.
    pub totp_secrets: u64,
}

/// Rotates in batches of `batch`, writing progress lines to `out`.
pub async fn rotate(
    db: &Db,
    keyring: &Keyring,
    batch: i64,
    out: &mut impl Write,
) -> anyhow::Result<Rotated> {
    let current = keyring.current_id();
    let mut done = Rotated::default();
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM data_keys
           WHERE wrapped_key IS NOT NULL AND master_key_id <> $1"#,
        &current
    )
    .fetch_one(&db.system)
    .await?;
    writeln!(
        out,
        "data keys to re-wrap under master key {current}: {total}"
    )?;
    loop {
        let mut tx = crate::infra::db::context::begin(&db.system).await?;
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query!(
            r#"SELECT id AS "id!", wrapped_key AS "wrapped_key!"
               FROM data_keys
               WHERE wrapped_key IS NOT NULL AND master_key_id <> $1
               ORDER BY id
               LIMIT $2
               FOR UPDATE SKIP LOCKED"#,
            &current,
            batch
        )
        .map(|r| (r.id, r.wrapped_key))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for (id, wrapped) in rows {
            let rewrapped =
                rewrap(keyring, id, &wrapped).map_err(|e| anyhow::anyhow!("data key {id}: {e}"))?;
            sqlx::query!(
                r#"UPDATE data_keys SET wrapped_key = coalesce($2, wrapped_key), master_key_id = $3
                   WHERE id = $1"#,
                id,
                rewrapped,
                &current
            )
            .execute(&mut *tx)
            .await?;
            done.data_keys += 1;
        }
        tx.commit().await?;
        writeln!(out, "  re-wrapped {}/{total}", done.data_keys)?;
    }
    let secrets: Vec<(Uuid, Vec<u8>)> = sqlx::query!(
        r#"SELECT id AS "id!", totp_secret AS "totp_secret!"
               FROM users
               WHERE totp_secret IS NOT NULL"#
    )
    .map(|r| (r.id, r.totp_secret))
    .fetch_all(&db.system)
    .await?;
    for (id, sealed) in secrets.into_iter().filter(|(_, s)| !keyring.is_current(s)) {
        let place = aad("users", "totp_secret", id);
        let secret = keyring
            .open(&place, &sealed)
            .map_err(|e| anyhow::anyhow!("TOTP secret of {id}: {e}"))?;
        sqlx::query!(
            r#"UPDATE users SET totp_secret = $2 WHERE id = $1 AND totp_secret = $3"#,
            id,
            keyring.seal(&place, &secret),
            &sealed
        )
        .execute(&db.system)
        .await?;
        done.totp_secrets += 1;
    }
    writeln!(out, "TOTP secrets re-sealed: {}", done.totp_secrets)?;
    writeln!(
        out,
        "done: every key is under master key {current}; older master keys can be removed from ENCRYPTION_KEY"
    )?;
    Ok(done)
}
