//! The verifier's transactions in SQLite: `credkit::openid4vp::verifier::TransactionStore`
//! over one table, with versioned migrations (`PRAGMA user_version`). A transaction is kept
//! as its JSON (it holds the ephemeral decryption key while pending; the file is the
//! service's secret), with `state` indexed for direct_post lookups and `status` for the
//! compare-and-set that lets exactly one response end a transaction.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use credkit::error::WalletError;
use credkit::openid4vp::verifier::{Transaction, TransactionStore, same_secret};
use rusqlite::{Connection, OptionalExtension, params};

/// The migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &["CREATE TABLE oid4vp_transactions (
        id TEXT PRIMARY KEY NOT NULL,
        state TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX oid4vp_transactions_expiry ON oid4vp_transactions (expires_at);"];

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
        Ok(Self {
            conn: Mutex::new(conn),
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
