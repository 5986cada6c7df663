//! `credkit-server`: credkit's OpenID4VP verifier (and, with OpenID4VCI, its issuer) as an
//! HTTPS service. A thin async layer: the handlers parse, call core's protocol values
//! (`credkit::openid4vp::verifier`) on a blocking thread, and map the outcome to a status;
//! all state is in the store, so that instances are interchangeable behind a load balancer.
//!
//! It prints exactly one line on stdout, `listening on https://127.0.0.1:PORT`, once it
//! accepts connections; logs go to stderr as JSON and never contain tokens, keys, claims or
//! codes. SIGTERM (and SIGINT) drain the connections in flight and exit 0.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod issuer;
mod page;
mod pg;
mod redis_cache;
mod serve;
mod store;
mod tls;
mod verifier;

/// credkit's issuer and verifier services.
#[derive(Parser)]
#[command(name = "credkit-server", version, about)]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// The OpenID4VCI credential issuer, its own authorization server and its status list.
    Issuer(IssuerArgs),
    /// The OpenID4VP verifier: a backend asks for presentations, wallets answer.
    Verifier(VerifierArgs),
}

/// What every role takes.
#[derive(clap::Args, Clone)]
pub(crate) struct Common {
    /// The address to listen on (port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
    /// The service's public https URL; when it names no port, the bound port is used.
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// The TLS certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM, PKCS#8 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The management API's bearer token (surrounding whitespace ignored).
    #[arg(long, value_name = "FILE")]
    pub(crate) admin_token_file: Option<PathBuf>,
    /// Where state lives: `sqlite:PATH` (default: an embedded SQLite file, one node) or
    /// `postgres://USER@HOST/DB` (any number of nodes share it).
    #[arg(long)]
    pub(crate) store: Option<String>,
    /// The issuer's short-lived state (offers, codes, tokens, nonces, DPoP jti) in Redis
    /// (`redis://HOST[:PORT][/DB]`); the verifier keeps everything in --store.
    #[arg(long)]
    pub(crate) cache: Option<String>,
    /// Throw-away keys and certificates for a local try-out; their PEM files are written to
    /// `--dev-dir` (default: a new temporary directory), named on stderr.
    #[arg(long)]
    pub(crate) dev: bool,
    /// With --dev: where to write the throw-away certificates.
    #[arg(long, value_name = "DIR", requires = "dev")]
    pub(crate) dev_dir: Option<PathBuf>,
}

/// `credkit-server verifier`.
#[derive(clap::Args, Clone)]
pub(crate) struct VerifierArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The request-signing key (JWK; a minimal one is enough, the algorithm follows from the
    /// curve).
    #[arg(long, value_name = "JWK")]
    pub(crate) signing_key: Option<PathBuf>,
    /// The request-signing certificate chain (PEM, leaf first, without the trust anchor); the
    /// leaf's SAN names the host.
    #[arg(long, value_name = "CHAIN.pem")]
    pub(crate) x5c: Option<PathBuf>,
    /// A CA that issuers' x5c chains must lead to (PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    pub(crate) trust_anchor: Vec<PathBuf>,
    /// A trusted issuer key (JWK; repeatable).
    #[arg(long, value_name = "JWK")]
    pub(crate) issuer_key: Vec<PathBuf>,
    /// An IACA for mdoc issuers (PEM; repeatable; mdoc is not in this build).
    #[arg(long, value_name = "IACA.pem")]
    pub(crate) mdoc_trust_anchor: Vec<PathBuf>,
    /// A web origin whose pages may post DC API responses from the browser (CORS on
    /// `/v1/presentations/{id}/dc-api-response` only; repeatable).
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) cors_origin: Vec<String>,
    /// Trust this CA for HTTPS retrievals (issuers' status lists) besides the Mozilla roots
    /// (PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    pub(crate) http_root: Vec<PathBuf>,
    /// DANGER: allow retrievals from loopback and private addresses (local tests only).
    #[arg(long)]
    pub(crate) allow_internal_addresses: bool,
}

