//! `credkit wallet`: a holder wallet in an encrypted SQLite file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;
use credkit::dcql::DcqlQuery;
use credkit::error::{DcqlError, WalletError};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, UreqClient};
use credkit::jose::Algorithm;
use credkit::openid4vp::Profile;
use credkit::openid4vp::wallet::WalletPolicy;
use credkit::rand::OsRandom;
use credkit::sd_jwt::KeyBindingPolicy;
use credkit::sd_jwt_vc::{TrustPolicy, VcVerifier};
use credkit::wallet::{QueryAnswer, SqliteKeyManager, SqliteStore, StoreKey, UsePolicy, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Map, Value, json};

use crate::common::{clock, pretty, read_file};
use crate::trust::{TrustArgs, VcSetup, vc_setup};
use crate::{CliResult, Failure};

#[derive(clap::Args)]
pub(crate) struct WalletArgs {
    /// The wallet database (created by `wallet keys` when it does not exist).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// The environment variable holding the store key (64 hex characters).
    #[arg(long, value_name = "VAR", default_value = "CREDKIT_WALLET_KEY")]
    key_env: String,
    /// Read the store key (64 hex characters) from this file instead.
    #[arg(long, value_name = "PATH", conflicts_with = "key_env")]
    key_file: Option<PathBuf>,
    /// one-time: each copy of a batch is presented once (unlinkable presentations), then the
    /// credential is exhausted; rotate: copies are reused in turn.
    #[arg(long, value_enum, default_value = "one-time")]
    policy: PolicyArg,
    /// The time to use as "now" (Unix seconds): verification of added credentials, KB-JWT iat.
    #[arg(long)]
    now: Option<i64>,
    #[command(subcommand)]
    command: WalletCommand,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PolicyArg {
    /// Each copy is presented once.
    OneTime,
    /// Copies are used in turn, the least used first.
    Rotate,
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Create holder keys and print [{"id", "jwk"}]: send the public keys with the (batch)
    /// issuance request, then `wallet add` the credentials with the ids.
    Keys {
        /// How many keys (one per copy of a batch).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
        /// ES256, ES384, ES512 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// Verify issued SD-JWT VCs (the copies of one batch, one per file) and store them as one
    /// credential; print its batch id.
    Add(WalletAddArgs),
    /// Print the credentials held: [{batch, vct, issuer, copies, unused, claims, disclosable}].
    List,
    /// Delete a credential (every copy) and its holder keys.
    Remove {
        /// The batch id.
        #[arg(value_name = "BATCH")]
        batch: String,
    },
    /// Answer a DCQL query (OpenID4VP 1.0 §6): print, for each Credential Query, the held
    /// credentials that answer it (the least-disclosing first) and what each would reveal.
    Query {
        /// The DCQL query (the `dcql_query` JSON object).
        #[arg(long, value_name = "QUERY.json")]
        dcql: PathBuf,
    },
    /// Present a credential with a Key Binding JWT (SD-JWT+KB): one credential with chosen
    /// disclosures, or every Credential Query of a DCQL query answered with its first
    /// candidate (printed as an OpenID4VP vp_token {"<query id>": ["<presentation>"]}).
    Present(WalletPresentArgs),
    /// Answer an OpenID4VP 1.0 Authorization Request (openid4vp:// or haip-vp:// URL):
    /// without --yes, print the verified verifier identity and what each candidate would
    /// reveal ({"verifier", "candidates"}) and send nothing; with --yes, send the
    /// least-disclosure answer to the verifier's response_uri.
    Respond(WalletRespondArgs),
    /// Obtain credentials over OpenID4VCI 1.0 from a Credential Offer
    /// (openid-credential-offer://, haip-vci:// or https:): make --count holder keys, run the
    /// pre-authorized or authorization code flow with DPoP, verify what the issuer sends with
    /// the trust flags and store it as one batch; print {"batch", "count", "format", "vct"}.
    /// Creates the wallet file when it does not exist.
    AcceptOffer(WalletAcceptArgs),
}

#[derive(clap::Args)]
struct WalletAcceptArgs {
    /// The Transaction Code the issuer sent by another channel (when the offer asks for one).
    #[arg(long, value_name = "CODE")]
    tx_code: Option<String>,
    /// How many copies (holder keys) to obtain; the issuer's batch_size per request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    count: u32,
    #[command(flatten)]
    trust: TrustArgs,
    /// A Wallet Attestation for issuers that require client attestation: a JSON file
    /// {"attestation": "<JWT>", "key": {<the private JWK of its cnf key>}}.
    #[arg(long, value_name = "FILE")]
    wallet_attestation: Option<PathBuf>,
    /// For an authorization_code offer: request the authorization URL itself instead of
    /// waiting for a browser (issuers that authorise by issuer_state alone).
    #[arg(long)]
    follow_authorization: bool,
    /// Which offered configuration to request (default: the first).
    #[arg(long, value_name = "ID")]
    configuration: Option<String>,
    /// The Credential Offer link.
    #[arg(value_name = "OFFER_URI")]
    offer: String,
}

#[derive(clap::Args)]
struct WalletAddArgs {
    /// The holder key ids the copies are bound to (from `wallet keys`; repeatable).
    #[arg(long = "key-id", value_name = "ID", required = true)]
    key_id: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Accept only SD-JWT VCs of this type (repeatable).
    #[arg(long, value_name = "VCT")]
    expect_vct: Vec<String>,
    /// Also accept the legacy typ vc+sd-jwt.
    #[arg(long)]
    legacy_typ: bool,
    /// The issued credentials, one per file: the copies of one batch.
    #[arg(value_name = "CRED_FILE", required = true)]
    credentials: Vec<PathBuf>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["batch", "dcql"])))]
