//! Issuance of SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc §2.2): `typ` `dc+sd-jwt`, `vct`,
//! registered claims that never become selectively disclosable, `x5c`, and the `sd` /
//! `mandatory` rules of the type's metadata.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::crypto::{HashAlg, Signer};
use crate::error::{IssuanceError, Result, TrustError, TypeMetadataError};
use crate::jose::{Algorithm, PublicJwk};
use crate::rand::RandomSource;
use crate::sd_jwt::{SdJwt, SdJwtBuilder, Serialization, UnsignedSdJwt};
use crate::sd_jwt_vc::trust::iss_matches_leaf;
use crate::sd_jwt_vc::type_metadata::{ResolvedTypeMetadata, SdRule};
use crate::sd_jwt_vc::{DC_SD_JWT_TYP, NEVER_DISCLOSABLE, Vct};

/// Claims the builder sets through its own methods only.
const SET_BY_BUILDER: [&str; 5] = ["vct", "vct#integrity", "aka_vcts", "cnf", "status"];

/// Builds and signs an SD-JWT VC.
///
/// ```
/// # fn main() -> credkit::Result<()> {
/// use credkit::crypto::default_provider;
/// use credkit::jose::Algorithm;
/// use credkit::rand::OsRandom;
/// use credkit::sd_jwt_vc::{VcBuilder, Vct};
///
/// let issuer_key = default_provider().generate(Algorithm::Es256, &OsRandom)?;
/// let signer = default_provider().signer(&issuer_key)?;
/// let claims = serde_json::json!({"given_name": "Erika", "family_name": "Mustermann"});
/// let vc = VcBuilder::new(Vct::new("urn:eudi:pid:1")?, claims.as_object().cloned().unwrap_or_default())
///     .issuer("https://pid-provider.example")
///     .issued_at(1_700_000_000)
///     .expires_at(1_800_000_000)
///     .disclose("/given_name")?
///     .disclose("/family_name")?
///     .issue(&*signer, &OsRandom)?;
/// assert_eq!(vc.disclosures().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct VcBuilder {
    vct: Vct,
    claims: Map<String, Value>,
    iss: Option<String>,
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    status: Option<Map<String, Value>>,
    vct_integrity: Option<String>,
    aka_vcts: Vec<Vct>,
    disclose: BTreeSet<String>,
    decoys: usize,
    hash: HashAlg,
    holder_key: Option<PublicJwk>,
    x5c: Option<Vec<Vec<u8>>>,
    type_metadata: Option<ResolvedTypeMetadata>,
    serialization: Serialization,
}

impl VcBuilder {
    /// A credential of type `vct` with the subject's `claims`. `iss`, `iat`, `nbf`, `exp`
    /// and `sub` may be among them or set with the methods (not both); `vct`, `cnf` and
    /// `status` are set with the methods only.
    pub fn new(vct: Vct, claims: Map<String, Value>) -> Self {
        Self {
            vct,
            claims,
            iss: None,
            iat: None,
            nbf: None,
            exp: None,
            status: None,
            vct_integrity: None,
            aka_vcts: Vec::new(),
            disclose: BTreeSet::new(),
            decoys: 0,
            hash: HashAlg::Sha256,
            holder_key: None,
            x5c: None,
            type_metadata: None,
            serialization: Serialization::Compact,
        }
    }

    /// `iss`: the issuer identifier (an `https` URL for issuer metadata, a DID, or a
    /// subjectAltName of the `x5c` leaf).
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// `iat`.
    pub fn issued_at(mut self, t: i64) -> Self {
        self.iat = Some(t);
        self
    }

    /// `nbf`.
    pub fn not_before(mut self, t: i64) -> Self {
        self.nbf = Some(t);
        self
    }

    /// `exp`.
    pub fn expires_at(mut self, t: i64) -> Self {
        self.exp = Some(t);
        self
    }

    /// `status`, e.g. `{"status_list": {"idx": 7, "uri": "https://..."}}`.
    pub fn status(mut self, status: Map<String, Value>) -> Self {
        self.status = Some(status);
        self
    }

    /// `vct#integrity`: the SRI hash of the type's metadata document.
    pub fn vct_integrity(mut self, integrity: impl Into<String>) -> Self {
        self.vct_integrity = Some(integrity.into());
        self
    }

    /// `aka_vcts`: other identifiers of the same type.
    pub fn aka_vcts(mut self, vcts: Vec<Vct>) -> Self {
        self.aka_vcts = vcts;
        self
    }

    /// Binds the credential to the holder's key (`cnf.jwk`).
    pub fn holder_key(mut self, jwk: PublicJwk) -> Self {
        self.holder_key = Some(jwk);
        self
    }

