//! Credential storage: the [`CredentialStore`] trait, the record a wallet keeps per
//! credential copy, record encryption under a host-supplied key, and an in-memory store.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Result, WalletError};
use crate::rand::RandomSource;

/// One stored copy of a credential. The copies of a batch share `batch`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredCredential {
    /// The record's id.
    pub id: String,
    /// The batch this copy belongs to (the credential, as the user sees it).
    pub batch: String,
    /// The credential type.
    pub vct: String,
    /// The issuer (`iss`), when present.
    pub issuer: Option<String>,
    /// The issued SD-JWT VC exactly as received.
    pub sd_jwt: String,
    /// The [`KeyManager`](super::KeyManager) key bound in `cnf`.
    pub key_id: String,
    /// How many times this copy was presented.
    pub presentations: u64,
    /// When the wallet accepted it (Unix seconds).
    pub added_at: i64,
}

impl StoredCredential {
    /// A record for a copy never presented (for [`CredentialStore`] implementations outside
    /// this crate, such as a host app's store behind the FFI).
    #[must_use]
    pub fn new(
        id: String,
        batch: String,
        vct: String,
        issuer: Option<String>,
        sd_jwt: String,
        key_id: String,
        added_at: i64,
    ) -> Self {
        Self {
            id,
            batch,
            vct,
            issuer,
            sd_jwt,
            key_id,
            presentations: 0,
            added_at,
        }
    }
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential itself holds personal data: never in logs.
        f.debug_struct("StoredCredential")
            .field("id", &self.id)
            .field("batch", &self.batch)
            .field("vct", &self.vct)
            .field("presentations", &self.presentations)
            .finish_non_exhaustive()
    }
}

/// Where a wallet keeps its credentials. Implementations must make each call atomic and
/// durable: what a call committed survives a crash, and a crash never leaves half a call.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// Adds records (all copies of one batch) in one transaction.
    ///
    /// # Errors
    /// `storage_failed`, also for an id that exists.
    fn insert(&self, records: &[StoredCredential]) -> Result<()>;

    /// Every record.
    ///
    /// # Errors
    /// `storage_failed`, `storage_decrypt_failed`.
    fn list(&self) -> Result<Vec<StoredCredential>>;

    /// Replaces the record with the same id.
    ///
    /// # Errors
    /// `not_found`, `storage_failed`.
    fn update(&self, record: &StoredCredential) -> Result<()>;

    /// Deletes every record of `batch`, returning how many there were.
    ///
    /// # Errors
    /// `storage_failed`.
    fn delete_batch(&self, batch: &str) -> Result<usize>;
}

/// Records kept in memory (tests, ephemeral wallets).
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, StoredCredential>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, StoredCredential>>> {
        self.records
            .lock()
            .map_err(|_| WalletError::Storage("store poisoned".into()).into())
    }
}

impl CredentialStore for MemoryStore {
    fn insert(&self, records: &[StoredCredential]) -> Result<()> {
        let mut m = self.lock()?;
        if records.iter().any(|r| m.contains_key(&r.id)) {
            return Err(WalletError::Storage("a record with this id exists".into()).into());
        }
        for r in records {
            m.insert(r.id.clone(), r.clone());
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<StoredCredential>> {
        Ok(self.lock()?.values().cloned().collect())
    }

    fn update(&self, record: &StoredCredential) -> Result<()> {
        let mut m = self.lock()?;
        match m.get_mut(&record.id) {
            Some(r) => {
                *r = record.clone();
                Ok(())
            }
            None => Err(WalletError::NotFound(format!("record {:?}", record.id)).into()),
        }
    }

    fn delete_batch(&self, batch: &str) -> Result<usize> {
        let mut m = self.lock()?;
        let before = m.len();
        m.retain(|_, r| r.batch != batch);
        Ok(before - m.len())
    }
}

/// The 256-bit key records are encrypted under, supplied by the host app from its keystore.
/// Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A key from 32 bytes.
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from a slice.
    ///
    /// # Errors
    /// `storage_failed` when it is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| WalletError::Storage("a store key is 32 bytes".into()))?;
        Ok(Self(arr))
    }

    /// A key from 64 hex characters (surrounding white space ignored), as hosts keep it in
    /// an environment variable or a keystore entry. The decoding buffer is zeroized.
    ///
    /// # Errors
    /// `storage_failed` for anything but 32 bytes of hex.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bad = || WalletError::Storage("a store key is 64 hex characters".into());
        let hex = text.trim().as_bytes();
        if hex.len() != 64 {
            return Err(bad().into());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut key = Self([0u8; 32]);
        for (b, pair) in key.0.iter_mut().zip(hex.chunks_exact(2)) {
            let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
                return Err(bad().into());
            };
            *b = nibble(hi)
                .zip(nibble(lo))
                .map(|(h, l)| (h << 4) | l)
                .ok_or_else(bad)?;
        }
        // `key` zeroizes itself on drop if an error returned early.
        Ok(key)
    }

    /// A fresh random key.
    ///
    /// # Errors
    /// `random_failed`.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self> {
        let mut k = [0u8; 32];
        rng.fill(&mut k)?;
        Ok(Self(k))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Encrypts `plaintext` bound to `context` (e.g. the record id): XChaCha20-Poly1305 with a
    /// random 192-bit nonce; returns nonce ‖ ciphertext ‖ tag.
    ///
    /// # Errors
    /// `random_failed`, `storage_failed`.
    pub fn seal(
        &self,
        context: &[u8],
        plaintext: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        rng.fill(&mut nonce)?;
        let ct = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| WalletError::Storage("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`StoreKey::seal`] produced for the same `context`.
    ///
    /// # Errors
    /// `storage_decrypt_failed` for a wrong key, another context or any modification.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let (nonce, ct) = sealed.split_at_checked(24).ok_or(WalletError::Decrypt)?;
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| WalletError::Decrypt)?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .map_err(|_| WalletError::Decrypt.into())
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    #[test]
    fn hex_keys() {
        let k = StoreKey::from_hex(&format!(" {}\n", "0f".repeat(32))).unwrap();
        assert_eq!(k.0, [0x0f; 32]);
        for bad in ["", &"0f".repeat(31), &"0g".repeat(32), &"0f".repeat(33)] {
            assert_eq!(
                StoreKey::from_hex(bad).unwrap_err().code(),
                "storage_failed"
            );
        }
    }

    #[test]
    fn sealing_binds_key_context_and_bytes() {
        let k = StoreKey::generate(&OsRandom).unwrap();
        let sealed = k.seal(b"id-1", b"secret", &OsRandom).unwrap();
        assert_eq!(k.open(b"id-1", &sealed).unwrap(), b"secret");
        assert_eq!(
            k.open(b"id-2", &sealed).unwrap_err().code(),
            "storage_decrypt_failed"
        );
        let other = StoreKey::generate(&OsRandom).unwrap();
        assert_eq!(
            other.open(b"id-1", &sealed).unwrap_err().code(),
            "storage_decrypt_failed"
        );
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            k.open(b"id-1", &tampered).unwrap_err().code(),
            "storage_decrypt_failed"
        );
        assert_eq!(
            k.open(b"id-1", &sealed[..10]).unwrap_err().code(),
            "storage_decrypt_failed"
        );
        assert_eq!(format!("{k:?}"), "StoreKey(***)");
    }
}
