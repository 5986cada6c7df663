//! `credkit status`: Token Status Lists (create, set, sign as a token, read a status).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use credkit::crypto::default_provider;
use credkit::error::StatusError;
use credkit::jose::{Jws, PrivateJwk};
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::status_list::{
    Bits, DEFAULT_MAX_LIST_BYTES, IndexAllocator, Status, StatusList, StatusListTokenBuilder,
    TokenCheck, verify_jwt,
};
use serde_json::{Map, Value};

use crate::common::{clock, pretty, public_key, read_file};
use crate::{CliResult, Failure};

#[derive(Subcommand)]
pub(crate) enum StatusCommand {
    /// Write a new Status List file with every entry VALID.
    ///
    /// The file is a JSON object {"bits", "size", "lst"}: `lst` is the base64url of the
    /// ZLIB-compressed list (draft-ietf-oauth-status-list §4.2); an optional "allocated" array
    /// (indices already handed out) and other members are kept by `status set`.
    Create {
        /// Bits per status: 1, 2, 4 or 8.
        #[arg(long)]
        bits: u64,
        /// Number of entries (indices 0 to size - 1).
        #[arg(long)]
        size: u64,
        /// The list file to write (an existing file is replaced).
        #[arg(long, value_name = "LIST")]
        out: PathBuf,
    },
    /// Set the status at an index of a Status List file.
    Set {
        /// The Status List file (updated in place).
        #[arg(value_name = "LIST")]
        list: PathBuf,
        /// The index, below the list's size.
        #[arg(value_name = "IDX")]
        idx: u64,
        /// VALID, INVALID (or REVOKED), SUSPENDED, or a value (decimal, or hexadecimal with
        /// 0x) that fits the list's bits.
        #[arg(value_name = "STATUS", value_parser = parse_status)]
        status: Status,
    },
    /// Sign a Status List file as a Status List Token (JWT, typ statuslist+jwt) and print it.
    Token(StatusTokenArgs),
    /// Print the status at an index of a Status List Token: VALID, INVALID, SUSPENDED or the
    /// raw value (e.g. 0x03).
    ///
    /// Without --issuer-key the token is only decoded, NOT verified (no signature, issuer or
    /// expiry check): for inspection only, never a basis for accepting a credential. With
    /// --issuer-key the signature, typ, sub, iat and exp are verified.
    Get(StatusGetArgs),
}

#[derive(clap::Args)]
pub(crate) struct StatusTokenArgs {
    /// The issuer's private JWK.
    #[arg(long)]
    key: PathBuf,
    /// Where the token is published (its sub); credentials reference it in
    /// status.status_list.uri.
    #[arg(long)]
    uri: String,
    /// The Status List file.
    #[arg(value_name = "LIST")]
    list: PathBuf,
    /// How long relying parties may cache the token (ttl), in seconds.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
    /// Validity in seconds from now (sets exp).
    #[arg(long, value_name = "SECONDS")]
    exp: Option<u32>,
    /// The issuer identifier (iss); verifiers require it to be the credential's iss.
    #[arg(long)]
    iss: Option<String>,
    /// The time to use as "now" (Unix seconds) for iat and exp.
    #[arg(long)]
    now: Option<i64>,
}

#[derive(clap::Args)]
pub(crate) struct StatusGetArgs {
    /// A file holding the Status List Token (JWT).
    #[arg(value_name = "TOKEN_FILE")]
    token: PathBuf,
    /// The index to read.
    #[arg(value_name = "IDX")]
    idx: u64,
    /// The URI the token must be published for (its sub); with --issuer-key the default is
    /// the token's own sub.
    #[arg(long)]
    uri: Option<String>,
    /// Verify the token with this issuer public JWK. Without it the token is decoded without
    /// any verification: inspection only.
    #[arg(long, value_name = "PUB.jwk")]
    issuer_key: Option<PathBuf>,
    /// With --issuer-key, the time to check iat and exp at (Unix seconds); default now.
    #[arg(long)]
    now: Option<i64>,
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| {
        format!("{s:?} is not VALID, INVALID, SUSPENDED or a value from 0 to 255 (or 0x00 to 0xFF)")
    })
}

pub(crate) fn status(command: StatusCommand) -> CliResult<String> {
    match command {
        StatusCommand::Create { bits, size, out } => {
            let bits = Bits::new(bits)?;
            if size == 0 {
                return Err(invalid_list("size must be at least 1"));
            }
            let entries =
                usize::try_from(size).map_err(|_| StatusError::TooLarge(DEFAULT_MAX_LIST_BYTES))?;
            let file = ListFile {
                list: StatusList::new(bits, entries)?,
                size,
                rest: Map::new(),
            };
            write_list(&out, &file)?;
            Ok(String::new())
        }
        StatusCommand::Set { list, idx, status } => {
            let mut file = read_list(&list)?;
            if idx >= file.size {
                return Err(StatusError::IndexOutOfRange {
                    idx,
                    capacity: file.size,
                }
                .into());
            }
            file.list.set(idx, status)?;
            write_list(&list, &file)?;
            Ok(String::new())
        }
        StatusCommand::Token(a) => status_token(&a),
        StatusCommand::Get(a) => status_get(&a),
    }
}