struct WalletPresentArgs {
    /// The verifier's identifier (KB-JWT aud).
    #[arg(long)]
    aud: String,
    /// The verifier's nonce (KB-JWT nonce).
    #[arg(long)]
    nonce: String,
    /// The credential to present (its batch id).
    #[arg(long, value_name = "BATCH")]
    batch: Option<String>,
    /// With --batch: disclose the claim at this JSON Pointer (repeatable).
    #[arg(long = "disclose", value_name = "POINTER", requires = "batch")]
    disclose: Vec<String>,
    /// Answer this DCQL query instead.
    #[arg(long, value_name = "QUERY.json")]
    dcql: Option<PathBuf>,
}

#[derive(clap::Args)]
struct WalletRespondArgs {
    /// Send the least-disclosure answer (without it, only the consent summary is printed).
    #[arg(long)]
    yes: bool,
    /// Trust this CA for HTTPS (request_uri, response_uri) instead of the Mozilla roots
    /// (PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    http_root: Vec<PathBuf>,
    /// DANGER: allow loopback and private addresses (local tests only).
    #[arg(long)]
    allow_internal_addresses: bool,
    /// A CA that verifiers' request-signing certificates must chain to (x509_san_dns,
    /// x509_hash; PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    verifier_trust_anchor: Vec<PathBuf>,
    /// Apply HAIP 1.0 (signed requests by reference, encrypted responses only).
    #[arg(long)]
    haip: bool,
    /// The Authorization Request URL.
    #[arg(value_name = "REQUEST_URI")]
    request_uri: String,
}

/// The store key: 64 hex characters (surrounding whitespace ignored) from --key-file or the
/// --key-env variable. A missing or malformed key is a usage error.
fn store_key(a: &WalletArgs) -> CliResult<StoreKey> {
    let (text, source) = match &a.key_file {
        Some(p) => (read_file(p)?, p.display().to_string()),
        None => {
            let text = std::env::var(&a.key_env).map_err(|_| {
                Failure::Usage(format!(
                    "no store key: set {} to the 32-byte key as 64 hex characters, or use \
                     --key-file",
                    a.key_env
                ))
            })?;
            (text, format!("${}", a.key_env))
        }
    };
    let text = zeroize::Zeroizing::new(text);
    StoreKey::from_hex(&text).map_err(|_| {
        Failure::Usage(format!(
            "the store key in {source} must be 32 bytes as 64 hex characters"
        ))
    })
}

