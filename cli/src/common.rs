//! Shared helpers of the command groups: reading files and stdin, printing JSON, public keys
//! and the clock.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use credkit::jose::{PrivateJwk, PublicJwk};
use credkit::time::{Clock, FixedClock, SystemClock};
use serde_json::Value;

use crate::{CliResult, Failure};

pub(crate) fn read_file(path: &Path) -> CliResult<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

pub(crate) fn read_stdin() -> CliResult<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::Usage(format!("cannot read stdin: {e}")))?;
    // The transport layer (a shell pipe) may add a newline; the core parser never trims.
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A public JWK from a file that may hold a private one.
pub(crate) fn public_key(path: &Path) -> CliResult<PublicJwk> {
    let text = read_file(path)?;
    match PublicJwk::parse(&text) {
        Ok(k) => Ok(k),
        Err(e) if e.code() == "key_private_material" => {
            Ok(PrivateJwk::parse(&text)?.public().clone())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn clock(now: Option<i64>) -> Arc<dyn Clock> {
    match now {
        Some(t) => Arc::new(FixedClock(t)),
        None => Arc::new(SystemClock),
    }
}
