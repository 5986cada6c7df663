//! The embedded credential store (feature `sqlite`): SQLite (bundled) in WAL mode with
//! `synchronous = FULL`, every record encrypted with XChaCha20-Poly1305 under the host's
//! [`StoreKey`], bound to its record id; versioned schema migrations.
//!
//! Durability: every call is one transaction; with WAL and `synchronous = FULL` a committed
//! transaction survives a crash or power loss, and an interrupted one leaves no trace.
//! Only the record id, its batch id and the encrypted body are stored; credential type,
//! issuer and content are inside the encrypted body.
//!
//! [`SqliteKeyManager`] keeps software holder keys in the same file, encrypted the same way,
//! for servers and the command-line tool; phones keep holder keys in their secure hardware.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::keys::KeyManager;
use super::store::{CredentialStore, StoreKey, StoredCredential};
use crate::crypto::{Signer, default_provider};
use crate::error::{Result, WalletError};
use crate::jose::{Algorithm, PrivateJwk, PublicJwk};
use crate::rand::RandomSource;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: records and the key check.
    "CREATE TABLE credential (
         id TEXT PRIMARY KEY NOT NULL,
         batch TEXT NOT NULL,
         body BLOB NOT NULL
     ) STRICT;
     CREATE INDEX credential_batch ON credential(batch);
     CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) STRICT;",
    // 2: software holder keys (for servers and the CLI; phones keep keys in hardware).
    "CREATE TABLE holder_key (id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL) STRICT;",
];

/// What the key check row holds, encrypted: a wrong store key is detected at open.
const KEY_CHECK: &[u8] = b"credkit wallet store";

fn db_err(e: rusqlite::Error) -> crate::Error {
    WalletError::Storage(e.to_string()).into()
}