    /// Puts the issuer's certificate chain (DER, leaf first, without the root) in the
    /// protected header as `x5c`. The signing key must be the leaf's.
    pub fn x5c(mut self, chain: Vec<Vec<u8>>) -> Self {
        self.x5c = Some(chain);
        self
    }

    /// Makes the claim at `pointer` selectively disclosable.
    ///
    /// # Errors
    /// `not_selectively_disclosable` for a registered claim or anything below one.
    pub fn disclose(mut self, pointer: &str) -> Result<Self> {
        let first = crate::sd_jwt::pointer::parse(pointer)?
            .into_iter()
            .next()
            .unwrap_or_default();
        if NEVER_DISCLOSABLE.contains(&first.as_str()) {
            return Err(IssuanceError::NotSelectivelyDisclosable(first).into());
        }
        self.disclose.insert(pointer.to_owned());
        Ok(self)
    }

    /// Makes every top-level subject claim selectively disclosable (and, for objects, each
    /// of their members, recursively), which is what the PID rulebook asks for.
    pub fn disclose_all_claims(mut self) -> Self {
        fn walk(at: &str, v: &Value, out: &mut BTreeSet<String>) {
            match v {
                Value::Object(m) => {
                    for (k, c) in m {
                        let p = crate::sd_jwt::pointer::push(at, k);
                        walk(&p, c, out);
                        out.insert(p);
                    }
                }
                Value::Array(a) => {
                    for (i, c) in a.iter().enumerate() {
                        let p = crate::sd_jwt::pointer::push(at, &i.to_string());
                        walk(&p, c, out);
                        out.insert(p);
                    }
                }
                _ => {}
            }
        }
        for (k, v) in &self.claims {
            if NEVER_DISCLOSABLE.contains(&k.as_str()) || k == "iat" {
                continue;
            }
            let p = crate::sd_jwt::pointer::push("", k);
            walk(&p, v, &mut self.disclose);
            self.disclose.insert(p);
        }
        self
    }

    /// Adds `n` decoy digests to each `_sd` array.
    pub fn decoys(mut self, n: usize) -> Self {
        self.decoys = n;
        self
    }

    /// The digest hash (`_sd_alg`).
    pub fn hash(mut self, hash: HashAlg) -> Self {
        self.hash = hash;
        self
    }

    /// Compact (default) or JSON serialization.
    pub fn serialization(mut self, s: Serialization) -> Self {
        self.serialization = s;
        self
    }

    /// Applies the type's metadata: claims with `sd: always` become selectively disclosable,
    /// `sd: never` claims must not be, mandatory claims must be present.
    pub fn type_metadata(mut self, metadata: ResolvedTypeMetadata) -> Self {
        self.type_metadata = Some(metadata);
        self
    }

