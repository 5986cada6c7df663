//! DPoP (RFC 9449): proofs of possession that bind access tokens to a client key.
//!
//! - Client: [`DpopProver::proof`] makes the §4.2 JWT (`typ` `dpop+jwt`, public `jwk`,
//!   `jti`, `htm`, `htu`, `iat`, `ath` when a token is sent, the server's `nonce` when it
//!   gave one), fresh for every request and retry (§4, §7.3).
//! - Server: [`verify`] runs the §4.3 checks in order: one `DPoP` header, a JWS with `typ`
//!   `dpop+jwt`, an allowed asymmetric `alg`, a public `jwk` that verifies it, `htm` and
//!   `htu` of this request, `iat` inside the window, the server nonce when required (§8,
//!   §9), `ath` of the presented token and the bound key (§7.1), and last the `jti` replay
//!   cache (§11.1), so that a rejected proof does not use up its `jti`.
//!
//! `htu` is compared after the syntax-based normalisation of RFC 3986 §6.2.2 and the
//! scheme-based one of §6.2.3 (case of scheme and host, default port, percent-encoding of
//! unreserved characters, upper-case hex), query and fragment removed (§4.3 item 9); a path
//! is never otherwise changed (a trailing `/` is significant).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::crypto::{CryptoProvider, HashAlg, Signer};
use crate::error::{Oid4vciError, Result};
use crate::http::Method;
use crate::jose::jws::{Jws, check_crit};
use crate::jose::{Algorithm, PublicJwk};
use crate::oauth::store::StateStore;
use crate::rand::RandomSource;

/// The JOSE `typ` of a DPoP proof (§4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// The store kind of the `jti` replay cache.
const JTI_KIND: &str = "dpop_jti";

/// Largest DPoP header value accepted (a proof with a P-521 key is under 1 KiB).
const MAX_PROOF_LEN: usize = 4096;

/// `ath`: base64url SHA-256 of the access token's ASCII (§4.2).
#[must_use]
pub fn access_token_hash(access_token: &str) -> String {
    HashAlg::Sha256.digest_b64(access_token.as_bytes())
}

/// Makes DPoP proofs with one key (a host key through [`Signer`]).
#[derive(Clone)]
pub struct DpopProver {
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for DpopProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopProver")
            .field("jkt", &self.thumbprint())
            .finish()
    }
}

impl DpopProver {
    /// Proofs signed by `signer`.
    #[must_use]
    pub fn new(signer: Arc<dyn Signer>) -> Self {
        Self { signer }
    }

    /// The RFC 7638 SHA-256 thumbprint of the key (`dpop_jkt`, `cnf.jkt`).
    #[must_use]
    pub fn thumbprint(&self) -> String {
        self.signer.public_jwk().thumbprint(HashAlg::Sha256)
    }

    /// A proof for `method` `url` at `now`, with `ath` for `access_token` and the server's
    /// `nonce`.
    ///
    /// # Errors
    /// `url_invalid` for a URL that cannot be normalised; signer and RNG errors.
    pub fn proof(
        &self,
        method: Method,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: i64,
        rng: &dyn RandomSource,
    ) -> Result<String> {
        let mut claims = Map::new();
        claims.insert(
            "jti".into(),
            crate::b64::encode(&crate::rand::bytes(rng, 16)?).into(),
        );
        claims.insert("htm".into(), method.as_str().into());
        claims.insert("htu".into(), strip_query(url).into());
        claims.insert("iat".into(), now.into());
        if let Some(token) = access_token {
            claims.insert("ath".into(), access_token_hash(token).into());
        }
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        super::sign_jwt(&*self.signer, DPOP_TYP, true, None, &claims)
    }
}