/// Opens the wallet database. Only `wallet keys` creates it; the other commands need it.
fn open_store(a: &WalletArgs) -> CliResult<Arc<SqliteStore>> {
    let creates = matches!(
        a.command,
        WalletCommand::Keys { .. } | WalletCommand::AcceptOffer(_)
    );
    if !creates && !a.db.exists() {
        return Err(Failure::Usage(format!(
            "no wallet at {} (`wallet keys` creates it)",
            a.db.display()
        )));
    }
    let key = store_key(a)?;
    match SqliteStore::open(&a.db, key, Arc::new(OsRandom)) {
        Ok(s) => Ok(Arc::new(s)),
        // A wrong store key is a rejection (exit 1); a file that cannot be opened is I/O.
        Err(e) if e.code() == "storage_failed" => Err(Failure::Usage(format!(
            "cannot open {}: {e}",
            a.db.display()
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn wallet(a: WalletArgs) -> CliResult<String> {
    let store = open_store(&a)?;
    let clock = clock(a.now);
    let verifier = match &a.command {
        WalletCommand::Add(add) => {
            let VcSetup { builder, .. } = vc_setup(&add.trust, &clock)?;
            let mut b = builder
                .key_binding(KeyBindingPolicy::Forbidden)
                .accept_legacy_typ(add.legacy_typ);
            if !add.expect_vct.is_empty() {
                let vcts: Vec<&str> = add.expect_vct.iter().map(String::as_str).collect();
                b = b.accept_vcts(&vcts);
            }
            b.build()?
        }
        WalletCommand::AcceptOffer(acc) => {
            let VcSetup { builder, .. } = vc_setup(&acc.trust, &clock)?;
            builder.key_binding(KeyBindingPolicy::Forbidden).build()?
        }
        // Only `add` and `accept-offer` verify: the other commands work on what was verified
        // when added.
        _ => VcVerifier::builder_with_clock(Arc::new(TrustPolicy::new()), clock.clone())
            .key_binding(KeyBindingPolicy::Forbidden)
            .build()?,
    };
    let keys = Arc::new(SqliteKeyManager::new(store.clone()));
    let policy = match a.policy {
        PolicyArg::OneTime => UsePolicy::OneTimeUse,
        PolicyArg::Rotate => UsePolicy::RotateUse,
    };
    let w = Wallet::new(store, keys, verifier)
        .use_policy(policy)
        .clock(clock.clone());
    match &a.command {
        WalletCommand::Keys { count, alg } => {
            let alg = Algorithm::from_name(alg)
                .ok_or_else(|| Failure::Usage(format!("unknown algorithm {alg:?}")))?;
            let n = usize::try_from(*count)
                .map_err(|_| Failure::Usage("--count is too large".into()))?;
            let keys: Vec<Value> = w
                .create_holder_keys(n, alg)?
                .into_iter()
                .map(|(id, jwk)| json!({"id": id, "jwk": Value::Object(jwk.to_json())}))
                .collect();
            Ok(pretty(&Value::Array(keys)))
        }
        WalletCommand::Add(add) => {
            let mut texts = Vec::with_capacity(add.credentials.len());
            for p in &add.credentials {
                texts.push(read_file(p)?.trim().to_owned());
            }
            let issued: Vec<&str> = texts.iter().map(String::as_str).collect();
            Ok(w.add(&issued, &add.key_id)?)
        }
        WalletCommand::List => {
            let held: Vec<Value> = w
                .list()?
                .into_iter()
                .map(|h| {
                    let disclosable: Vec<&str> =
                        h.disclosable.iter().map(|d| d.pointer.as_str()).collect();
                    json!({
                        "batch": h.batch,
                        "vct": h.vct,
                        "issuer": h.issuer,
                        "copies": h.copies,
                        "unused": h.unused,
                        "claims": h.claims,
                        "disclosable": disclosable,
                    })
                })
                .collect();
            Ok(pretty(&Value::Array(held)))
        }
        WalletCommand::Remove { batch } => {
            w.remove(batch)?;
            Ok(String::new())
        }
        WalletCommand::Query { dcql } => {
            let answers = w.query(&read_dcql(dcql)?)?;
            Ok(pretty(&Value::Array(
                answers.iter().map(answer_json).collect(),
            )))
        }
        WalletCommand::Present(p) => wallet_present(&w, policy, p),
        WalletCommand::Respond(r) => wallet_respond(&w, r, &clock),
        WalletCommand::AcceptOffer(acc) => crate::issuance::accept_offer(&w, acc_view(acc), &clock),
    }
}

fn acc_view(a: &WalletAcceptArgs) -> crate::issuance::AcceptArgs<'_> {
    crate::issuance::AcceptArgs {
        tx_code: a.tx_code.as_deref(),
        count: a.count,
        trust: &a.trust,
        wallet_attestation: a.wallet_attestation.as_deref(),
        follow_authorization: a.follow_authorization,
        configuration: a.configuration.as_deref(),
        offer: &a.offer,
    }
}

/// `wallet respond`: resolve and validate the request, then print the consent summary or
/// send the least-disclosure answer. Nothing is sent for a request that fails validation.
fn wallet_respond(
    w: &Wallet,
    r: &WalletRespondArgs,
    clock: &Arc<dyn credkit::time::Clock>,
) -> CliResult<String> {
    let mut anchors = TrustAnchors::new();
    for p in &r.verifier_trust_anchor {
        anchors.add_pem(&read_file(p)?)?;
    }
    let mut roots = Vec::new();
    for p in &r.http_root {
        roots.extend(credkit::x509::certificates_from_pem(&read_file(p)?)?);
    }
    let fetch_policy = if r.allow_internal_addresses {
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default())
    } else {
        FetchPolicy::default()
    };
    let client: Arc<dyn HttpClient> = if roots.is_empty() {
        Arc::new(UreqClient::new())
    } else {
        Arc::new(UreqClient::with_root_certificates(&roots))
    };
    let fetcher = Fetcher::with_policy(client, fetch_policy.clone());
    let profile = if r.haip {
        Profile::Haip
    } else {
        Profile::OpenId4Vp
    };
    let policy = WalletPolicy::new(anchors)
        .profile(profile)
        .fetch_policy(fetch_policy)
        .clock(clock.clone());
    let request = policy.resolve(&r.request_uri, &fetcher, &OsRandom)?;
    if !r.yes {
        let answers = request.consent(w)?;
        return Ok(pretty(&json!({
            "verifier": request.verifier().to_json(),
            "candidates": answers.iter().map(answer_json).collect::<Vec<_>>(),
        })));
    }
    let choices = request.least_disclosure(w)?;
    let post = request.respond(w, &choices, &OsRandom)?;
    let outcome = post.send(&fetcher)?;
    Ok(pretty(&json!({
        "sent": true,
        "status": outcome.status,
        "redirect_uri": outcome.redirect_uri,
    })))
}

fn read_dcql(path: &Path) -> CliResult<DcqlQuery> {
    let json: Value = serde_json::from_str(&read_file(path)?)
        .map_err(|e| DcqlError::Invalid(format!("the query is not JSON: {e}")))
        .map_err(credkit::Error::from)?;
    Ok(DcqlQuery::parse(&json)?)
}

fn answer_json(a: &QueryAnswer) -> Value {
    let candidates: Vec<Value> = a
        .candidates
        .iter()
        .map(|c| {
            let revealed: Map<String, Value> = c.revealed.iter().cloned().collect();
            json!({
                "batch": c.batch,
                "vct": c.vct,
                "issuer": c.issuer,
                "remaining": c.remaining,
                "disclose": c.disclose,
                "revealed": revealed,
            })
        })
        .collect();
    json!({
        "query_id": a.query_id,
        "required": a.required,
        "multiple": a.multiple,
        "candidates": candidates,
    })
}

fn wallet_present(w: &Wallet, policy: UsePolicy, p: &WalletPresentArgs) -> CliResult<String> {
    if let Some(batch) = &p.batch {
        let pointers: Vec<&str> = p.disclose.iter().map(String::as_str).collect();
        return Ok(w.present(batch, &pointers, &p.aud, &p.nonce)?);
    }
    let Some(dcql) = &p.dcql else {
        return Err(Failure::Usage("give --batch or --dcql".into()));
    };
    let answers = w.query(&read_dcql(dcql)?)?;
    // Each query is answered with its first (least-disclosing) candidate. Under one-time use,
    // check first that every chosen credential has copies enough, so that no copy is spent on
    // a response that cannot be completed (rotation reuses copies).
    let mut chosen = Vec::with_capacity(answers.len());
    let mut needed: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for a in &answers {
        let Some(c) = a.candidates.first() else {
            continue;
        };
        let n = needed.entry(c.batch.as_str()).or_default();
        *n += 1;
        if policy == UsePolicy::OneTimeUse && *n > c.remaining {
            return Err(credkit::Error::from(WalletError::Exhausted(c.batch.clone())).into());
        }
        chosen.push((a.query_id.as_str(), c));
    }
    let mut vp_token = Map::new();
    for (id, c) in chosen {
        let pointers: Vec<&str> = c.disclose.iter().map(String::as_str).collect();
        let presentation = w.present(&c.batch, &pointers, &p.aud, &p.nonce)?;
        vp_token.insert(id.to_owned(), json!([presentation]));
    }
    Ok(pretty(&Value::Object(vp_token)))
}
