//! `--cache redis://...`: the issuer's short-lived OpenID4VCI state (every kind of
//! `credkit::oauth::store::StateStore`: offers, codes, tokens, c_nonces, DPoP nonces and
//! `jti`s, ...) in Redis, under `credkit:{kind}:{key}` (keys are already SHA-256 of secrets
//! or random ids; values are never logged).
//!
//! insert is `SET NX PXAT` (Redis expires the entry), get is `GET`, take is `GETDEL` (one
//! command: of two concurrent takes on any node, one gets the value), replace is a Lua
//! script that compares and sets in one step. Expiry follows Redis's clock, which the nodes'
//! clocks must agree with (NTP), as they must for tokens anyway.
//!
//! The blocking client speaks over plain std sockets (no runtime), so it is called directly
//! on the blocking threads; idle connections are kept in a small pool, a connection that
//! failed is dropped, and every failure is `WalletError::Storage` (`storage_failed`, 503).

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use credkit::error::WalletError;
use credkit::oauth::store::StateStore;

/// Idle connections kept.
const IDLE: usize = 8;
/// Connect, read and write timeouts.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Compare and set: `KEYS[1]` becomes `ARGV[2]` (expiring at `ARGV[3]` ms) only if it is
/// `ARGV[1]` now.
const REPLACE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3]) return 1 else return 0 end";

fn storage(e: &redis::RedisError) -> credkit::Error {
    // The kind and Redis's own words; commands and their arguments are never part of it.
    WalletError::Storage(format!("Redis: {e}")).into()
}

/// The issuer's OpenID4VCI state in Redis.
pub(crate) struct RedisState {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    replace: redis::Script,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisState")
    }
}

fn key(kind: &str, key: &str) -> String {
    format!("credkit:{kind}:{key}")
}

/// Unix seconds as Redis's `PXAT` (milliseconds, at least 1: a time in the past expires the
/// entry at once).
fn pxat(expires_at: i64) -> i64 {
    expires_at.saturating_mul(1000).max(1)
}

impl RedisState {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) and checks that Redis
    /// answers.
    pub(crate) fn open(url: &str) -> Result<Self, crate::Failure> {
        if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
            return Err(crate::Failure::Usage(
                "--cache: redis://... or redis+unix://... (TLS to Redis is not in this build)"
                    .into(),
            ));
        }
        let client =
            redis::Client::open(url).map_err(|e| crate::Failure::Usage(format!("--cache: {e}")))?;
        let state = Self {
            client,
            idle: Mutex::new(Vec::new()),
            replace: redis::Script::new(REPLACE),
        };
        state
            .with(|c| redis::cmd("PING").query::<String>(c))
            .map_err(|e| crate::Failure::Start(e.to_string()))?;
        Ok(state)
    }

    /// Runs `f` on a pooled connection (a new one when none is idle); the connection goes
    /// back to the pool unless the call failed.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> credkit::Result<T> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(TIMEOUT)
                    .map_err(|e| storage(&e))?;
                c.set_read_timeout(Some(TIMEOUT)).map_err(|e| storage(&e))?;
                c.set_write_timeout(Some(TIMEOUT))
                    .map_err(|e| storage(&e))?;
                c
            }
        };
        let out = f(&mut conn).map_err(|e| storage(&e))?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(conn);
        }
        Ok(out)
    }
}

impl StateStore for RedisState {
    fn insert(
        &self,
        kind: &str,
        k: &str,
        value: &[u8],
        expires_at: i64,
        _now: i64,
    ) -> credkit::Result<bool> {
        let set: Option<String> = self.with(|c| {
            redis::cmd("SET")
                .arg(key(kind, k))
                .arg(value)
                .arg("NX")
                .arg("PXAT")
                .arg(pxat(expires_at))
                .query(c)
        })?;
        Ok(set.is_some())
    }

    fn get(&self, kind: &str, k: &str, _now: i64) -> credkit::Result<Option<Vec<u8>>> {
        self.with(|c| redis::cmd("GET").arg(key(kind, k)).query(c))
    }

    fn take(&self, kind: &str, k: &str, _now: i64) -> credkit::Result<Option<Vec<u8>>> {
        self.with(|c| redis::cmd("GETDEL").arg(key(kind, k)).query(c))
    }

    fn replace(
        &self,
        kind: &str,
        k: &str,
        old: &[u8],
        new: &[u8],
        expires_at: i64,
        _now: i64,
    ) -> credkit::Result<bool> {
        let n: i64 = self.with(|c| {
            self.replace
                .key(key(kind, k))
                .arg(old)
                .arg(new)
                .arg(pxat(expires_at))
                .invoke(c)
        })?;
        Ok(n == 1)
    }
}
