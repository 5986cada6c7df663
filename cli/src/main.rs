//! `credkit`: issue, present, verify and inspect SD-JWTs from the command line, and keep
//! Token Status Lists (revocation and suspension), and keep a holder wallet (`credkit wallet`).
//!
//! Exit codes: 0 success; 1 the input was rejected (one line on stderr that begins with the
//! error code, e.g. `disclosure_unreferenced: ...`); 2 usage or I/O error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use credkit::crypto::{HashAlg, default_provider};
use credkit::dcql::DcqlQuery;
use credkit::error::{DcqlError, IssuanceError, StatusError, WalletError};
use credkit::http::{FetchPolicy, Fetcher, HttpClient, UreqClient};
use credkit::jose::{Algorithm, Jws, PrivateJwk, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{
    Credential, KeyBindingPolicy, Limits, SdJwt, SdJwtBuilder, Serialization, StaticIssuerKeys,
    Verifier,
};
use credkit::sd_jwt_vc::type_metadata::{
    HttpTypeMetadata, LocalTypeMetadata, TypeMetadataResolver,
};
use credkit::sd_jwt_vc::{
    IssuerMetadataTrust, IssuerTrust, TrustPolicy, TypeMetadataPolicy, VcBuilder, VcVerifier,
    VcVerifierBuilder, Vct, X5cTrust,
};
use credkit::status_list::{
    Bits, DEFAULT_MAX_LIST_BYTES, IndexAllocator, Status, StatusChecker, StatusList,
    StatusListTokenBuilder, TokenCheck, status_claim, verify_jwt,
};
use credkit::time::{Clock, FixedClock, SystemClock};
use credkit::wallet::{QueryAnswer, SqliteKeyManager, SqliteStore, StoreKey, UsePolicy, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(
    name = "credkit",
    version,
    about = "Selective-disclosure credentials (SD-JWT, RFC 9901; SD-JWT VC)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate keys or derive public keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Issue an SD-JWT and print it.
    Issue(IssueArgs),
    /// Select disclosures from a credential, optionally add a Key Binding JWT, and print the
    /// presentation.
    Present(PresentArgs),
    /// Verify a presentation read from stdin and print the processed payload.
    Verify(VerifyArgs),
    /// Print the header, payload and decoded disclosures of an SD-JWT read from stdin
    /// (no verification).
    Decode,
    /// Token Status Lists: create a list, set statuses, sign it as a Status List Token, read
    /// a status from a token.
    Status {
        #[command(subcommand)]
        command: StatusCommand,
    },
    /// A holder wallet in an encrypted SQLite file: create holder keys, add issued SD-JWT VCs
    /// (verified, bound to the wallet's keys), list them, answer DCQL queries and present.
    ///
    /// The store key (32 bytes, as 64 hex characters) is read from the environment variable
    /// --key-env (default CREDKIT_WALLET_KEY) or from --key-file; every record and holder key
    /// in the file is encrypted under it.
    Wallet(WalletArgs),
}

#[derive(clap::Args)]
struct WalletArgs {
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

#[derive(Subcommand)]
enum StatusCommand {
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
struct StatusTokenArgs {
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
struct StatusGetArgs {
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

#[derive(Subcommand)]
enum KeyCommand {
    /// Print a new private JWK.
    Generate {
        /// ES256, ES384, ES512 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// Read a private JWK on stdin and print its public JWK.
    Public,
}

#[derive(clap::Args)]
struct IssueArgs {
    /// The issuer's private JWK.
    #[arg(long)]
    key: PathBuf,
    /// The claims, a JSON object.
    #[arg(long)]
    claims: PathBuf,
    /// Make the claim at this JSON Pointer selectively disclosable (repeatable).
    #[arg(long = "sd", value_name = "POINTER")]
    sd: Vec<String>,
    /// Make every claim selectively disclosable (except iss, aud, exp, nbf, cnf).
    #[arg(long)]
    sd_all: bool,
    /// The holder's public JWK, bound in cnf.jwk.
    #[arg(long)]
    holder_key: Option<PathBuf>,
    /// Decoy digests per _sd array.
    #[arg(long, default_value_t = 0)]
    decoys: usize,
    /// sha-256, sha-384 or sha-512.
    #[arg(long, default_value = "sha-256")]
    hash: String,
    /// compact, flattened or general.
    #[arg(long, default_value = "compact")]
    serialization: String,
    /// The typ header (SD-JWT mode; an SD-JWT VC is always dc+sd-jwt).
    #[arg(long, default_value = "sd-jwt", conflicts_with = "vct")]
    typ: String,
    /// Issue an SD-JWT VC of this type (vct), typ dc+sd-jwt.
    #[arg(long)]
    vct: Option<String>,
    /// The issuer identifier (iss) of the SD-JWT VC.
    #[arg(long, requires = "vct")]
    iss: Option<String>,
    /// The issuer's certificate chain, PEM, leaf first (x5c); --key must be the leaf's key.
    #[arg(long, requires = "vct", value_name = "CHAIN.pem")]
    x5c: Option<PathBuf>,
    /// Validity in seconds from now (sets iat and exp).
    #[arg(long, requires = "vct", value_name = "SECONDS")]
    exp: Option<u32>,
    /// The time to use as "now" (Unix seconds) for iat and exp.
    #[arg(long)]
    now: Option<i64>,
    /// Reference entry --status-idx of the Status List Token published at this URI (adds
    /// status.status_list {idx, uri}).
    #[arg(long, requires = "status_idx", value_name = "URI")]
    status_uri: Option<String>,
    /// The credential's index in the status list at --status-uri.
    #[arg(long, requires = "status_uri", value_name = "IDX")]
    status_idx: Option<u64>,
}

#[derive(clap::Args)]
struct PresentArgs {
    /// The issued SD-JWT.
    #[arg(long)]
    credential: PathBuf,
    /// Disclose the claim at this JSON Pointer (repeatable).
    #[arg(long = "disclose", value_name = "POINTER")]
    disclose: Vec<String>,
    /// The holder's private JWK; adds a Key Binding JWT.
    #[arg(long, requires_all = ["aud", "nonce"])]
    holder_key: Option<PathBuf>,
    /// The verifier's identifier for the KB-JWT.
    #[arg(long, requires = "holder_key")]
    aud: Option<String>,
    /// The verifier's nonce for the KB-JWT.
    #[arg(long, requires = "holder_key")]
    nonce: Option<String>,
    /// Verify the credential against this issuer public JWK first.
    #[arg(long)]
    issuer_key: Option<PathBuf>,
    /// The time to use as "now" (Unix seconds) for iat and checks.
    #[arg(long)]
    now: Option<i64>,
}

/// How issuers are trusted, and how documents are retrieved for that: shared by `verify` and
/// `wallet add`, so that a wallet accepts exactly what `verify` would.
#[derive(clap::Args)]
struct TrustArgs {
    /// The issuer's public JWK (a static, pinned key).
    #[arg(long, required_unless_present_any = ["trust_anchor", "issuer_metadata", "resolve_did"])]
    issuer_key: Option<PathBuf>,
    /// Verify an SD-JWT VC whose x5c chain leads to this CA (PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    trust_anchor: Vec<PathBuf>,
    /// Verify an SD-JWT VC with keys from the issuer's JWT VC Issuer Metadata (HTTPS).
    #[arg(long)]
    issuer_metadata: bool,
    /// Resolve issuers that are DIDs (did:jwk, did:key, did:web; needs the `did` feature).
    #[arg(long)]
    resolve_did: bool,
    /// Accept only credentials whose iss is this issuer (repeatable). Advised with
    /// --issuer-metadata and --resolve-did, which bind any issuer to its own keys.
    #[arg(long, value_name = "ISS")]
    expect_iss: Vec<String>,
    /// Trust this CA for HTTPS retrievals instead of the Mozilla roots (PEM).
    #[arg(long, value_name = "CA.pem")]
    http_root: Option<PathBuf>,
    /// DANGER: allow retrievals from loopback and private addresses (local tests only).
    #[arg(long)]
    allow_internal_addresses: bool,
}

#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)]
struct VerifyArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// Accept only SD-JWT VCs of this type (repeatable).
    #[arg(long, value_name = "VCT")]
    expect_vct: Vec<String>,
    /// Also accept the legacy typ vc+sd-jwt.
    #[arg(long)]
    legacy_typ: bool,
    /// Print the type's display data (names, claim labels) with the claims.
    #[arg(long)]
    display: bool,
    /// A Type Metadata document to use (repeatable); https vct URLs are also retrieved.
    #[arg(long, value_name = "FILE")]
    type_metadata: Vec<PathBuf>,
    /// Preferred locale for --display.
    #[arg(long, default_value = "en")]
    locale: String,
    /// Expected KB-JWT aud.
    #[arg(long)]
    aud: Option<String>,
    /// Expected KB-JWT nonce.
    #[arg(long)]
    nonce: Option<String>,
    /// Reject presentations without a Key Binding JWT (requires --aud and --nonce).
    #[arg(long, requires_all = ["aud", "nonce"])]
    require_kb: bool,
    /// After verifying an SD-JWT VC, check its Token Status List entry: retrieve the Status
    /// List Token (HTTPS), verify it with the same trust as the credential, and reject a
    /// credential that is not VALID. A credential without a status reference passes. Implies
    /// the SD-JWT VC rules.
    #[arg(long)]
    check_status: bool,
    /// The time to verify at (Unix seconds); default now.
    #[arg(long)]
    now: Option<i64>,
}

/// A failure: `Rejected` exits 1, `Usage` exits 2.
enum Failure {
    Rejected(credkit::Error),
    Usage(String),
}

impl From<credkit::Error> for Failure {
    fn from(e: credkit::Error) -> Self {
        Self::Rejected(e)
    }
}

impl From<StatusError> for Failure {
    fn from(e: StatusError) -> Self {
        Self::Rejected(e.into())
    }
}

impl From<IssuanceError> for Failure {
    fn from(e: IssuanceError) -> Self {
        Self::Rejected(e.into())
    }
}

type CliResult<T> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            // A closed pipe (`credkit decode | head`) is not an error worth a panic. Commands
            // that only write a file print nothing.
            if !out.is_empty() {
                let _ = writeln!(std::io::stdout(), "{out}");
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Rejected(e)) => {
            let msg = e.to_string();
            // One line, beginning with the error code.
            let msg = msg.replace('\n', " ");
            if msg.starts_with(e.code()) {
                eprintln!("{msg}");
            } else {
                eprintln!("{}: {msg}", e.code());
            }
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> CliResult<String> {
    match cli.command {
        Command::Key { command } => key(command),
        Command::Issue(a) => issue(&a),
        Command::Present(a) => present(&a),
        Command::Verify(a) => verify(&a),
        Command::Decode => decode(),
        Command::Status { command } => status(command),
        Command::Wallet(a) => wallet(a),
    }
}

fn read_file(path: &Path) -> CliResult<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

fn read_stdin() -> CliResult<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::Usage(format!("cannot read stdin: {e}")))?;
    // The transport layer (a shell pipe) may add a newline; the core parser never trims.
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A public JWK from a file that may hold a private one.
fn public_key(path: &Path) -> CliResult<PublicJwk> {
    let text = read_file(path)?;
    match PublicJwk::parse(&text) {
        Ok(k) => Ok(k),
        Err(e) if e.code() == "key_private_material" => {
            Ok(PrivateJwk::parse(&text)?.public().clone())
        }
        Err(e) => Err(e.into()),
    }
}

fn key(command: KeyCommand) -> CliResult<String> {
    match command {
        KeyCommand::Generate { alg } => {
            let alg = Algorithm::from_name(&alg)
                .ok_or_else(|| Failure::Usage(format!("unknown algorithm {alg:?}")))?;
            let key = default_provider().generate(alg, &OsRandom)?;
            let kid = key.public().thumbprint(HashAlg::Sha256);
            let key = key.with_kid(kid);
            let text = key.to_json_string();
            let v: Value =
                serde_json::from_str(&text).map_err(|e| Failure::Usage(e.to_string()))?;
            Ok(pretty(&v))
        }
        KeyCommand::Public => {
            let key = PrivateJwk::parse(&read_stdin()?)?;
            Ok(pretty(&Value::Object(key.public().to_json())))
        }
    }
}

fn issue(a: &IssueArgs) -> CliResult<String> {
    let key = PrivateJwk::parse(&read_file(&a.key)?)?;
    let signer = default_provider().signer(&key)?;
    let mut claims = credkit::json::parse_object(read_file(&a.claims)?.as_bytes(), 64, "claims")?;
    let hash = HashAlg::from_name(&a.hash)
        .ok_or_else(|| Failure::Usage(format!("unknown hash {:?}", a.hash)))?;
    let serialization = Serialization::from_name(&a.serialization)
        .ok_or_else(|| Failure::Usage(format!("unknown serialization {:?}", a.serialization)))?;
    if let Some(vct) = &a.vct {
        return issue_vc(a, vct, claims, hash, serialization, &*signer);
    }
    if let Some(status) = status_reference(a) {
        if claims.contains_key("status") {
            return Err(IssuanceError::InvalidClaims(
                "\"status\" is given twice: in the claims and with --status-uri".into(),
            )
            .into());
        }
        claims.insert("status".into(), Value::Object(status));
    }
    let mut b = SdJwtBuilder::new(claims)
        .decoys(a.decoys)
        .hash(hash)
        .serialization(serialization)
        .typ(Some(&a.typ));
    for p in &a.sd {
        b = b.disclose(p)?;
    }
    if a.sd_all {
        b = b.disclose_all();
    }
    if let Some(h) = &a.holder_key {
        b = b.holder_key(public_key(h)?);
    }
    Ok(b.issue(&*signer, &OsRandom)?.to_string())
}

fn issue_vc(
    a: &IssueArgs,
    vct: &str,
    claims: Map<String, Value>,
    hash: HashAlg,
    serialization: Serialization,
    signer: &dyn credkit::crypto::Signer,
) -> CliResult<String> {
    let now = clock(a.now).now();
    let has_iat = claims.contains_key("iat");
    let mut b = VcBuilder::new(Vct::new(vct.to_owned())?, claims)
        .decoys(a.decoys)
        .hash(hash)
        .serialization(serialization);
    if !has_iat {
        b = b.issued_at(now);
    }
    if let Some(iss) = &a.iss {
        b = b.issuer(iss.clone());
    }
    if let Some(secs) = a.exp {
        b = b.expires_at(now.saturating_add(i64::from(secs)));
    }
    if let Some(path) = &a.x5c {
        b = b.x5c(credkit::x509::certificates_from_pem(&read_file(path)?)?);
    }
    if let Some(status) = status_reference(a) {
        b = b.status(status);
    }
    if a.sd_all {
        b = b.disclose_all_claims();
    }
    for p in &a.sd {
        b = b.disclose(p)?;
    }
    if let Some(h) = &a.holder_key {
        b = b.holder_key(public_key(h)?);
    }
    Ok(b.issue(signer, &OsRandom)?.to_string())
}

/// The `status` claim of `--status-uri` and `--status-idx` (clap requires both or neither).
fn status_reference(a: &IssueArgs) -> Option<Map<String, Value>> {
    match (&a.status_uri, a.status_idx) {
        (Some(uri), Some(idx)) => Some(status_claim(idx, uri)),
        _ => None,
    }
}

fn clock(now: Option<i64>) -> Arc<dyn Clock> {
    match now {
        Some(t) => Arc::new(FixedClock(t)),
        None => Arc::new(SystemClock),
    }
}

fn present(a: &PresentArgs) -> CliResult<String> {
    let text = read_file(&a.credential)?;
    let text = text.trim_end_matches(['\n', '\r']);
    let clock = clock(a.now);
    let credential = match &a.issuer_key {
        Some(k) => {
            let keys = StaticIssuerKeys::single(&public_key(k)?, default_provider())?;
            let verifier = Verifier::builder_with_clock(Arc::new(keys), clock.clone())
                .key_binding(KeyBindingPolicy::Forbidden)
                .build()?;
            Credential::receive(text, &verifier)?
        }
        None => Credential::from_trusted_storage(text, &Limits::default())?,
    };
    let pointers: Vec<&str> = a.disclose.iter().map(String::as_str).collect();
    let presentation = credential.present(&pointers)?;
    match (&a.holder_key, &a.aud, &a.nonce) {
        (Some(k), Some(aud), Some(nonce)) => {
            let key = PrivateJwk::parse(&read_file(k)?)?;
            let signer = default_provider().signer(&key)?;
            Ok(presentation.with_key_binding(&*signer, aud, nonce, clock.now())?)
        }
        _ => Ok(presentation.without_key_binding()),
    }
}

fn kb_policy(a: &VerifyArgs) -> CliResult<KeyBindingPolicy> {
    match (a.require_kb, &a.aud, &a.nonce) {
        (true, Some(aud), Some(nonce)) => Ok(KeyBindingPolicy::Required {
            audience: aud.clone(),
            nonce: nonce.clone(),
        }),
        (true, _, _) => Err(Failure::Usage(
            "--require-kb needs --aud and --nonce".into(),
        )),
        (false, aud, nonce) => Ok(KeyBindingPolicy::Optional {
            audience: aud.clone(),
            nonce: nonce.clone(),
        }),
    }
}

fn is_vc_mode(a: &VerifyArgs) -> bool {
    !a.trust.trust_anchor.is_empty()
        || a.trust.issuer_metadata
        || a.trust.resolve_did
        || !a.trust.expect_iss.is_empty()
        || !a.expect_vct.is_empty()
        || a.legacy_typ
        || a.display
        || !a.type_metadata.is_empty()
        || a.check_status
}

/// Whether the token says it is an SD-JWT VC (`dc+sd-jwt`, or the legacy `vc+sd-jwt`).
fn claims_to_be_vc(input: &str) -> bool {
    SdJwt::parse(input, &Limits::default()).is_ok_and(|t| {
        t.issuer_jwt().typ().is_some_and(|typ| {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            typ == "dc+sd-jwt" || typ == "vc+sd-jwt"
        })
    })
}

fn verify(a: &VerifyArgs) -> CliResult<String> {
    let input = read_stdin()?;
    // An SD-JWT VC is always held to the SD-JWT VC rules, whatever the flags.
    if is_vc_mode(a) || claims_to_be_vc(&input) {
        return verify_vc(a, &input);
    }
    let Some(issuer_key) = &a.trust.issuer_key else {
        return Err(Failure::Usage("--issuer-key is required".into()));
    };
    let keys = StaticIssuerKeys::single(&public_key(issuer_key)?, default_provider())?;
    let verifier = Verifier::builder_with_clock(Arc::new(keys), clock(a.now))
        .key_binding(kb_policy(a)?)
        .build()?;
    let verified = verifier.verify(&input)?;
    Ok(pretty(&Value::Object(verified.claims)))
}

fn fetcher(t: &TrustArgs) -> CliResult<Fetcher> {
    let policy = if t.allow_internal_addresses {
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default())
    } else {
        FetchPolicy::default()
    };
    let client: Arc<dyn HttpClient> = match &t.http_root {
        Some(p) => Arc::new(UreqClient::with_root_certificates(
            &credkit::x509::certificates_from_pem(&read_file(p)?)?,
        )),
        None => Arc::new(UreqClient::new()),
    };
    Ok(Fetcher::with_policy(client, policy))
}

/// An SD-JWT VC verifier configured from the trust flags, before the caller's own settings
/// (Key Binding, types, Type Metadata).
struct VcSetup {
    /// The verifier under construction: its trust and clock are set.
    builder: VcVerifierBuilder,
    /// The retrievals' fetcher (issuer metadata, DID documents, Type Metadata, status lists).
    fetcher: Fetcher,
    /// The issuer trust policy (also the trust for Status List Tokens).
    trust: Arc<dyn IssuerTrust>,
}

/// The [`TrustPolicy`] of the trust flags, and a [`VcVerifier`] builder that uses it: one
/// pinned key, x5c chains to CAs, or JWT VC Issuer Metadata for every issuer, plus DID
/// resolution for `did:` issuers.
fn vc_setup(t: &TrustArgs, clock: &Arc<dyn Clock>) -> CliResult<VcSetup> {
    let fetcher = fetcher(t)?;
    let chosen = usize::from(t.issuer_key.is_some())
        + usize::from(!t.trust_anchor.is_empty())
        + usize::from(t.issuer_metadata);
    if chosen > 1 {
        return Err(Failure::Usage(
            "choose one of --issuer-key, --trust-anchor and --issuer-metadata: the mechanism \
             for an issuer is configuration, never the token's choice"
                .into(),
        ));
    }
    let mechanism: Option<Arc<dyn IssuerTrust>> = if let Some(k) = &t.issuer_key {
        Some(Arc::new(StaticIssuerKeys::single(
            &public_key(k)?,
            default_provider(),
        )?))
    } else if !t.trust_anchor.is_empty() {
        let mut anchors = TrustAnchors::new();
        for p in &t.trust_anchor {
            anchors.add_pem(&read_file(p)?)?;
        }
        Some(Arc::new(X5cTrust::new(anchors).clock(clock.clone())))
    } else if t.issuer_metadata {
        Some(Arc::new(
            IssuerMetadataTrust::new(fetcher.clone()).clock(clock.clone()),
        ))
    } else {
        None
    };
    let mut trust = TrustPolicy::new();
    if t.resolve_did {
        trust = trust.issuer_prefix("did:", did_trust(&fetcher)?);
    }
    if let Some(m) = mechanism {
        trust = trust.otherwise(m);
    }
    let trust: Arc<dyn IssuerTrust> = Arc::new(trust);
    let mut builder = VcVerifier::builder_with_clock(trust.clone(), clock.clone());
    if !t.expect_iss.is_empty() {
        let issuers: Vec<&str> = t.expect_iss.iter().map(String::as_str).collect();
        builder = builder.accept_issuers(&issuers);
    }
    Ok(VcSetup {
        builder,
        fetcher,
        trust,
    })
}

fn verify_vc(a: &VerifyArgs, input: &str) -> CliResult<String> {
    let clock = clock(a.now);
    let VcSetup {
        builder,
        fetcher,
        trust,
    } = vc_setup(&a.trust, &clock)?;
    let mut b = builder
        .key_binding(kb_policy(a)?)
        .accept_legacy_typ(a.legacy_typ);
    if !a.expect_vct.is_empty() {
        let vcts: Vec<&str> = a.expect_vct.iter().map(String::as_str).collect();
        b = b.accept_vcts(&vcts);
    }
    if a.display || !a.type_metadata.is_empty() {
        let mut local = LocalTypeMetadata::new();
        for p in &a.type_metadata {
            let bytes = std::fs::read(p)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", p.display())))?;
            local.add(bytes)?;
        }
        let resolver = TypeMetadataResolver::new()
            .with_source(Arc::new(local))
            .with_source(Arc::new(HttpTypeMetadata::new(fetcher.clone())));
        let policy = if a.display {
            TypeMetadataPolicy::Required
        } else {
            TypeMetadataPolicy::IfAvailable
        };
        b = b.type_metadata(Arc::new(resolver), policy);
    }
    let verified = b.build()?.verify(input)?;
    if a.check_status {
        // Only a credential that verified is checked, so a forged one causes no fetch. The
        // Status List Token is held to the credential's own trust and retrieval rules.
        StatusChecker::new(fetcher, trust)
            .clock(clock)
            .check(&verified)?
            .require_valid()?;
    }
    if !a.display {
        return Ok(pretty(&Value::Object(verified.claims().clone())));
    }
    let locales = [a.locale.as_str()];
    let mut out = Map::new();
    out.insert("vct".into(), verified.vct.as_str().into());
    if let Some(iss) = &verified.issuer {
        out.insert("issuer".into(), iss.clone().into());
    }
    if let Some(tm) = &verified.type_metadata {
        if let Some(d) = tm.display_for(&locales) {
            out.insert(
                "display".into(),
                json!({"locale": d.locale, "name": d.name, "description": d.description}),
            );
        }
        let labels: Vec<Value> = tm
            .labels(verified.claims(), &locales)
            .into_iter()
            .map(
                |(pointer, label, value)| json!({"claim": pointer, "label": label, "value": value}),
            )
            .collect();
        out.insert("labels".into(), labels.into());
    }
    out.insert("claims".into(), Value::Object(verified.claims().clone()));
    Ok(pretty(&Value::Object(out)))
}

#[cfg(feature = "did")]
fn did_trust(fetcher: &Fetcher) -> CliResult<Arc<dyn IssuerTrust>> {
    Ok(Arc::new(
        credkit::sd_jwt_vc::DidTrust::new().web_fetcher(fetcher.clone()),
    ))
}

#[cfg(not(feature = "did"))]
fn did_trust(_fetcher: &Fetcher) -> CliResult<Arc<dyn IssuerTrust>> {
    Err(Failure::Usage(
        "--resolve-did needs a credkit built with the `did` feature".into(),
    ))
}

fn jwt_json(jws: &Jws) -> Value {
    let payload = jws
        .payload_json(64)
        .map(Value::Object)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(jws.payload()).into_owned()));
    json!({ "header": jws.header(), "payload": payload })
}

fn decode() -> CliResult<String> {
    let input = read_stdin()?;
    let sd_jwt = SdJwt::parse(&input, &Limits::default())?;
    let jwt = sd_jwt.issuer_jwt();
    let payload = jwt.payload_json(64)?;
    let sd_alg = match payload.get("_sd_alg").and_then(Value::as_str) {
        Some(name) => HashAlg::from_name(name).unwrap_or_default(),
        None => HashAlg::Sha256,
    };
    let disclosures: Vec<Value> = sd_jwt
        .disclosures()
        .iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("disclosure".into(), d.as_str().into());
            m.insert("digest".into(), d.digest(sd_alg).into());
            m.insert("salt".into(), d.salt().into());
            if let Some(n) = d.name() {
                m.insert("name".into(), n.into());
            }
            m.insert("value".into(), d.value().clone());
            Value::Object(m)
        })
        .collect();
    let mut out = json!({
        "header": jwt.header(),
        "payload": payload,
        "disclosures": disclosures,
    });
    if let (Some(kb), Some(obj)) = (sd_jwt.key_binding_jwt(), out.as_object_mut()) {
        obj.insert("key_binding_jwt".into(), jwt_json(kb));
    }
    Ok(pretty(&out))
}

// ---------------------------------------------------------------------------------------
// Wallet
// ---------------------------------------------------------------------------------------

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
    let creates = matches!(a.command, WalletCommand::Keys { .. });
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

fn wallet(a: WalletArgs) -> CliResult<String> {
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
        // Only `add` verifies: the other commands work on what was verified when added.
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
        .clock(clock);
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
    }
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

// ---------------------------------------------------------------------------------------
// Token Status Lists
// ---------------------------------------------------------------------------------------

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse(s).ok_or_else(|| {
        format!("{s:?} is not VALID, INVALID, SUSPENDED or a value from 0 to 255 (or 0x00 to 0xFF)")
    })
}

fn status(command: StatusCommand) -> CliResult<String> {
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