fn invalid_list(why: &str) -> Failure {
    StatusError::Invalid(why.to_owned()).into()
}

/// A Status List file: the list, its size (the byte array may hold a few more entries) and
/// the other members, kept as they are.
struct ListFile {
    list: StatusList,
    size: u64,
    rest: Map<String, Value>,
}

fn read_list(path: &Path) -> CliResult<ListFile> {
    let mut doc = credkit::json::parse_object(read_file(path)?.as_bytes(), 16, "status list")?;
    let list = StatusList::from_json(&doc, DEFAULT_MAX_LIST_BYTES)?;
    let capacity = u64::try_from(list.capacity()).unwrap_or(u64::MAX);
    let size = doc
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid_list("size must be a non-negative integer"))?;
    if size == 0 || size > capacity {
        return Err(invalid_list(&format!(
            "size {size} is not between 1 and the list's {capacity} entries"
        )));
    }
    if let Some(allocated) = doc.get("allocated") {
        let indices = allocated
            .as_array()
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
            .ok_or_else(|| invalid_list("allocated must be an array of indices"))?;
        IndexAllocator::with_allocated(size, indices)?;
    }
    for k in ["bits", "size", "lst", "aggregation_uri"] {
        doc.remove(k);
    }
    Ok(ListFile {
        list,
        size,
        rest: doc,
    })
}

fn write_list(path: &Path, file: &ListFile) -> CliResult<()> {
    let mut json = file.list.to_json();
    let mut out = Map::new();
    for k in ["bits", "size", "lst", "aggregation_uri"] {
        if k == "size" {
            out.insert(k.into(), file.size.into());
        } else if let Some(v) = json.remove(k) {
            out.insert(k.into(), v);
        }
    }
    out.extend(file.rest.clone());
    let text = pretty(&Value::Object(out)) + "\n";
    // Write a sibling file and rename it over the list, so that a failure never leaves a
    // truncated list behind.
    let fail = |e: std::io::Error| Failure::Usage(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

fn status_token(a: &StatusTokenArgs) -> CliResult<String> {
    let key = PrivateJwk::parse(&read_file(&a.key)?)?;
    let signer = default_provider().signer(&key)?;
    let file = read_list(&a.list)?;
    let now = clock(a.now).now();
    let mut b = StatusListTokenBuilder::new(a.uri.clone(), now);
    if let Some(secs) = a.exp {
        b = b.expires_at(now.saturating_add(i64::from(secs)));
    }
    if let Some(ttl) = a.ttl {
        b = b.ttl(ttl);
    }
    if let Some(iss) = &a.iss {
        b = b.issuer(iss.clone());
    }
    Ok(b.sign_jwt(&file.list, &*signer)?)
}

fn status_get(a: &StatusGetArgs) -> CliResult<String> {
    let text = read_file(&a.token)?;
    let token = text.trim();
    let list = match &a.issuer_key {
        Some(k) => {
            let keys = StaticIssuerKeys::single(&public_key(k)?, default_provider())?;
            let uri = match &a.uri {
                Some(uri) => uri.clone(),
                None => token_claims(token)?
                    .get("sub")
                    .and_then(Value::as_str)
                    .ok_or_else(|| StatusError::TokenInvalid("sub is required".into()))?
                    .to_owned(),
            };
            let check = TokenCheck {
                uri: &uri,
                credential_issuer: None,
                credential_binding: None,
                now: clock(a.now).now(),
                leeway: 60,
                max_list_bytes: DEFAULT_MAX_LIST_BYTES,
            };
            verify_jwt(token, &keys, &check)?.list
        }
        None => {
            // Inspection only: no signature, issuer or time checks.
            let claims = token_claims(token)?;
            if let Some(uri) = &a.uri
                && claims.get("sub").and_then(Value::as_str) != Some(uri.as_str())
            {
                return Err(StatusError::SubMismatch.into());
            }
            let list = claims
                .get("status_list")
                .and_then(Value::as_object)
                .ok_or_else(|| StatusError::TokenInvalid("status_list is required".into()))?;
            StatusList::from_json(list, DEFAULT_MAX_LIST_BYTES)?
        }
    };
    Ok(list.status(a.idx)?.to_string())
}

/// The claims of a JWT, not verified.
fn token_claims(token: &str) -> CliResult<Map<String, Value>> {
    Ok(Jws::parse_compact(token)?.payload_json(16)?)
}