/// `url` without query and fragment, as sent in `htu`.
fn strip_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// The RFC 3986 §6.2.2 / §6.2.3 normal form of an `http(s)` URL without query and fragment:
/// lower-case scheme and host, no default port, upper-case percent-encoding hex, unreserved
/// characters decoded, an empty path as `/`.
///
/// # Errors
/// `invalid_dpop_proof` when it is not an absolute `http` / `https` URL.
pub fn normalize_htu(url: &str) -> Result<String> {
    let bad = || Oid4vciError::InvalidDpopProof(format!("htu {url:?} is not an http(s) URL"));
    let url = strip_query(url);
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad().into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad().into());
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (format!("[{inside}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.clone(), None),
        }
    };
    if host.is_empty() || port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad().into());
    }
    let authority = match port {
        None | Some("") => host,
        Some(p) if p == default_port => host,
        Some(p) => format!("{host}:{p}"),
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut out = format!("{scheme}://{authority}");
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let text = std::str::from_utf8(hex).map_err(|_| bad())?;
            let v = u8::from_str_radix(text, 16).map_err(|_| bad())?;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(v));
            } else {
                out.push('%');
                out.push_str(&text.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(char::from(b));
            i += 1;
        }
    }
    if !out.is_ascii() {
        return Err(bad().into());
    }
    Ok(out)
}

/// What a server accepts in DPoP proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopPolicy {
    /// Allowed `alg` values (`dpop_signing_alg_values_supported`); asymmetric only.
    pub algorithms: Vec<Algorithm>,
    /// Oldest `iat` accepted, in seconds before now (§11.1).
    pub max_age: i64,
    /// Furthest `iat` accepted in the future (clock skew; §11.2 pre-generated proofs).
    pub max_future: i64,
    /// Longest `jti` accepted (§11.1).
    pub max_jti_len: usize,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::Es256],
            max_age: 300,
            max_future: 60,
            max_jti_len: 256,
        }
    }
}

/// Whether a server nonce is required in this proof (§8, §9).
#[derive(Clone, Copy)]
pub enum NonceRule<'a> {
    /// No nonce is required (a `nonce` claim is then ignored).
    NotRequired,
    /// The proof must carry a nonce the closure accepts (one the server issued and that is
    /// still current).
    Required(&'a dyn Fn(&str) -> bool),
}

impl std::fmt::Debug for NonceRule<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotRequired => "NotRequired",
            Self::Required(_) => "Required",
        })
    }
}

/// The request a proof must fit.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DpopRequest<'a> {
    /// The request's method.
    pub method: Method,
    /// The request's URL as the server sees it (its public URL), query allowed.
    pub url: &'a str,
    /// The access token presented with the request (resource requests, §7.1).
    pub access_token: Option<&'a str>,
    /// The thumbprint the token or code is bound to (`cnf.jkt`, `dpop_jkt`).
    pub bound_jkt: Option<&'a str>,
    /// The nonce rule.
    pub nonce: NonceRule<'a>,
}

impl<'a> DpopRequest<'a> {
    /// A `method` request to `url`, without token, binding or nonce.
    #[must_use]
    pub fn new(method: Method, url: &'a str) -> Self {
        Self {
            method,
            url,
            access_token: None,
            bound_jkt: None,
            nonce: NonceRule::NotRequired,
        }
    }

    /// With the access token presented (`ath` is then required).
    #[must_use]
    pub fn access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// With the key the token or code is bound to.
    #[must_use]
    pub fn bound_jkt(mut self, jkt: &'a str) -> Self {
        self.bound_jkt = Some(jkt);
        self
    }

    /// With a nonce rule.
    #[must_use]
    pub fn nonce(mut self, rule: NonceRule<'a>) -> Self {
        self.nonce = rule;
        self
    }
}

/// A proof that passed [`verify`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedDpop {
    /// The proof's public key.
    pub jwk: PublicJwk,
    /// Its RFC 7638 SHA-256 thumbprint.
    pub jkt: String,
}

