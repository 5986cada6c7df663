//! Status List Tokens (draft-ietf-oauth-status-list-20 §5): the signed wrapper of a Status
//! List, as a JWT (`typ` `statuslist+jwt`, §5.1) or a CWT (COSE_Sign1, §5.2), and their
//! validation (§8.3 steps 3–5).

use std::sync::Arc;

use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use serde_json::{Map, Value};

use crate::crypto::{Signer, VerifyingKey};
use crate::error::{Error, Result, StatusError, TrustError};
use crate::jose::{Algorithm, Jws, UnsignedJws};
use crate::sd_jwt::verifier::numeric_date;
use crate::sd_jwt_vc::{IssuerBinding, IssuerTrust};
use crate::status_list::list::StatusList;

/// The `typ` of a Status List Token in JWT form (§5.1).
pub const STATUS_LIST_JWT_TYP: &str = "statuslist+jwt";
/// The COSE `typ` (header 16) of a Status List Token in CWT form (§5.2).
pub const STATUS_LIST_CWT_TYP: &str = "application/statuslist+cwt";

/// CWT claim keys (§5.2, RFC 8392).
const CWT_SUB: i64 = 2;
const CWT_EXP: i64 = 4;
const CWT_IAT: i64 = 6;
const CWT_TTL: i64 = 65534;
const CWT_STATUS_LIST: i64 = 65533;

/// The claims of a Status List Token, for the issuer to sign.
#[derive(Debug, Clone)]
#[must_use]
pub struct StatusListTokenBuilder {
    uri: String,
    iat: i64,
    exp: Option<i64>,
    ttl: Option<u64>,
    iss: Option<String>,
    x5c: Option<Vec<Vec<u8>>>,
}

impl StatusListTokenBuilder {
    /// A token for the list published at `uri` (its `sub`), issued at `iat`.
    pub fn new(uri: impl Into<String>, iat: i64) -> Self {
        Self {
            uri: uri.into(),
            iat,
            exp: None,
            ttl: None,
            iss: None,
            x5c: None,
        }
    }

    /// `exp` (RECOMMENDED).
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// `ttl`: how long relying parties may cache the token, in seconds (RECOMMENDED).
    pub fn ttl(mut self, seconds: u64) -> Self {
        self.ttl = Some(seconds);
        self
    }

    /// `iss`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// The signer's certificate chain (DER, leaf first) as `x5c`.
    pub fn x5c(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5c = Some(chain);
        self
    }

    /// The JWT claims for `list`.
    #[must_use]
    pub fn claims(&self, list: &StatusList) -> Map<String, Value> {
        let mut c = Map::new();
        if let Some(iss) = &self.iss {
            c.insert("iss".into(), iss.clone().into());
        }
        c.insert("sub".into(), self.uri.clone().into());
        c.insert("iat".into(), self.iat.into());
        if let Some(exp) = self.exp {
            c.insert("exp".into(), exp.into());
        }
        if let Some(ttl) = self.ttl {
            c.insert("ttl".into(), ttl.into());
        }
        c.insert("status_list".into(), Value::Object(list.to_json()));
        c
    }

    /// The unsigned JWT, for asynchronous signers.
    pub fn prepare_jwt(&self, list: &StatusList, alg: Algorithm, kid: Option<&str>) -> UnsignedJws {
        let mut header = Map::new();
        header.insert("typ".into(), STATUS_LIST_JWT_TYP.into());
        if let Some(k) = kid {
            header.insert("kid".into(), k.into());
        }
        if let Some(chain) = &self.x5c {
            header.insert(
                "x5c".into(),
                chain
                    .iter()
                    .map(|c| Value::from(crate::b64::encode_std(c)))
                    .collect(),
            );
        }
        let payload = Value::Object(self.claims(list)).to_string();
        UnsignedJws::new(alg, header, payload.as_bytes())
    }

    /// Signs the JWT form.
    ///
    /// # Errors
    /// The signer's errors; `status_list_token_invalid` when `ttl` is 0.
    pub fn sign_jwt(&self, list: &StatusList, signer: &dyn Signer) -> Result<String> {
        self.check()?;
        let jws = self
            .prepare_jwt(list, signer.algorithm(), signer.public_jwk().kid())
            .sign(signer)?;
        Ok(jws.as_compact().to_owned())
    }