    fn payload(&self) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        let twice = |n: &str| IssuanceError::InvalidClaims(format!("{n:?} is given twice"));
        for n in SET_BY_BUILDER {
            if self.claims.contains_key(n) {
                return Err(IssuanceError::InvalidClaims(format!(
                    "{n:?} is set with the builder's methods"
                ))
                .into());
            }
        }
        if let Some(iss) = &self.iss {
            if self.claims.contains_key("iss") {
                return Err(twice("iss").into());
            }
            out.insert("iss".into(), iss.clone().into());
        }
        for (name, v) in [("iat", self.iat), ("nbf", self.nbf), ("exp", self.exp)] {
            if let Some(t) = v {
                if self.claims.contains_key(name) {
                    return Err(twice(name).into());
                }
                out.insert(name.into(), t.into());
            }
        }
        out.insert("vct".into(), self.vct.as_str().into());
        if let Some(i) = &self.vct_integrity {
            out.insert("vct#integrity".into(), i.clone().into());
        }
        if !self.aka_vcts.is_empty() {
            if self.aka_vcts.contains(&self.vct) {
                return Err(
                    IssuanceError::InvalidClaims("aka_vcts must not contain vct".into()).into(),
                );
            }
            out.insert(
                "aka_vcts".into(),
                self.aka_vcts
                    .iter()
                    .map(|v| Value::from(v.as_str()))
                    .collect(),
            );
        }
        if let Some(s) = &self.status {
            out.insert("status".into(), Value::Object(s.clone()));
        }
        for (k, v) in &self.claims {
            out.insert(k.clone(), v.clone());
        }
        if out.get("iss").is_some_and(|v| !v.is_string()) {
            return Err(IssuanceError::InvalidClaims("\"iss\" must be a string".into()).into());
        }
        for t in ["iat", "nbf", "exp"] {
            if out.get(t).is_some_and(|v| !v.is_i64()) {
                return Err(
                    IssuanceError::InvalidClaims(format!("{t:?} must be an integer")).into(),
                );
            }
        }
        Ok(out)
    }

    /// The selectively disclosable pointers after the type's `sd` rules.
    fn sd_pointers(&self, payload: &Map<String, Value>) -> Result<BTreeSet<String>> {
        let mut sd = self.disclose.clone();
        let Some(tm) = &self.type_metadata else {
            return Ok(sd);
        };
        if tm.vct != self.vct.as_str() {
            return Err(TypeMetadataError::VctMismatch {
                expected: self.vct.as_str().to_owned(),
                found: tm.vct.clone(),
            }
            .into());
        }
        for c in &tm.claims {
            let selected = c.path.select(payload).map_err(|e| {
                TypeMetadataError::Violation(format!("claim path {}: {}", c.path, e.0))
            })?;
            if c.is_mandatory() && selected.is_empty() {
                return Err(TypeMetadataError::Violation(format!(
                    "mandatory claim {} is missing",
                    c.path
                ))
                .into());
            }
            for (p, _) in selected {
                match c.sd_rule() {
                    SdRule::Always => {
                        sd.insert(p);
                    }
                    SdRule::Never if sd.contains(&p) => {
                        return Err(IssuanceError::NotSelectivelyDisclosable(p).into());
                    }
                    _ => {}
                }
            }
        }
        Ok(sd)
    }

    /// Prepares the credential for an external (e.g. hardware, asynchronous) signer.
    ///
    /// # Errors
    /// `invalid_claims`, `not_selectively_disclosable`, `invalid_pointer`, type metadata
    /// violations, `random_failed`.
    pub fn prepare(
        self,
        alg: Algorithm,
        kid: Option<&str>,
        rng: &dyn RandomSource,
    ) -> Result<UnsignedSdJwt> {
        let payload = self.payload()?;
        let sd = self.sd_pointers(&payload)?;
        let mut b = SdJwtBuilder::new(payload)
            .typ(Some(DC_SD_JWT_TYP))
            .never_disclosable(&NEVER_DISCLOSABLE)
            .hash(self.hash)
            .serialization(self.serialization)
            // §2.2.2.5: no SD claims, no `_sd` (and so no decoys).
            .decoys(if sd.is_empty() { 0 } else { self.decoys });
        if let Some(k) = self.holder_key {
            b = b.holder_key(k);
        }
        if let Some(chain) = &self.x5c {
            b = b.header(
                "x5c",
                chain
                    .iter()
                    .map(|c| Value::from(crate::b64::encode_std(c)))
                    .collect(),
            );
        }
        for p in &sd {
            b = b.disclose(p)?;
        }
        b.prepare(alg, kid, rng)
    }

    /// Prepares and signs. With `x5c`, the signer's key must be the leaf's and `iss` (when
    /// set) a subjectAltName of the leaf.
    ///
    /// # Errors
    /// As [`VcBuilder::prepare`]; `issuer_mismatch` or `key_alg_mismatch` for an `x5c` that
    /// does not fit; the signer's errors.
    pub fn issue(self, signer: &dyn Signer, rng: &dyn RandomSource) -> Result<SdJwt> {
        if let Some(chain) = &self.x5c
            && (chain.is_empty() || chain.len() > crate::x509::MAX_CHAIN_LEN)
        {
            return Err(crate::error::CertificateError::Invalid(
                "x5c needs 1 to 5 certificates".into(),
            )
            .into());
        }
        if let Some(leaf) = self.x5c.as_ref().and_then(|c| c.first()) {
            let info = crate::x509::leaf_info(leaf)?;
            let public = signer.public_jwk();
            if info.leaf_key.x() != public.x() || info.leaf_key.y() != public.y() {
                return Err(crate::error::KeyError::AlgMismatch(
                    "the signing key is not the key of the x5c leaf certificate".into(),
                )
                .into());
            }
            let iss = self.iss.clone().or_else(|| {
                self.claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            if let Some(iss) = iss
                && !iss_matches_leaf(&iss, &info)
            {
                return Err(TrustError::IssuerMismatch(format!(
                    "iss {iss:?} is not a subjectAltName of the x5c leaf certificate"
                ))
                .into());
            }
        }
        let kid = signer.public_jwk().kid();
        let unsigned = self.prepare(signer.algorithm(), kid, rng)?;
        let sig = signer.sign(unsigned.signing_input())?;
        unsigned.finish(&sig)
    }
}