/// `credkit-server issuer`.
#[derive(clap::Args, Clone)]
pub(crate) struct IssuerArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The credential signing key (JWK; a minimal one is enough, the algorithm follows from
    /// the curve). The Credential Issuer Identifier is --public-url.
    #[arg(long, value_name = "JWK")]
    pub(crate) signing_key: Option<PathBuf>,
    /// The signing key's certificate chain (PEM, leaf first, without the trust anchor), sent
    /// as x5c; the leaf's SAN names the issuer's host.
    #[arg(long, value_name = "CHAIN.pem")]
    pub(crate) x5c: Option<PathBuf>,
    /// The mdoc signing key (mdoc is not in this build).
    #[arg(long, value_name = "JWK")]
    pub(crate) mdoc_signing_key: Option<PathBuf>,
    /// The mdoc signing chain (mdoc is not in this build).
    #[arg(long, value_name = "CHAIN.pem")]
    pub(crate) mdoc_x5c: Option<PathBuf>,
    /// Require client attestation (a Wallet Attestation, HAIP 1.0 §4.4.1) at the PAR and
    /// token endpoints; the pre-authorized grant then serves no anonymous clients.
    #[arg(long)]
    pub(crate) require_wallet_attestation: bool,
    /// A wallet provider's attestation-signing key (JWK; repeatable).
    #[arg(long, value_name = "JWK")]
    pub(crate) wallet_provider_key: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CREDKIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.role {
            Role::Verifier(args) => verifier::run(args).await,
            Role::Issuer(args) => issuer::run(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Start(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Why the service did not start or stopped with an error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A flag or file that does not fit (exit 2).
    Usage(String),
    /// Anything else (exit 1).
    Start(String),
}

impl From<credkit::Error> for Failure {
    fn from(e: credkit::Error) -> Self {
        Self::Usage(e.to_string())
    }
}

/// What both roles set up alike: the bound listener, the public URL, the `--dev` material,
/// TLS and the management token (from the file, or written to the dev directory).
pub(crate) struct Setup {
    pub(crate) listener: tokio::net::TcpListener,
    pub(crate) local: SocketAddr,
    pub(crate) public: String,
    pub(crate) dev: Option<tls::DevPki>,
    pub(crate) tls: std::sync::Arc<rustls::ServerConfig>,
    pub(crate) admin_token: Option<zeroize::Zeroizing<String>>,
}

impl Setup {
    /// Binds and prepares what `c` names; `role` names the default dev directory.
    pub(crate) async fn new(c: &Common, role: &str) -> Result<Self, Failure> {
        let (listener, local) = serve::bind(c.listen).await?;
        let public = verifier::public_url(c.public_url.as_deref(), local.port())?;
        let dev_dir = c.dev.then(|| {
            c.dev_dir.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("credkit-{role}-dev-{}", local.port()))
            })
        });
        let dev = dev_dir.as_deref().map(tls::dev_pki).transpose()?;
        let tls = match (&c.tls_cert, &c.tls_key, &dev) {
            (Some(cert), Some(key), _) => tls::server_config(cert, key)?,
            (None, None, Some(d)) => d.tls.clone(),
            _ => {
                return Err(Failure::Usage(
                    "give --tls-cert and --tls-key, or --dev".into(),
                ));
            }
        };
        let admin_token = match (&c.admin_token_file, &dev_dir) {
            (Some(p), _) => Some(zeroize::Zeroizing::new(read(p)?.trim().to_owned())),
            (None, Some(dir)) => {
                let token = credkit::rand::id(&credkit::rand::OsRandom)?;
                let path = dir.join("admin-token");
                std::fs::write(&path, &token)
                    .map_err(|e| Failure::Start(format!("{}: {e}", path.display())))?;
                tracing::info!(file = %path.display(), "--dev: the management API token");
                Some(zeroize::Zeroizing::new(token))
            }
            (None, None) => None,
        };
        if admin_token.as_ref().is_some_and(|t| t.is_empty()) {
            return Err(Failure::Usage("the admin token file is empty".into()));
        }
        Ok(Self {
            listener,
            local,
            public,
            dev,
            tls,
            admin_token,
        })
    }
}

/// Reads a file named by a flag.
pub(crate) fn read(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}