    fn check(&self) -> Result<()> {
        if self.ttl == Some(0) {
            return Err(StatusError::TokenInvalid("ttl must be positive".into()).into());
        }
        Ok(())
    }

    /// Signs the CWT form: a tagged COSE_Sign1 (tag 18) with `typ`
    /// `application/statuslist+cwt` and claims 2 (sub), 6 (iat), 4 (exp), 65534 (ttl),
    /// 65533 (status_list).
    ///
    /// # Errors
    /// The signer's errors.
    pub fn sign_cwt(&self, list: &StatusList, signer: &dyn Signer) -> Result<Vec<u8>> {
        use ciborium::Value as C;
        self.check()?;
        let mut claims = vec![
            (C::Integer(CWT_SUB.into()), C::Text(self.uri.clone())),
            (C::Integer(CWT_IAT.into()), C::Integer(self.iat.into())),
        ];
        if let Some(exp) = self.exp {
            claims.push((C::Integer(CWT_EXP.into()), C::Integer(exp.into())));
        }
        if let Some(ttl) = self.ttl {
            claims.push((C::Integer(CWT_TTL.into()), C::Integer(ttl.into())));
        }
        if let Some(iss) = &self.iss {
            claims.push((C::Integer(1.into()), C::Text(iss.clone())));
        }
        claims.push((C::Integer(CWT_STATUS_LIST.into()), list.to_cbor_value()));
        let mut payload = Vec::new();
        ciborium::into_writer(&C::Map(claims), &mut payload)
            .map_err(|_| StatusError::TokenInvalid("CBOR encoding failed".into()))?;
        let protected = HeaderBuilder::new()
            .algorithm(cose_alg(signer.algorithm()))
            .value(16, C::Text(STATUS_LIST_CWT_TYP.into()))
            .build();
        let mut unprotected = HeaderBuilder::new();
        if let Some(kid) = signer.public_jwk().kid() {
            unprotected = unprotected.key_id(kid.as_bytes().to_vec());
        }
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .unprotected(unprotected.build())
            .payload(payload)
            .try_create_signature(b"", |tbs| signer.sign(tbs))?
            .build();
        sign1
            .to_tagged_vec()
            .map_err(|_| StatusError::TokenInvalid("COSE encoding failed".into()).into())
    }
}

fn cose_alg(alg: Algorithm) -> iana::Algorithm {
    match alg {
        Algorithm::Es256 => iana::Algorithm::ES256,
        Algorithm::Es384 => iana::Algorithm::ES384,
        Algorithm::Es512 => iana::Algorithm::ES512,
        Algorithm::EdDsa => iana::Algorithm::EdDSA,
    }
}

/// A Status List Token that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusListToken {
    /// `sub`: the URI the list is published at.
    pub uri: String,
    /// `iss`, when present.
    pub issuer: Option<String>,
    /// `iat`.
    pub issued_at: i64,
    /// `exp`, when present.
    pub expires_at: Option<i64>,
    /// `ttl`, when present.
    pub ttl: Option<u64>,
    /// The list.
    pub list: StatusList,
}

/// What validating a Status List Token needs.
#[derive(Debug, Clone, Copy)]
pub struct TokenCheck<'a> {
    /// The `uri` of the referencing credential's `status_list`; `sub` must equal it.
    pub uri: &'a str,
    /// The referencing credential's issuer: a token without `iss` is verified with this
    /// issuer's mechanism, a token with another `iss` is rejected.
    pub credential_issuer: Option<&'a str>,
    /// The verifier's clock.
    pub now: i64,
    /// How the credential's issuer was bound to its key: for a credential without `iss`
    /// (issuer named by its `x5c` leaf) the token must be bound to the same identity.
    pub credential_binding: Option<&'a IssuerBinding>,
    /// Clock skew tolerated for `exp` and `iat`.
    pub leeway: u64,
    /// Largest decompressed list.
    pub max_list_bytes: usize,
}

