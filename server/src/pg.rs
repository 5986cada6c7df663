//! State in PostgreSQL, for any number of nodes behind a load balancer: the same logical
//! schema as the SQLite store (src/store.rs), versioned in `schema_migrations`, with every
//! operation that must be atomic across nodes done by the database (`DELETE ... RETURNING`
//! for single-use takes, `UPDATE ... WHERE status = 'pending'` for a transaction's one
//! ending, `SELECT ... FOR UPDATE` for the response code, `INSERT ... ON CONFLICT` for
//! insert-if-absent and for status list indexes).
//!
//! core's stores are synchronous and are called on Tokio's blocking threads; the `postgres`
//! client drives a runtime of its own and must not run inside another runtime's context. So
//! each connection lives on a dedicated thread (a small pool of [`WORKERS`]), which takes
//! jobs from a channel and answers each on a reply channel: no store call ever runs the
//! client on a runtime thread, and a lost connection is opened again by the next job. Every
//! failure is `WalletError::Storage` (`storage_failed`, 503), with the SQLSTATE and
//! PostgreSQL's message only (never a statement's parameters).

use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credkit::error::WalletError;
use credkit::oauth::store::StateStore;
use credkit::openid4vci::issuer::StatusAllocator;
use credkit::openid4vp::verifier::{Transaction, TransactionStore, same_secret};
use credkit::rand::RandomSource;
use postgres::{Client, NoTls, Statement};
use serde_json::{Map, Value};

use crate::store::StatusEntries;

/// Connections (and threads) per process.
const WORKERS: usize = 4;
/// How long a store call waits for its answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long opening a connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every this many inserts (per node), expired state rows of every kind are deleted.
const PURGE_EVERY: u64 = 256;
/// A connection idle this long is checked (an empty query) before its next job, so that one
/// the server or a failover closed meanwhile is replaced instead of failing a request.
const CHECK_IDLE: Duration = Duration::from_secs(10);
/// The advisory lock that serialises migrations of nodes starting together.
const MIGRATION_LOCK: i64 = 0x0063_7265_646b_6974; // "credkit"

/// The migrations, in order; `schema_migrations` holds the versions applied (1-based).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE oid4vp_transactions (
        id TEXT PRIMARY KEY NOT NULL,
        state TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX oid4vp_transactions_expiry ON oid4vp_transactions (expires_at);",
    "CREATE TABLE oid4vci_state (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value BYTEA NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX oid4vci_state_expiry ON oid4vci_state (expires_at);
    CREATE TABLE status_entries (
        list INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        credential_id TEXT NOT NULL UNIQUE,
        reference TEXT,
        status SMALLINT NOT NULL DEFAULT 0,
        PRIMARY KEY (list, idx)
    );
    CREATE INDEX status_entries_reference ON status_entries (reference);",
];

/// A storage error from anything displayable.
fn storage(e: impl fmt::Display) -> credkit::Error {
    WalletError::Storage(e.to_string()).into()
}

/// A storage error from PostgreSQL: the SQLSTATE and the message, never the DETAIL (which
/// may quote a row's values).
fn db(e: &postgres::Error) -> credkit::Error {
    match e.as_db_error() {
        Some(d) => storage(format!("PostgreSQL {}: {}", d.code().code(), d.message())),
        None if e.is_closed() => storage("the PostgreSQL connection is closed"),
        None => storage(format!("PostgreSQL: {e}")),
    }
}

/// One connection, with its prepared statements.
pub(crate) struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
    used: Instant,
    /// The pool's count of lost connections when this one was last known good.
    losses: u64,
}

impl Conn {
    /// The prepared statement for `sql` (prepared once per connection).
    fn statement(&mut self, sql: &'static str) -> credkit::Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(|e| db(&e))?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> credkit::Result<u64> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params).map_err(|e| db(&e))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> credkit::Result<Option<postgres::Row>> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params).map_err(|e| db(&e))
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> credkit::Result<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        self.client.query(&s, params).map_err(|e| db(&e))
    }
}

/// Column `i` of `row`, or a storage error (never a panic on an unexpected type).
fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
) -> credkit::Result<T> {
    row.try_get(i).map_err(|e| db(&e))
}

type Job = Box<dyn FnOnce(Result<&mut Conn, &str>) + Send>;

/// The connection pool: [`WORKERS`] threads, each owning one connection.
pub(crate) struct Pg {
    jobs: Sender<Job>,
}

impl fmt::Debug for Pg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pg")
    }
}

