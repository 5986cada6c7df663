//! Short-lived server state behind one key-value trait: pre-authorized codes, PAR request
//! URIs, authorization codes, access tokens, `c_nonce`s, DPoP nonces, and the `jti` replay
//! caches of DPoP (RFC 9449 §11.1) and client attestation PoPs (ABCA-07 §10.6).
//!
//! Every entry has an expiry; [`StateStore::take`] reads and deletes in one step, so that a
//! single-use value (a code, a nonce) is redeemed once even when many server nodes share the
//! store. Keys are never secrets as received: callers store values under the SHA-256 of a
//! code or token ([`secret_key`]), so that a copy of the store does not hold usable codes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::crypto::HashAlg;
use crate::error::{Result, WalletError};

/// A key-value store with expiry and atomic single-use reads.
///
/// `kind` names the table (`"pre_auth_code"`, `"dpop_jti"`, ...); `now` is the caller's
/// clock in Unix seconds, and an entry whose `expires_at` is not after `now` does not
/// exist for any method.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Inserts `value` under `key` unless a live entry exists; `false` when one does (a
    /// replayed `jti`, a colliding id).
    ///
    /// # Errors
    /// Store failures.
    fn insert(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool>;

    /// The live value under `key`.
    ///
    /// # Errors
    /// Store failures.
    fn get(&self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>>;

    /// Deletes and returns the live value under `key`, atomically: of two concurrent calls
    /// at most one gets the value.
    ///
    /// # Errors
    /// Store failures.
    fn take(&self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>>;

    /// Replaces the live value under `key` with `new` (and its expiry) only if it is still
    /// `old` (compare and swap; attempt counters); `false` otherwise.
    ///
    /// # Errors
    /// Store failures.
    fn replace(
        &self,
        kind: &str,
        key: &str,
        old: &[u8],
        new: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool>;
}

/// The store key of a secret (a code, a token): base64url SHA-256 of its text.
#[must_use]
pub fn secret_key(secret: &str) -> String {
    HashAlg::Sha256.digest_b64(secret.as_bytes())
}

/// Most entries a [`MemoryStateStore`] holds before it refuses inserts.
const MEMORY_CAPACITY: usize = 1 << 20;

type Table = HashMap<(String, String), (Vec<u8>, i64)>;

/// A [`StateStore`] in memory, for one process (tests, a single-node server). Expired
/// entries are purged as inserts come.
#[derive(Default)]
pub struct MemoryStateStore {
    entries: Mutex<Table>,
}

impl fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("MemoryStateStore")
            .field("entries", &n)
            .finish()
    }
}

impl MemoryStateStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Table>> {
        self.entries
            .lock()
            .map_err(|_| WalletError::Storage("state store poisoned".into()).into())
    }
}

impl StateStore for MemoryStateStore {
    fn insert(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let mut e = self.lock()?;
        let k = (kind.to_owned(), key.to_owned());
        if e.get(&k).is_some_and(|(_, exp)| *exp > now) {
            return Ok(false);
        }
        if e.len() >= MEMORY_CAPACITY / 2 {
            e.retain(|_, (_, exp)| *exp > now);
        }
        if e.len() >= MEMORY_CAPACITY {
            return Err(WalletError::Storage("state store full".into()).into());
        }
        e.insert(k, (value.to_vec(), expires_at));
        Ok(true)
    }

    fn get(&self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let e = self.lock()?;
        Ok(e.get(&(kind.to_owned(), key.to_owned()))
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone()))
    }

    fn take(&self, kind: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>> {
        let mut e = self.lock()?;
        Ok(e.remove(&(kind.to_owned(), key.to_owned()))
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v))
    }

    fn replace(
        &self,
        kind: &str,
        key: &str,
        old: &[u8],
        new: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let mut e = self.lock()?;
        match e.get_mut(&(kind.to_owned(), key.to_owned())) {
            Some((v, exp)) if *exp > now && v.as_slice() == old => {
                *v = new.to_vec();
                *exp = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_and_expiry() {
        let s = MemoryStateStore::new();
        assert!(s.insert("k", "a", b"1", 100, 10).unwrap());
        assert!(!s.insert("k", "a", b"2", 100, 10).unwrap());
        assert!(s.insert("other", "a", b"2", 100, 10).unwrap());
        assert_eq!(s.get("k", "a", 10).unwrap().as_deref(), Some(&b"1"[..]));
        assert!(s.get("k", "a", 100).unwrap().is_none());
        assert!(!s.replace("k", "a", b"x", b"2", 100, 10).unwrap());
        assert!(s.replace("k", "a", b"1", b"2", 100, 10).unwrap());
        assert_eq!(s.take("k", "a", 10).unwrap().as_deref(), Some(&b"2"[..]));
        assert!(s.take("k", "a", 10).unwrap().is_none());
        // An expired entry can be inserted again.
        assert!(s.insert("k", "b", b"1", 20, 10).unwrap());
        assert!(s.insert("k", "b", b"1", 40, 30).unwrap());
    }
}
