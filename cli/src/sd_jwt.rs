//! `credkit issue`, `present`, `verify` and `decode`: SD-JWTs and SD-JWT VCs.

use std::path::PathBuf;
use std::sync::Arc;

use credkit::crypto::{HashAlg, default_provider};
use credkit::error::IssuanceError;
use credkit::jose::{Jws, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{
    Credential, KeyBindingPolicy, Limits, SdJwt, SdJwtBuilder, Serialization, StaticIssuerKeys,
    Verifier,
};
use credkit::sd_jwt_vc::type_metadata::{
    HttpTypeMetadata, LocalTypeMetadata, TypeMetadataResolver,
};
use credkit::sd_jwt_vc::{TypeMetadataPolicy, VcBuilder, Vct};
use credkit::status_list::{StatusChecker, status_claim};
use serde_json::{Map, Value, json};

use crate::common::{clock, pretty, public_key, read_file, read_stdin};
use crate::trust::{TrustArgs, VcSetup, vc_setup};
use crate::{CliResult, Failure};

#[derive(clap::Args)]
pub(crate) struct IssueArgs {
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
pub(crate) struct PresentArgs {
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

#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct VerifyArgs {
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

pub(crate) fn issue(a: &IssueArgs) -> CliResult<String> {
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

pub(crate) fn present(a: &PresentArgs) -> CliResult<String> {
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

pub(crate) fn verify(a: &VerifyArgs) -> CliResult<String> {
    let input = read_stdin()?;
    // An SD-JWT VC is always held to the SD-JWT VC rules, whatever the flags.
    if is_vc_mode(a) || claims_to_be_vc(&input) {
        return verify_vc(a, &input);
    }
    if a.trust.issuer_key.is_empty() {
        return Err(Failure::Usage("--issuer-key is required".into()));
    }
    let mut keys = StaticIssuerKeys::new();
    for k in &a.trust.issuer_key {
        keys.add(&public_key(k)?, default_provider())?;
    }
    let verifier = Verifier::builder_with_clock(Arc::new(keys), clock(a.now))
        .key_binding(kb_policy(a)?)
        .build()?;
    let verified = verifier.verify(&input)?;
    Ok(pretty(&Value::Object(verified.claims)))
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

fn jwt_json(jws: &Jws) -> Value {
    let payload = jws
        .payload_json(64)
        .map(Value::Object)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(jws.payload()).into_owned()));
    json!({ "header": jws.header(), "payload": payload })
}

pub(crate) fn decode() -> CliResult<String> {
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