/// Verifies a JWT Status List Token (§5.1, §8.3 steps 3–5) with keys from `trust`.
///
/// # Errors
/// `alg_not_allowed` (also for MACs, SL-15), `typ_mismatch` (SL-06), signature and trust errors
/// (SL-10), `issuer_mismatch`, `status_list_sub_mismatch` (SL-07), `status_list_expired`
/// (SL-08), `status_list_token_invalid`, status list errors.
pub fn verify_jwt(
    token: &str,
    trust: &dyn IssuerTrust,
    check: &TokenCheck<'_>,
) -> Result<StatusListToken> {
    let jws = Jws::parse_compact(token)?;
    jws.require_alg(&Algorithm::ALL)?;
    jws.check_typ(&[STATUS_LIST_JWT_TYP])?;
    let mut claims = jws.payload_json(16)?;
    let token_iss = match claims.get("iss") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(StatusError::TokenInvalid("iss must be a string".into()).into()),
    };
    // The status list must come from the credential's issuer (SL-10).
    match (&token_iss, check.credential_issuer) {
        (Some(t), Some(c)) if t != c => {
            return Err(TrustError::IssuerMismatch(format!(
                "the status list is issued by {t:?}, the credential by {c:?}"
            ))
            .into());
        }
        (None, Some(c)) => {
            claims.insert("iss".into(), c.into());
        }
        _ => {}
    }
    let found = trust.issuer_keys(&jws, &claims)?;
    if check.credential_issuer.is_none()
        && let Some(expected) = check.credential_binding
        && !same_identity(expected, &found.binding)
    {
        return Err(TrustError::IssuerMismatch(
            "the status list is not signed by the credential's issuer".into(),
        )
        .into());
    }
    verify_with(&found.keys, |k| jws.verify(k, &Algorithm::ALL))?;
    let sub = claims.get("sub").and_then(Value::as_str);
    let iat = numeric_date(&claims, "iat")?
        .ok_or_else(|| StatusError::TokenInvalid("iat is required".into()))?;
    let exp = numeric_date(&claims, "exp")?;
    let ttl =
        match claims.get("ttl") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|t| *t > 0).ok_or_else(|| {
                StatusError::TokenInvalid("ttl must be a positive integer".into())
            })?),
        };
    let list = claims
        .get("status_list")
        .and_then(Value::as_object)
        .ok_or_else(|| StatusError::TokenInvalid("status_list is required".into()))?;
    finish(sub, token_iss, iat, exp, ttl, check, || {
        StatusList::from_json(list, check.max_list_bytes)
    })
}

/// Whether two bindings name the same issuer: the same certificate subject and
/// subjectAltNames, the same DID, or (pinned keys) the same configuration.
fn same_identity(a: &IssuerBinding, b: &IssuerBinding) -> bool {
    match (a, b) {
        (IssuerBinding::X509(x), IssuerBinding::X509(y)) => {
            x.subject == y.subject && x.dns_names == y.dns_names && x.uris == y.uris
        }
        (
            IssuerBinding::Did {
                verification_method: x,
            },
            IssuerBinding::Did {
                verification_method: y,
            },
        ) => x.split('#').next() == y.split('#').next(),
        (IssuerBinding::Metadata { issuer: x }, IssuerBinding::Metadata { issuer: y }) => x == y,
        (IssuerBinding::Static, IssuerBinding::Static) => true,
        _ => false,
    }
}

fn verify_with(
    keys: &[Arc<dyn VerifyingKey>],
    verify: impl Fn(&dyn VerifyingKey) -> Result<()>,
) -> Result<()> {
    let mut result: Result<()> = Err(Error::InvalidSignature);
    for k in keys {
        result = verify(&**k);
        if result.is_ok() {
            break;
        }
    }
    result
}

fn finish(
    sub: Option<&str>,
    issuer: Option<String>,
    iat: i64,
    exp: Option<i64>,
    ttl: Option<u64>,
    check: &TokenCheck<'_>,
    list: impl FnOnce() -> Result<StatusList>,
) -> Result<StatusListToken> {
    // The status list must come from the credential's issuer (SL-10).
    if let (Some(t), Some(c)) = (&issuer, check.credential_issuer)
        && t != c
    {
        return Err(TrustError::IssuerMismatch(format!(
            "the status list is issued by {t:?}, the credential by {c:?}"
        ))
        .into());
    }
    let sub = sub.ok_or_else(|| StatusError::TokenInvalid("sub is required".into()))?;
    if sub != check.uri {
        return Err(StatusError::SubMismatch.into());
    }
    let leeway = i64::try_from(check.leeway).unwrap_or(i64::MAX);
    if iat > check.now.saturating_add(leeway) {
        return Err(StatusError::TokenInvalid("iat is in the future".into()).into());
    }
    if let Some(exp) = exp
        && check.now > exp.saturating_add(leeway)
    {
        return Err(StatusError::Expired(format!("exp {exp} is before now {}", check.now)).into());
    }
    Ok(StatusListToken {
        uri: sub.to_owned(),
        issuer,
        issued_at: iat,
        expires_at: exp,
        ttl,
        list: list()?,
    })
}

