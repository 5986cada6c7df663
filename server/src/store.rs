//! State in SQLite, with versioned migrations (`PRAGMA user_version`): the verifier's
//! transactions (`credkit::openid4vp::verifier::TransactionStore`), the issuer's short-lived
//! OpenID4VCI state (`credkit::oauth::store::StateStore`: codes, tokens and nonces under
//! their SHA-256, with expiry and atomic take) and its status list entries (one row per
//! issued credential: a random index taken under a uniqueness constraint, so that any number
//! of nodes allocate without handing out an index twice).
//!
//! The same schema in PostgreSQL, for many nodes, is in src/pg.rs; [`Backend`] picks one
//! from `--store`, and [`StatusEntries`] is the status list's interface over both.
//!
//! The verifier's transactions: A transaction is kept
//! as its JSON (it holds the ephemeral decryption key while pending; the file is the
//! service's secret), with `state` indexed for direct_post lookups and `status` for the
//! compare-and-set that lets exactly one response end a transaction.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use credkit::error::WalletError;
use credkit::oauth::store::StateStore;
use credkit::openid4vci::issuer::StatusAllocator;
use credkit::openid4vp::verifier::{Transaction, TransactionStore, same_secret};
use credkit::rand::RandomSource;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use crate::Failure;
use crate::pg::Pg;

/// The issuer's status list entries (SQLite or PostgreSQL): what the management API and the
/// status list endpoint read and change, besides allocation.
pub(crate) trait StatusEntries: StatusAllocator {
    /// The list's URI (`status_list.uri`).
    fn uri(&self) -> &str;
    /// Entries in the list.
    fn size(&self) -> u64;
    /// The entries whose status is not VALID, as (index, status).
    fn changed(&self) -> credkit::Result<Vec<(u64, u8)>>;
    /// Sets the status of credential `id`; `false` when there is no such credential.
    fn set(&self, id: &str, status: u8) -> credkit::Result<bool>;
    /// The credentials an offer produced, with their status.
    fn by_reference(&self, reference: &str) -> credkit::Result<Vec<(String, u8)>>;
}

/// Where `--store` puts state.
pub(crate) enum Backend {
    /// An SQLite file (one node).
    Sqlite(PathBuf),
    /// A PostgreSQL database (any number of nodes).
    Postgres(Arc<Pg>),
}

impl Backend {
    /// The backend `--store` names (`sqlite:PATH`, `postgres://...`; `default` is the SQLite
    /// file without it). PostgreSQL is reached and migrated here.
    pub(crate) fn open(store: Option<&str>, default: &str) -> Result<Self, Failure> {
        match store {
            None => Ok(Self::Sqlite(PathBuf::from(default))),
            Some(s) if s.starts_with("sqlite:") => {
                Ok(Self::Sqlite(PathBuf::from(&s["sqlite:".len()..])))
            }
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Ok(Self::Postgres(Pg::open(s)?))
            }
            // Not echoed: a connection string may hold a password.
            Some(_) => Err(Failure::Usage(
                "--store: sqlite:PATH or postgres://...".into(),
            )),
        }
    }

    /// The name logged at start-up (no path or URL).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// The migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE oid4vp_transactions (
        id TEXT PRIMARY KEY NOT NULL,
        state TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX oid4vp_transactions_expiry ON oid4vp_transactions (expires_at);",
    "CREATE TABLE oid4vci_state (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX oid4vci_state_expiry ON oid4vci_state (expires_at);
    CREATE TABLE status_entries (
        list INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        credential_id TEXT NOT NULL UNIQUE,
        reference TEXT,
        status INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (list, idx)
    );
    CREATE INDEX status_entries_reference ON status_entries (reference);",
];

/// Opens (creating and migrating) the database at `path`.
pub(crate) fn open(path: &Path) -> credkit::Result<Connection> {
    let conn = Connection::open(path).map_err(storage)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(storage)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(storage)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(storage)?;
    let applied = usize::try_from(version).map_err(storage)?;
    for (i, m) in (1i64..).zip(MIGRATIONS.iter()).skip(applied) {
        let tx = conn.unchecked_transaction().map_err(storage)?;
        tx.execute_batch(m).map_err(storage)?;
        tx.pragma_update(None, "user_version", i).map_err(storage)?;
        tx.commit().map_err(storage)?;
    }
    Ok(conn)
}

/// Transactions in an SQLite file.
pub(crate) struct SqliteTransactions {
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteTransactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SqliteTransactions")
    }
}

fn storage(e: impl fmt::Display) -> credkit::Error {
    WalletError::Storage(e.to_string()).into()
}

