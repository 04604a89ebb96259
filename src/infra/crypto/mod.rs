//! AES-256-GCM sealing. A sealed value is `version (1) ‖ key id (4) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`:
//! a fresh random 96-bit nonce per value, and associated data that binds the value to its place
//! (table, column, row id) so that a ciphertext moved to another row or column fails to open.
//! The master keyring (`ENCRYPTION_KEY`) seals directly the few secrets that are not per-subject
//! (TOTP secrets) and wraps the per-subject data keys.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::Rng as _;
use zeroize::Zeroizing;

use crate::infra::config::MasterKey;

pub mod data_keys;
pub mod rotation;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

/// Why a value could not be opened. Deliberately uninformative beyond that.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Too short, unknown version or unknown key.
    #[error("malformed or unknown-key ciphertext")]
    Malformed,
    /// Authentication failed: wrong key, wrong associated data, or tampering.
    #[error("ciphertext failed authentication")]
    Tampered,
}

/// The master keys, current first.
pub struct Keyring {
    keys: Vec<(u32, Zeroizing<[u8; 32]>)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Keyring {
    /// A keyring from the configured master keys (at least one).
    pub fn new(keys: &[MasterKey]) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "ENCRYPTION_KEY holds no key");
        let keys = keys
            .iter()
            .map(|k| {
                let id = u32::from_str_radix(&k.id, 16)?;
                Ok((id, Zeroizing::new(*k.key)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { keys })
    }

    /// Seals `plaintext` under the current key, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let (id, key) = &self.keys[0];
        seal_with(*id, key, aad, plaintext)
    }

    /// Opens a value sealed by any key of the ring.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let id = key_id(sealed)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| *k == id)
            .ok_or(CryptoError::Malformed)?;
        open_with(key, aad, sealed)
    }

    /// The current master key's id, as stored in `data_keys.master_key_id`.
    pub fn current_id(&self) -> String {
        format!("{:08x}", self.keys[0].0)
    }

    /// Whether a value is sealed under the current key (rotation skips those).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        key_id(sealed).is_ok_and(|id| id == self.keys[0].0)
    }
}

fn key_id(sealed: &[u8]) -> Result<u32, CryptoError> {
    if sealed.len() < HEADER + 16 || sealed[0] != VERSION {
        return Err(CryptoError::Malformed);
    }
    Ok(u32::from_be_bytes([
        sealed[1], sealed[2], sealed[3], sealed[4],
    ]))
}

/// Seals with an explicit key and key id.
pub fn seal_with(key_id: u32, key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    // Encryption only fails for plaintexts over 64 GiB, far beyond any value stored here.
    let ciphertext = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Opens with an explicit key (the key id in the value is not checked here).
pub fn open_with(
    key: &[u8; 32],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    key_id(sealed)?;
    let nonce: [u8; 12] = sealed[5..HEADER]
        .try_into()
        .map_err(|_| CryptoError::Malformed)?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[HEADER..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Tampered)
}

/// Associated data naming where a value lives: `table.column:row_id`.
pub fn aad(table: &str, column: &str, row_id: uuid::Uuid) -> Vec<u8> {
    format!("{table}.{column}:{row_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::config::parse_keyring;

    fn ring(hex: &str) -> Keyring {
        Keyring::new(&parse_keyring(hex).expect("keys")).expect("ring")
    }

    const K1: &str = "6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf";
    const K2: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9f8e7d6c5b4a392817060f5e4d3c2b1a0";

    #[test]
    fn seals_and_opens_with_matching_associated_data_only() {
        let ring = ring(K1);
        let sealed = ring.seal(b"users.totp_secret:1", b"secret");
        assert_eq!(
            ring.open(b"users.totp_secret:1", &sealed)
                .expect("open")
                .as_slice(),
            b"secret"
        );
        assert_eq!(
            ring.open(b"users.totp_secret:2", &sealed),
            Err(CryptoError::Tampered)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            ring.open(b"users.totp_secret:1", &flipped),
            Err(CryptoError::Tampered)
        );
        assert_eq!(ring.open(b"x", &sealed[..10]), Err(CryptoError::Malformed));
    }

    #[test]
    fn an_old_key_still_opens_after_rotation() {
        let old = ring(K1);
        let sealed = old.seal(b"a", b"kept");
        let rotated = ring(&format!("{K2},{K1}"));
        assert!(!rotated.is_current(&sealed));
        assert_eq!(
            rotated.open(b"a", &sealed).expect("open").as_slice(),
            b"kept"
        );
        assert!(rotated.is_current(&rotated.seal(b"a", b"new")));
        assert_eq!(ring(K2).open(b"a", &sealed), Err(CryptoError::Malformed));
    }

    #[test]
    fn nonces_are_fresh() {
        let ring = ring(K1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let sealed = ring.seal(b"a", b"same plaintext");
            assert!(seen.insert(sealed[5..HEADER].to_vec()), "nonce repeated");
        }
    }
}