/// Verifies a CWT Status List Token (§5.2) with the given keys: a tagged COSE_Sign1 whose
/// protected header has an allowed `alg` and `typ` `application/statuslist+cwt`.
///
/// # Errors
/// As [`verify_jwt`].
pub fn verify_cwt(
    token: &[u8],
    keys: &[Arc<dyn VerifyingKey>],
    check: &TokenCheck<'_>,
) -> Result<StatusListToken> {
    use ciborium::Value as C;
    let bad = |why: &str| StatusError::TokenInvalid(format!("CWT: {why}"));
    // §5.2: COSE_Sign1_Tagged (tag 18); untagged or CWT-tagged (61) structures are not.
    let sign1 = CoseSign1::from_tagged_slice(token).map_err(|_| bad("not a tagged COSE_Sign1"))?;
    let header = &sign1.protected.header;
    let alg = match &header.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => match a {
            iana::Algorithm::ES256 => Algorithm::Es256,
            iana::Algorithm::ES384 => Algorithm::Es384,
            iana::Algorithm::ES512 => Algorithm::Es512,
            iana::Algorithm::EdDSA => Algorithm::EdDsa,
            other => {
                return Err(crate::error::HeaderError::AlgNotAllowed(format!("{other:?}")).into());
            }
        },
        _ => return Err(crate::error::HeaderError::AlgNotAllowed("none or private".into()).into()),
    };
    let typ = header
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(16))
        .map(|(_, v)| v);
    if !matches!(typ, Some(C::Text(t)) if t == STATUS_LIST_CWT_TYP) {
        return Err(crate::error::HeaderError::TypMismatch {
            expected: STATUS_LIST_CWT_TYP.into(),
            found: typ.map(|t| format!("{t:?}")),
        }
        .into());
    }
    verify_with(keys, |k| {
        if k.algorithm() != alg {
            return Err(Error::InvalidSignature);
        }
        sign1.verify_signature(b"", |sig, tbs| k.verify(tbs, sig))
    })?;
    let payload = sign1.payload.as_deref().ok_or_else(|| bad("no payload"))?;
    let claims: C = ciborium::from_reader(payload).map_err(|_| bad("payload is not CBOR"))?;
    let C::Map(claims) = claims else {
        return Err(bad("claims are not a map").into());
    };
    let get = |k: i64| {
        claims
            .iter()
            .find(|(key, _)| matches!(key, C::Integer(i) if i128::from(*i) == i128::from(k)))
            .map(|(_, v)| v)
    };
    let int = |k: i64| -> Result<Option<i64>> {
        match get(k) {
            None => Ok(None),
            Some(C::Integer(i)) => Ok(Some(
                i64::try_from(*i).map_err(|_| bad("claim out of range"))?,
            )),
            Some(_) => Err(bad("a time claim is not an integer").into()),
        }
    };
    let sub = match get(CWT_SUB) {
        Some(C::Text(s)) => Some(s.as_str()),
        _ => None,
    };
    let issuer = match get(1) {
        Some(C::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let iat = int(CWT_IAT)?.ok_or_else(|| bad("iat is required"))?;
    let exp = int(CWT_EXP)?;
    let ttl = match int(CWT_TTL)? {
        None => None,
        Some(t) => Some(
            u64::try_from(t)
                .ok()
                .filter(|t| *t > 0)
                .ok_or_else(|| bad("ttl must be positive"))?,
        ),
    };
    let list = get(CWT_STATUS_LIST).ok_or_else(|| bad("status_list is required"))?;
    finish(sub, issuer, iat, exp, ttl, check, || {
        StatusList::from_cbor_value(list, check.max_list_bytes)
    })
}