/// An encrypted SQLite credential store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    key: StoreKey,
    rng: Arc<dyn RandomSource>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` under `key`, migrating the schema.
    ///
    /// # Errors
    /// `storage_failed`; `storage_decrypt_failed` when `key` is not the store's key.
    pub fn open(path: &Path, key: StoreKey, rng: Arc<dyn RandomSource>) -> Result<Self> {
        let conn = Connection::open(path).map_err(db_err)?;
        Self::with_connection(conn, key, rng)
    }

    /// An in-memory SQLite store (tests).
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn in_memory(key: StoreKey, rng: Arc<dyn RandomSource>) -> Result<Self> {
        Self::with_connection(Connection::open_in_memory().map_err(db_err)?, key, rng)
    }

    fn with_connection(
        mut conn: Connection,
        key: StoreKey,
        rng: Arc<dyn RandomSource>,
    ) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        migrate(&mut conn)?;
        let store = Self {
            conn: Mutex::new(conn),
            key,
            rng,
        };
        store.check_key()?;
        Ok(store)
    }

    /// The schema version.
    ///
    /// # Errors
    /// `storage_failed`.
    pub fn schema_version(&self) -> Result<u32> {
        self.lock()?
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db_err)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| WalletError::Storage("connection poisoned".into()).into())
    }

    fn check_key(&self) -> Result<()> {
        let conn = self.lock()?;
        let existing: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)?;
        match existing {
            Some(sealed) => {
                let plain = self.key.open(b"meta:key_check", &sealed)?;
                if plain != KEY_CHECK {
                    return Err(WalletError::Decrypt.into());
                }
            }
            None => {
                let sealed = self.key.seal(b"meta:key_check", KEY_CHECK, &*self.rng)?;
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?1)",
                    params![sealed],
                )
                .map_err(db_err)?;
            }
        }
        Ok(())
    }

    fn seal(&self, r: &StoredCredential) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(r).map_err(|e| WalletError::Storage(e.to_string()))?;
        let json = zeroize::Zeroizing::new(json);
        self.key.seal(context(&r.id).as_bytes(), &json, &*self.rng)
    }
}

fn context(id: &str) -> String {
    format!("credential:{id}")
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction().map_err(db_err)?;
    let version: u32 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db_err)?;
    let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
    if version > known {
        return Err(WalletError::Storage(format!(
            "the store has schema version {version}, newer than this credkit ({known})"
        ))
        .into());
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql).map_err(db_err)?;
        let v = u32::try_from(i + 1).unwrap_or(u32::MAX);
        tx.pragma_update(None, "user_version", v).map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

impl CredentialStore for SqliteStore {
    fn insert(&self, records: &[StoredCredential]) -> Result<()> {
        let sealed: Vec<Vec<u8>> = records
            .iter()
            .map(|r| self.seal(r))
            .collect::<Result<_>>()?;
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(db_err)?;
        for (r, body) in records.iter().zip(sealed) {
            tx.execute(
                "INSERT INTO credential (id, batch, body) VALUES (?1, ?2, ?3)",
                params![r.id, r.batch, body],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }

    fn list(&self) -> Result<Vec<StoredCredential>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare("SELECT id, body FROM credential ORDER BY rowid")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(db_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(db_err)?;
            let plain = zeroize::Zeroizing::new(self.key.open(context(&id).as_bytes(), &body)?);
            let rec: StoredCredential =
                serde_json::from_slice(&plain).map_err(|_| WalletError::Decrypt)?;
            if rec.id != id {
                return Err(WalletError::Decrypt.into());
            }
            out.push(rec);
        }
        Ok(out)
    }

    fn update(&self, record: &StoredCredential) -> Result<()> {
        let body = self.seal(record)?;
        let conn = self.lock()?;
        let n = conn
            .execute(
                "UPDATE credential SET batch = ?2, body = ?3 WHERE id = ?1",
                params![record.id, record.batch, body],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(WalletError::NotFound(format!("record {:?}", record.id)).into());
        }
        Ok(())
    }

    fn delete_batch(&self, batch: &str) -> Result<usize> {
        self.lock()?
            .execute("DELETE FROM credential WHERE batch = ?1", params![batch])
            .map_err(db_err)
    }
}

/// Software holder keys persisted, encrypted, in a [`SqliteStore`]'s file.
pub struct SqliteKeyManager {
    store: Arc<SqliteStore>,
    loaded: Mutex<HashMap<String, Arc<dyn Signer>>>,
}

impl fmt::Debug for SqliteKeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteKeyManager").finish_non_exhaustive()
    }
}

impl SqliteKeyManager {
    /// Keys kept in `store`.
    #[must_use]
    pub fn new(store: Arc<SqliteStore>) -> Self {
        Self {
            store,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    fn signer(&self, id: &str) -> Result<Arc<dyn Signer>> {
        if let Ok(loaded) = self.loaded.lock()
            && let Some(s) = loaded.get(id)
        {
            return Ok(s.clone());
        }
        let sealed: Option<Vec<u8>> = self
            .store
            .lock()?
            .query_row(
                "SELECT body FROM holder_key WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let sealed = sealed.ok_or_else(|| WalletError::NotFound(format!("key {id:?}")))?;
        let json = zeroize::Zeroizing::new(
            self.store
                .key
                .open(format!("holder_key:{id}").as_bytes(), &sealed)?,
        );
        let text = std::str::from_utf8(&json).map_err(|_| WalletError::Decrypt)?;
        let signer = default_provider().signer(&PrivateJwk::parse(text)?)?;
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(id.to_owned(), signer.clone());
        }
        Ok(signer)
    }
}

impl KeyManager for SqliteKeyManager {
    fn create_key(&self, alg: Algorithm) -> Result<(String, PublicJwk)> {
        let key = default_provider().generate(alg, &*self.store.rng)?;
        let id = crate::rand::id(&*self.store.rng)?;
        let json = key.to_json_string();
        let sealed = self.store.key.seal(
            format!("holder_key:{id}").as_bytes(),
            json.as_bytes(),
            &*self.store.rng,
        )?;
        self.store
            .lock()?
            .execute(
                "INSERT INTO holder_key (id, body) VALUES (?1, ?2)",
                params![id, sealed],
            )
            .map_err(db_err)?;
        Ok((id, key.public().clone()))
    }

    fn public_key(&self, id: &str) -> Result<PublicJwk> {
        Ok(self.signer(id)?.public_jwk().clone())
    }

    fn sign(&self, id: &str, message: &[u8]) -> Result<Vec<u8>> {
        self.signer(id)?.sign(message)
    }

    fn delete_key(&self, id: &str) -> Result<()> {
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.remove(id);
        }
        self.store
            .lock()?
            .execute("DELETE FROM holder_key WHERE id = ?1", params![id])
            .map_err(db_err)?;
        Ok(())
    }
}