impl SqliteTransactions {
    /// Opens (creating and migrating) the database at `path`.
    pub(crate) fn open(path: &Path) -> credkit::Result<Self> {
        Ok(Self {
            conn: Mutex::new(open(path)?),
        })
    }

    fn conn(&self) -> credkit::Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| storage("the store lock is poisoned"))
    }

    fn read(body: Option<String>) -> credkit::Result<Option<Transaction>> {
        body.map(|b| Transaction::from_json(&b)).transpose()
    }
}

impl TransactionStore for SqliteTransactions {
    fn insert(&self, tx: &Transaction) -> credkit::Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO oid4vp_transactions (id, state, status, expires_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    tx.id,
                    tx.state,
                    tx.status.name(),
                    tx.expires_at,
                    tx.to_json().as_str()
                ],
            )
            .map_err(storage)?;
        Ok(())
    }

    fn get(&self, id: &str) -> credkit::Result<Option<Transaction>> {
        let body = self
            .conn()?
            .query_row(
                "SELECT body FROM oid4vp_transactions WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        Self::read(body)
    }

    fn find_by_state(&self, state: &str) -> credkit::Result<Option<Transaction>> {
        let body = self
            .conn()?
            .query_row(
                "SELECT body FROM oid4vp_transactions WHERE state = ?1",
                params![state],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        Self::read(body)
    }

    fn finish(&self, tx: &Transaction) -> credkit::Result<bool> {
        let n = self
            .conn()?
            .execute(
                "UPDATE oid4vp_transactions SET status = ?2, body = ?3
                 WHERE id = ?1 AND status = 'pending'",
                params![tx.id, tx.status.name(), tx.to_json().as_str()],
            )
            .map_err(storage)?;
        Ok(n == 1)
    }

    fn purge_expired(&self, before: i64) -> credkit::Result<usize> {
        self.conn()?
            .execute(
                "DELETE FROM oid4vp_transactions WHERE expires_at < ?1",
                params![before],
            )
            .map_err(storage)
    }

    fn take_response_code(&self, id: &str, code: &str) -> credkit::Result<Option<Transaction>> {
        let conn = self.conn()?;
        let body: Option<String> = conn
            .query_row(
                "SELECT body FROM oid4vp_transactions WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)?;
        let Some(mut tx) = Self::read(body)? else {
            return Ok(None);
        };
        match &tx.response_code {
            Some(stored) if same_secret(stored, code) => {
                tx.response_code = None;
                conn.execute(
                    "UPDATE oid4vp_transactions SET body = ?2 WHERE id = ?1",
                    params![tx.id, tx.to_json().as_str()],
                )
                .map_err(storage)?;
                Ok(Some(tx))
            }
            _ => Ok(None),
        }
    }
}

/// The issuer's OpenID4VCI state in SQLite.
pub(crate) struct SqliteState {
    conn: Mutex<Connection>,
    inserts: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SqliteState")
    }
}

impl SqliteState {
    pub(crate) fn open(path: &Path) -> credkit::Result<Self> {
        Ok(Self {
            conn: Mutex::new(open(path)?),
            inserts: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn conn(&self) -> credkit::Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| storage("the store lock is poisoned"))
    }
}

/// Every this many inserts, expired rows of every kind are deleted.
const PURGE_EVERY: u64 = 256;

impl StateStore for SqliteState {
    fn insert(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> credkit::Result<bool> {
        let conn = self.conn()?;
        let tx = conn.unchecked_transaction().map_err(storage)?;
        tx.execute(
            "DELETE FROM oid4vci_state WHERE kind = ?1 AND key = ?2 AND expires_at <= ?3",
            params![kind, key, now],
        )
        .map_err(storage)?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO oid4vci_state (kind, key, value, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![kind, key, value, expires_at],
            )
            .map_err(storage)?;
        // Expired rows of any key go now and then, so that the table does not grow.
        let n_inserts = self
            .inserts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n_inserts.is_multiple_of(PURGE_EVERY) {
            tx.execute(
                "DELETE FROM oid4vci_state WHERE expires_at <= ?1",
                params![now],
            )
            .map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        Ok(n == 1)
    }

    fn get(&self, kind: &str, key: &str, now: i64) -> credkit::Result<Option<Vec<u8>>> {
        self.conn()?
            .query_row(
                "SELECT value FROM oid4vci_state WHERE kind = ?1 AND key = ?2 AND expires_at > ?3",
                params![kind, key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(storage)
    }

    fn take(&self, kind: &str, key: &str, now: i64) -> credkit::Result<Option<Vec<u8>>> {
        // One statement: of two concurrent takes (any node), one deletes the row.
        let row: Option<(Vec<u8>, i64)> = self
            .conn()?
            .query_row(
                "DELETE FROM oid4vci_state WHERE kind = ?1 AND key = ?2
                 RETURNING value, expires_at",
                params![kind, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(storage)?;
        Ok(row.filter(|(_, exp)| *exp > now).map(|(v, _)| v))
    }

    fn replace(
        &self,
        kind: &str,
        key: &str,
        old: &[u8],
        new: &[u8],
        expires_at: i64,
        now: i64,
    ) -> credkit::Result<bool> {
        let n = self
            .conn()?
            .execute(
                "UPDATE oid4vci_state SET value = ?4, expires_at = ?5
                 WHERE kind = ?1 AND key = ?2 AND value = ?3 AND expires_at > ?6",
                params![kind, key, old, new, expires_at, now],
            )
            .map_err(storage)?;
        Ok(n == 1)
    }
}

/// The issuer's status list entries: one row per credential.
pub(crate) struct SqliteStatus {
    conn: Mutex<Connection>,
    /// The list's URI (`status_list.uri`).
    uri: String,
    /// Entries in the list.
    size: u64,
}

impl fmt::Debug for SqliteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStatus")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl SqliteStatus {
    pub(crate) fn open(path: &Path, uri: String, size: u64) -> credkit::Result<Self> {
        Ok(Self {
            conn: Mutex::new(open(path)?),
            uri,
            size,
        })
    }

    fn conn(&self) -> credkit::Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| storage("the store lock is poisoned"))
    }
}

impl StatusEntries for SqliteStatus {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn changed(&self) -> credkit::Result<Vec<(u64, u8)>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT idx, status FROM status_entries WHERE list = 1 AND status != 0")
            .map_err(storage)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, status) = row.map_err(storage)?;
            out.push((
                u64::try_from(idx).map_err(storage)?,
                u8::try_from(status).map_err(storage)?,
            ));
        }
        Ok(out)
    }

    fn set(&self, id: &str, status: u8) -> credkit::Result<bool> {
        let n = self
            .conn()?
            .execute(
                "UPDATE status_entries SET status = ?2 WHERE credential_id = ?1",
                params![id, status],
            )
            .map_err(storage)?;
        Ok(n == 1)
    }

    fn by_reference(&self, reference: &str) -> credkit::Result<Vec<(String, u8)>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT credential_id, status FROM status_entries WHERE reference = ?1")
            .map_err(storage)?;
        let rows = stmt
            .query_map(params![reference], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, status) = row.map_err(storage)?;
            out.push((id, u8::try_from(status).map_err(storage)?));
        }
        Ok(out)
    }
}