/// Checks the `DPoP` header values of one request (RFC 9449 §4.3, §7.1, §11.1).
///
/// # Errors
/// `invalid_dpop_proof` for any failed check; `use_dpop_nonce` when the nonce is missing or
/// not current (the server then answers with a fresh `DPoP-Nonce`); store failures.
pub fn verify(
    header_values: &[&str],
    request: &DpopRequest<'_>,
    policy: &DpopPolicy,
    now: i64,
    provider: &'static dyn CryptoProvider,
    replay: &dyn StateStore,
) -> Result<VerifiedDpop> {
    let invalid = |m: &str| -> crate::Error { Oid4vciError::InvalidDpopProof(m.to_owned()).into() };
    let proof = match header_values {
        [one] => *one,
        [] => return Err(invalid("the request has no DPoP header")),
        _ => return Err(invalid("the request has more than one DPoP header")),
    };
    if proof.len() > MAX_PROOF_LEN {
        return Err(invalid("the DPoP proof is too large"));
    }
    let jws = Jws::parse_compact(proof).map_err(|e| invalid(&format!("not a JWS: {e}")))?;
    if jws.typ() != Some(DPOP_TYP) {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let alg = jws
        .require_alg(&policy.algorithms)
        .map_err(|e| invalid(&format!("alg: {e}")))?;
    check_crit(jws.header(), &[]).map_err(|e| invalid(&e.to_string()))?;
    let jwk_json = jws
        .header()
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("the header has no jwk"))?;
    if jwk_json.contains_key("d") {
        return Err(invalid("the header jwk holds a private key"));
    }
    let jwk = PublicJwk::from_json(jwk_json).map_err(|e| invalid(&format!("jwk: {e}")))?;
    let key = provider
        .verifying_key(&jwk, alg)
        .map_err(|e| invalid(&format!("jwk: {e}")))?;
    jws.verify(&*key, &policy.algorithms)
        .map_err(|_| invalid("the signature does not verify with the header jwk"))?;
    let claims = jws
        .payload_json(8)
        .map_err(|e| invalid(&format!("claims: {e}")))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti").ok_or_else(|| invalid("jti is required"))?;
    if jti.is_empty() || jti.len() > policy.max_jti_len {
        return Err(invalid("jti is empty or too long"));
    }
    if text("htm") != Some(request.method.as_str()) {
        return Err(invalid("htm is not this request's method"));
    }
    let htu = text("htu").ok_or_else(|| invalid("htu is required"))?;
    let target = normalize_htu(request.url)?;
    if normalize_htu(htu)? != target {
        return Err(invalid("htu is not this request's URL"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("iat must be a NumericDate"))?;
    if iat > now.saturating_add(policy.max_future) {
        return Err(invalid("iat is in the future"));
    }
    if iat < now.saturating_sub(policy.max_age) {
        return Err(invalid("the proof is too old"));
    }
    if let NonceRule::Required(current) = request.nonce {
        match text("nonce") {
            Some(n) if current(n) => {}
            Some(_) => {
                return Err(
                    Oid4vciError::DpopNonceRequired("the DPoP nonce is stale".into()).into(),
                );
            }
            None => {
                return Err(
                    Oid4vciError::DpopNonceRequired("a DPoP nonce is required".into()).into(),
                );
            }
        }
    }
    match (request.access_token, text("ath")) {
        (Some(token), Some(ath)) => {
            if !crate::openid4vp::verifier::same_secret(&access_token_hash(token), ath) {
                return Err(invalid("ath is not the hash of the access token"));
            }
        }
        (Some(_), None) => return Err(invalid("ath is required with an access token")),
        (None, _) => {}
    }
    let jkt = jwk.thumbprint(HashAlg::Sha256);
    if let Some(bound) = request.bound_jkt
        && bound != jkt
    {
        return Err(invalid(
            "the proof key is not the key the token is bound to",
        ));
    }
    let expires = iat
        .saturating_add(policy.max_age)
        .saturating_add(policy.max_future);
    let replay_key = HashAlg::Sha256.digest_b64(format!("{target} {jti}").as_bytes());
    if !replay.insert(JTI_KIND, &replay_key, b"", expires.max(now + 1), now)? {
        return Err(invalid("the proof's jti was already used"));
    }
    Ok(VerifiedDpop { jwk, jkt })
}

#[cfg(test)]
mod tests;
