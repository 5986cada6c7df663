//! Issuer trust shared by `verify` and `wallet add`: the trust flags, the retrievals'
//! fetcher and the SD-JWT VC verifier setup.

use std::path::PathBuf;
use std::sync::Arc;

use credkit::crypto::default_provider;
use credkit::http::{FetchPolicy, Fetcher, HttpClient, UreqClient};
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::{
    IssuerMetadataTrust, IssuerTrust, TrustPolicy, VcVerifier, VcVerifierBuilder, X5cTrust,
};
use credkit::time::Clock;
use credkit::x509::TrustAnchors;

use crate::common::{public_key, read_file};
use crate::{CliResult, Failure};

/// How issuers are trusted, and how documents are retrieved for that: shared by `verify` and
/// `wallet add`, so that a wallet accepts exactly what `verify` would.
#[derive(clap::Args)]
pub(crate) struct TrustArgs {
    /// The issuer's public JWK (a static, pinned key; repeatable).
    #[arg(long, required_unless_present_any = ["trust_anchor", "issuer_metadata", "resolve_did"])]
    pub(crate) issuer_key: Vec<PathBuf>,
    /// Verify an SD-JWT VC whose x5c chain leads to this CA (PEM; repeatable).
    #[arg(long, value_name = "CA.pem")]
    pub(crate) trust_anchor: Vec<PathBuf>,
    /// Verify an SD-JWT VC with keys from the issuer's JWT VC Issuer Metadata (HTTPS).
    #[arg(long)]
    pub(crate) issuer_metadata: bool,
    /// Resolve issuers that are DIDs (did:jwk, did:key, did:web; needs the `did` feature).
    #[arg(long)]
    pub(crate) resolve_did: bool,
    /// Accept only credentials whose iss is this issuer (repeatable). Advised with
    /// --issuer-metadata and --resolve-did, which bind any issuer to its own keys.
    #[arg(long, value_name = "ISS")]
    pub(crate) expect_iss: Vec<String>,
    /// Trust this CA for HTTPS retrievals instead of the Mozilla roots (PEM).
    #[arg(long, value_name = "CA.pem")]
    http_root: Option<PathBuf>,
    /// DANGER: allow retrievals from loopback and private addresses (local tests only).
    #[arg(long)]
    allow_internal_addresses: bool,
}

pub(crate) fn fetcher(t: &TrustArgs) -> CliResult<Fetcher> {
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
pub(crate) struct VcSetup {
    /// The verifier under construction: its trust and clock are set.
    pub(crate) builder: VcVerifierBuilder,
    /// The retrievals' fetcher (issuer metadata, DID documents, Type Metadata, status lists).
    pub(crate) fetcher: Fetcher,
    /// The issuer trust policy (also the trust for Status List Tokens).
    pub(crate) trust: Arc<dyn IssuerTrust>,
}

/// The [`TrustPolicy`] of the trust flags, and a [`VcVerifier`] builder that uses it: one
/// pinned key, x5c chains to CAs, or JWT VC Issuer Metadata for every issuer, plus DID
/// resolution for `did:` issuers.
pub(crate) fn vc_setup(t: &TrustArgs, clock: &Arc<dyn Clock>) -> CliResult<VcSetup> {
    let fetcher = fetcher(t)?;
    let chosen = usize::from(!t.issuer_key.is_empty())
        + usize::from(!t.trust_anchor.is_empty())
        + usize::from(t.issuer_metadata);
    if chosen > 1 {
        return Err(Failure::Usage(
            "choose one of --issuer-key, --trust-anchor and --issuer-metadata: the mechanism \
             for an issuer is configuration, never the token's choice"
                .into(),
        ));
    }
    let mechanism: Option<Arc<dyn IssuerTrust>> = if !t.issuer_key.is_empty() {
        let mut keys = StaticIssuerKeys::new();
        for k in &t.issuer_key {
            keys.add(&public_key(k)?, default_provider())?;
        }
        Some(Arc::new(keys))
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