impl StatusAllocator for SqliteStatus {
    fn allocate(
        &self,
        reference: Option<&str>,
        rng: &dyn RandomSource,
    ) -> credkit::Result<Map<String, Value>> {
        let conn = self.conn()?;
        let id = credkit::rand::id(rng)?;
        // A random index (TSL §13.2/§13.3); a taken one is drawn again. The list is sized so
        // that it stays sparse; after 64 collisions it counts as full.
        for _ in 0..64 {
            let mut b = [0u8; 8];
            rng.fill(&mut b)?;
            let idx = u64::from_le_bytes(b) % self.size.max(1);
            let n = conn
                .execute(
                    "INSERT OR IGNORE INTO status_entries (list, idx, credential_id, reference)
                     VALUES (1, ?1, ?2, ?3)",
                    params![i64::try_from(idx).map_err(storage)?, id, reference],
                )
                .map_err(storage)?;
            if n == 1 {
                let mut claim = Map::new();
                claim.insert(
                    "status_list".into(),
                    serde_json::json!({"idx": idx, "uri": self.uri}),
                );
                return Ok(claim);
            }
        }
        Err(credkit::error::StatusError::Full.into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn transaction(id: &str, expires_at: i64) -> Transaction {
        Transaction::from_json(
            &serde_json::json!({
                "id": id, "state": format!("state-{id}"), "nonce": "n", "client_id": "x509_hash:c",
                "response_mode": "direct_post", "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:eudi:pid:1"]}}]},
                "created_at": expires_at - 300, "expires_at": expires_at, "status": "pending",
            })
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn expired_transactions_are_purged() {
        let path = std::env::temp_dir().join(format!(
            "credkit-store-test-{}.sqlite",
            credkit::rand::id(&credkit::rand::OsRandom).unwrap()
        ));
        let store = SqliteTransactions::open(&path).unwrap();
        store.insert(&transaction("old", 1_000)).unwrap();
        store.insert(&transaction("new", 5_000)).unwrap();
        assert_eq!(store.purge_expired(2_000).unwrap(), 1);
        assert!(store.get("old").unwrap().is_none());
        assert!(store.get("new").unwrap().is_some());
        assert_eq!(store.purge_expired(2_000).unwrap(), 0);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