impl Pg {
    /// Starts the pool for `url` (`postgres://` / `postgresql://`, or libpq's `key=value`
    /// form) and migrates the schema. Fails when the URL does not parse or the database
    /// cannot be reached.
    pub(crate) fn open(url: &str) -> Result<Arc<Self>, crate::Failure> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            crate::Failure::Usage(format!("--store: not a PostgreSQL connection URL ({e})"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("credkit-server");
        }
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let losses = Arc::new(AtomicU64::new(0));
        for n in 0..WORKERS {
            let config = config.clone();
            let rx = rx.clone();
            let losses = losses.clone();
            std::thread::Builder::new()
                .name(format!("credkit-pg-{n}"))
                .spawn(move || worker(&config, &rx, &losses))
                .map_err(|e| crate::Failure::Start(format!("cannot start a thread: {e}")))?;
        }
        let pg = Arc::new(Self { jobs });
        pg.call(migrate)
            .map_err(|e| crate::Failure::Start(format!("PostgreSQL: {e}")))?;
        Ok(pg)
    }

    /// Runs `f` on a connection of the pool and waits for its outcome.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> credkit::Result<T> + Send + 'static,
    ) -> credkit::Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let outcome = match conn {
                Ok(c) => f(c),
                Err(e) => Err(storage(e)),
            };
            let _ = reply.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| storage("the PostgreSQL workers stopped"))?;
        answer
            .recv_timeout(CALL_TIMEOUT)
            .unwrap_or_else(|e| match e {
                mpsc::RecvTimeoutError::Timeout => {
                    Err(storage("PostgreSQL did not answer in time"))
                }
                mpsc::RecvTimeoutError::Disconnected => Err(storage("a PostgreSQL worker failed")),
            })
    }
}

/// A pool thread: opens its connection when it has none (or lost it), then runs jobs until
/// the pool is dropped. A job that panics costs its connection, not the thread. A connection
/// found closed counts in `losses`: every other thread then checks its own before its next
/// job (a restart or failover of the server closes them all), so that one request per node
/// fails, not one per connection.
fn worker(config: &postgres::Config, jobs: &Mutex<Receiver<Job>>, losses: &AtomicU64) {
    let mut conn: Option<Conn> = None;
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let lost = losses.load(Ordering::SeqCst);
        if let Some(c) = &mut conn {
            let doubtful = c.losses != lost || c.used.elapsed() >= CHECK_IDLE;
            if c.client.is_closed() || (doubtful && c.client.is_valid(CONNECT_TIMEOUT).is_err()) {
                conn = None;
            } else {
                c.losses = lost;
            }
        }
        let mut failure = String::new();
        if conn.is_none() {
            match config.connect(NoTls) {
                Ok(client) => {
                    conn = Some(Conn {
                        client,
                        statements: HashMap::new(),
                        used: Instant::now(),
                        losses: lost,
                    });
                }
                Err(e) => {
                    let e = db(&e);
                    tracing::warn!(error = %e, "cannot connect to PostgreSQL");
                    failure = e.to_string();
                }
            }
        }
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| match conn.as_mut() {
            Some(c) => job(Ok(c)),
            None => job(Err(&failure)),
        }));
        match (ran, &mut conn) {
            (Ok(()), Some(c)) if c.client.is_closed() => {
                losses.fetch_add(1, Ordering::SeqCst);
                conn = None;
            }
            (Ok(()), Some(c)) => c.used = Instant::now(),
            (Ok(()), None) => {}
            (Err(_), _) => conn = None,
        }
    }
}

/// Applies the migrations not applied yet, in one transaction under an advisory lock (nodes
/// that start together migrate one after the other).
fn migrate(conn: &mut Conn) -> credkit::Result<()> {
    let mut tx = conn.client.transaction().map_err(|e| db(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| db(&e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .map_err(|e| db(&e))?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(|e| db(&e))?;
    let applied: i32 = col(&row, 0)?;
    let applied = usize::try_from(applied).map_err(storage)?;
    if applied > MIGRATIONS.len() {
        return Err(storage(format!(
            "the database's schema (version {applied}) is newer than this build's"
        )));
    }
    for (version, m) in (1i32..).zip(MIGRATIONS.iter()).skip(applied) {
        tx.batch_execute(m).map_err(|e| db(&e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .map_err(|e| db(&e))?;
    }
    tx.commit().map_err(|e| db(&e))
}

/// The verifier's transactions in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgTransactions {
    pg: Arc<Pg>,
}

impl PgTransactions {
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        Self { pg }
    }
}

fn read_tx(row: Option<&postgres::Row>) -> credkit::Result<Option<Transaction>> {
    row.map(|r| col::<String>(r, 0).and_then(|b| Transaction::from_json(&b)))
        .transpose()
}

impl TransactionStore for PgTransactions {
    fn insert(&self, tx: &Transaction) -> credkit::Result<()> {
        let (id, state, status, expires_at, body) = (
            tx.id.clone(),
            tx.state.clone(),
            tx.status.name().to_owned(),
            tx.expires_at,
            tx.to_json(),
        );
        self.pg.call(move |c| {
            c.execute(
                "INSERT INTO oid4vp_transactions (id, state, status, expires_at, body)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &state, &status, &expires_at, &body.as_str()],
            )?;
            Ok(())
        })
    }

    fn get(&self, id: &str) -> credkit::Result<Option<Transaction>> {
        let id = id.to_owned();
        self.pg.call(move |c| {
            let row = c.query_opt("SELECT body FROM oid4vp_transactions WHERE id = $1", &[&id])?;
            read_tx(row.as_ref())
        })
    }

    fn find_by_state(&self, state: &str) -> credkit::Result<Option<Transaction>> {
        let state = state.to_owned();
        self.pg.call(move |c| {
            let row = c.query_opt(
                "SELECT body FROM oid4vp_transactions WHERE state = $1",
                &[&state],
            )?;
            read_tx(row.as_ref())
        })
    }

    fn finish(&self, tx: &Transaction) -> credkit::Result<bool> {
        let (id, status, body) = (tx.id.clone(), tx.status.name().to_owned(), tx.to_json());
        self.pg.call(move |c| {
            let n = c.execute(
                "UPDATE oid4vp_transactions SET status = $2, body = $3
                 WHERE id = $1 AND status = 'pending'",
                &[&id, &status, &body.as_str()],
            )?;
            Ok(n == 1)
        })
    }

    fn purge_expired(&self, before: i64) -> credkit::Result<usize> {
        self.pg.call(move |c| {
            let n = c.execute(
                "DELETE FROM oid4vp_transactions WHERE expires_at < $1",
                &[&before],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn take_response_code(&self, id: &str, code: &str) -> credkit::Result<Option<Transaction>> {
        let (id, code) = (id.to_owned(), zeroize::Zeroizing::new(code.to_owned()));
        self.pg.call(move |c| {
            // The row stays locked from the read to the write: of two nodes taking the same
            // code, the second sees it gone.
            let select =
                c.statement("SELECT body FROM oid4vp_transactions WHERE id = $1 FOR UPDATE")?;
            let update = c.statement("UPDATE oid4vp_transactions SET body = $2 WHERE id = $1")?;
            let mut t = c.client.transaction().map_err(|e| db(&e))?;
            let row = t.query_opt(&select, &[&id]).map_err(|e| db(&e))?;
            let Some(mut tx) = read_tx(row.as_ref())? else {
                return Ok(None);
            };
            match &tx.response_code {
                Some(stored) if same_secret(stored, &code) => {
                    tx.response_code = None;
                    t.execute(&update, &[&id, &tx.to_json().as_str()])
                        .map_err(|e| db(&e))?;
                    t.commit().map_err(|e| db(&e))?;
                    Ok(Some(tx))
                }
                _ => Ok(None),
            }
        })
    }
}

/// The issuer's OpenID4VCI state in PostgreSQL (without `--cache`).
#[derive(Debug)]
pub(crate) struct PgState {
    pg: Arc<Pg>,
    inserts: AtomicU64,
}

impl PgState {
    pub(crate) fn new(pg: Arc<Pg>) -> Self {
        Self {
            pg,
            inserts: AtomicU64::new(0),
        }
    }
}

impl StateStore for PgState {
    fn insert(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> credkit::Result<bool> {
        let (kind, key, value) = (kind.to_owned(), key.to_owned(), value.to_vec());
        let purge = self
            .inserts
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY);
        self.pg.call(move |c| {
            // One statement: a new row, or a dead one taken over; a live one stays.
            let n = c.execute(
                "INSERT INTO oid4vci_state (kind, key, value, expires_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, key) DO UPDATE
                 SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                 WHERE oid4vci_state.expires_at <= $5",
                &[&kind, &key, &value, &expires_at, &now],
            )?;
            if purge {
                c.execute("DELETE FROM oid4vci_state WHERE expires_at <= $1", &[&now])?;
            }
            Ok(n == 1)
        })
    }

    fn get(&self, kind: &str, key: &str, now: i64) -> credkit::Result<Option<Vec<u8>>> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.pg.call(move |c| {
            c.query_opt(
                "SELECT value FROM oid4vci_state
                 WHERE kind = $1 AND key = $2 AND expires_at > $3",
                &[&kind, &key, &now],
            )?
            .map(|r| col(&r, 0))
            .transpose()
        })
    }

    fn take(&self, kind: &str, key: &str, now: i64) -> credkit::Result<Option<Vec<u8>>> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.pg.call(move |c| {
            // One statement: of two concurrent takes (any node), one deletes the row.
            let row = c.query_opt(
                "DELETE FROM oid4vci_state WHERE kind = $1 AND key = $2
                 RETURNING value, expires_at",
                &[&kind, &key],
            )?;
            let Some(row) = row else { return Ok(None) };
            let exp: i64 = col(&row, 1)?;
            if exp > now {
                Ok(Some(col(&row, 0)?))
            } else {
                Ok(None)
            }
        })
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
        let (kind, key, old, new) = (kind.to_owned(), key.to_owned(), old.to_vec(), new.to_vec());
        self.pg.call(move |c| {
            let n = c.execute(
                "UPDATE oid4vci_state SET value = $4, expires_at = $5
                 WHERE kind = $1 AND key = $2 AND value = $3 AND expires_at > $6",
                &[&kind, &key, &old, &new, &expires_at, &now],
            )?;
            Ok(n == 1)
        })
    }
}

/// The issuer's status list entries in PostgreSQL.
pub(crate) struct PgStatus {
    pg: Arc<Pg>,
    uri: String,
    size: u64,
}

impl fmt::Debug for PgStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStatus")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl PgStatus {
    pub(crate) fn new(pg: Arc<Pg>, uri: String, size: u64) -> Self {
        Self { pg, uri, size }
    }
}

impl StatusEntries for PgStatus {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn changed(&self) -> credkit::Result<Vec<(u64, u8)>> {
        self.pg.call(|c| {
            let rows = c.query(
                "SELECT idx, status FROM status_entries WHERE list = 1 AND status != 0",
                &[],
            )?;
            rows.iter()
                .map(|r| {
                    let idx: i64 = col(r, 0)?;
                    let status: i16 = col(r, 1)?;
                    Ok((
                        u64::try_from(idx).map_err(storage)?,
                        u8::try_from(status).map_err(storage)?,
                    ))
                })
                .collect()
        })
    }

    fn set(&self, id: &str, status: u8) -> credkit::Result<bool> {
        let id = id.to_owned();
        self.pg.call(move |c| {
            let n = c.execute(
                "UPDATE status_entries SET status = $2 WHERE credential_id = $1",
                &[&id, &i16::from(status)],
            )?;
            Ok(n == 1)
        })
    }

    fn by_reference(&self, reference: &str) -> credkit::Result<Vec<(String, u8)>> {
        let reference = reference.to_owned();
        self.pg.call(move |c| {
            let rows = c.query(
                "SELECT credential_id, status FROM status_entries WHERE reference = $1
                 ORDER BY credential_id",
                &[&reference],
            )?;
            rows.iter()
                .map(|r| {
                    let status: i16 = col(r, 1)?;
                    Ok((col(r, 0)?, u8::try_from(status).map_err(storage)?))
                })
                .collect()
        })
    }
}

impl StatusAllocator for PgStatus {
    fn allocate(
        &self,
        reference: Option<&str>,
        rng: &dyn RandomSource,
    ) -> credkit::Result<Map<String, Value>> {
        let id = credkit::rand::id(rng)?;
        // Random indexes (TSL §13.2/§13.3) drawn here, where the RNG is; the database takes
        // the first that is free. The list is sized so that it stays sparse; after 64
        // collisions it counts as full.
        let mut candidates = Vec::with_capacity(64);
        for _ in 0..64 {
            let mut b = [0u8; 8];
            rng.fill(&mut b)?;
            candidates
                .push(i64::try_from(u64::from_le_bytes(b) % self.size.max(1)).map_err(storage)?);
        }
        let reference = reference.map(str::to_owned);
        let taken = self.pg.call(move |c| {
            for idx in candidates {
                let n = c.execute(
                    "INSERT INTO status_entries (list, idx, credential_id, reference)
                     VALUES (1, $1, $2, $3)
                     ON CONFLICT (list, idx) DO NOTHING",
                    &[&idx, &id, &reference],
                )?;
                if n == 1 {
                    return Ok(Some(idx));
                }
            }
            Ok(None)
        })?;
        let Some(idx) = taken else {
            return Err(credkit::error::StatusError::Full.into());
        };
        let mut claim = Map::new();
        claim.insert(
            "status_list".into(),
            serde_json::json!({"idx": idx, "uri": self.uri}),
        );
        Ok(claim)
    }
}
