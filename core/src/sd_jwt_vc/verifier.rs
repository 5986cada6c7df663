//! Verification of SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc §2.4 "Verification and
//! Processing"): RFC 9901 §7 in full, then the VC rules — `typ` `dc+sd-jwt`, a valid `vct`,
//! registered claims never selectively disclosed, the issuer's key found by a mechanism the
//! [`TrustPolicy`](super::TrustPolicy) permits for that issuer, and (when configured) Type
//! Metadata processed strictly.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::{Result, TypeMetadataError, VcError};
use crate::sd_jwt::{
    Credential, KeyBindingPolicy, SdJwt, StaticIssuerKeys, VerifiedSdJwt, Verifier,
    VerifierBuilder, pointer,
};
use crate::sd_jwt_vc::trust::{IssuerBinding, IssuerTrust, Recording};
use crate::sd_jwt_vc::type_metadata::{Completeness, ResolvedTypeMetadata, TypeMetadataResolver};
use crate::sd_jwt_vc::{DC_SD_JWT_TYP, LEGACY_VC_SD_JWT_TYP, NEVER_DISCLOSABLE, Vct};
use crate::time::Clock;

/// Whether Type Metadata is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypeMetadataPolicy {
    /// Not processed (the draft makes processing optional).
    #[default]
    Ignore,
    /// Processed strictly when a source has the type's document; a type without metadata is
    /// accepted.
    IfAvailable,
    /// Processed strictly; a credential whose type has no metadata is rejected (§5.7).
    Required,
}

/// A verifier of SD-JWT VCs.
#[derive(Debug, Clone)]
pub struct VcVerifier {
    sd: Verifier,
    trust: Arc<dyn IssuerTrust>,
    vcts: Option<Vec<String>>,
    issuers: Option<Vec<String>>,
    type_metadata: Option<Arc<TypeMetadataResolver>>,
    tm_policy: TypeMetadataPolicy,
}

/// Configures a [`VcVerifier`].
#[derive(Debug)]
#[must_use]
pub struct VcVerifierBuilder {
    sd: VerifierBuilder,
    trust: Arc<dyn IssuerTrust>,
    legacy_typ: bool,
    vcts: Option<Vec<String>>,
    issuers: Option<Vec<String>>,
    type_metadata: Option<Arc<TypeMetadataResolver>>,
    tm_policy: TypeMetadataPolicy,
}

impl VcVerifier {
    /// Starts a verifier that finds issuer keys through `trust` (usually a
    /// [`TrustPolicy`](super::TrustPolicy)).
    pub fn builder(trust: Arc<dyn IssuerTrust>) -> VcVerifierBuilder {
        let unused = Arc::new(StaticIssuerKeys::new());
        Self::builder_from(trust, Verifier::builder(unused))
    }

    /// As [`VcVerifier::builder`], with a clock.
    pub fn builder_with_clock(
        trust: Arc<dyn IssuerTrust>,
        clock: Arc<dyn Clock>,
    ) -> VcVerifierBuilder {
        let unused = Arc::new(StaticIssuerKeys::new());
        Self::builder_from(trust, Verifier::builder_with_clock(unused, clock))
    }

    fn builder_from(trust: Arc<dyn IssuerTrust>, sd: VerifierBuilder) -> VcVerifierBuilder {
        VcVerifierBuilder {
            sd,
            trust,
            legacy_typ: false,
            vcts: None,
            issuers: None,
            type_metadata: None,
            tm_policy: TypeMetadataPolicy::Ignore,
        }
    }
}

impl VcVerifierBuilder {
    /// The Key Binding policy (required).
    pub fn key_binding(mut self, policy: KeyBindingPolicy) -> Self {
        self.sd = self.sd.key_binding(policy);
        self
    }

    /// Also accepts the legacy `typ` `vc+sd-jwt` of drafts before -06 (still emitted by some
    /// issuers). Off by default.
    pub fn accept_legacy_typ(mut self, accept: bool) -> Self {
        self.legacy_typ = accept;
        self
    }

    /// Accepts only credentials whose `vct` is one of `vcts` (compared exactly; `aka_vcts`
    /// do not count, draft §7.7).
    pub fn accept_vcts(mut self, vcts: &[&str]) -> Self {
        self.vcts = Some(vcts.iter().map(|v| (*v).to_owned()).collect());
        self
    }

    /// Accepts only credentials whose `iss` is one of `issuers` (exact match), on top of the
    /// trust policy: the explicit issuer authorisation of draft §7.7 when a mechanism such as
    /// issuer metadata or DIDs would bind any issuer to its key. A credential without `iss` is
    /// then rejected.
    pub fn accept_issuers(mut self, issuers: &[&str]) -> Self {
        self.issuers = Some(issuers.iter().map(|i| (*i).to_owned()).collect());
        self
    }

    /// Processes Type Metadata from `resolver` under `policy`.
    pub fn type_metadata(
        mut self,
        resolver: Arc<TypeMetadataResolver>,
        policy: TypeMetadataPolicy,
    ) -> Self {
        self.type_metadata = Some(resolver);
        self.tm_policy = policy;
        self
    }

    /// Adjusts the underlying SD-JWT verifier (algorithms, leeway, limits, provider, ...).
    /// Its `typ` setting is replaced by the SD-JWT VC one.
    pub fn sd_jwt(mut self, f: impl FnOnce(VerifierBuilder) -> VerifierBuilder) -> Self {
        self.sd = f(self.sd);
        self
    }

    /// Finishes the verifier.
    ///
    /// # Errors
    /// `api_misuse` as [`VerifierBuilder::build`], or when Type Metadata is required without
    /// a resolver.
    pub fn build(self) -> Result<VcVerifier> {
        let typs: &[&str] = if self.legacy_typ {
            &[DC_SD_JWT_TYP, LEGACY_VC_SD_JWT_TYP]
        } else {
            &[DC_SD_JWT_TYP]
        };
        let sd = self.sd.expect_typ(typs).build()?;
        if self.tm_policy != TypeMetadataPolicy::Ignore && self.type_metadata.is_none() {
            return Err(crate::error::IssuanceError::ApiMisuse(
                "a type metadata policy needs a resolver",
            )
            .into());
        }
        Ok(VcVerifier {
            sd,
            trust: self.trust,
            vcts: self.vcts,
            issuers: self.issuers,
            type_metadata: self.type_metadata,
            tm_policy: self.tm_policy,
        })
    }
}

/// A verified SD-JWT VC.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedVc {
    /// The SD-JWT verification result: processed claims, disclosed pointers, key binding.
    pub sd_jwt: VerifiedSdJwt,
    /// The credential type.
    pub vct: Vct,
    /// Other identifiers of the same type (`aka_vcts`).
    pub aka_vcts: Vec<Vct>,
    /// `iss`, when present.
    pub issuer: Option<String>,
    /// How the issuer's key was tied to the issuer.
    pub binding: IssuerBinding,
    /// The type's processed metadata, when processed.
    pub type_metadata: Option<ResolvedTypeMetadata>,
}

impl VerifiedVc {
    /// The processed claims.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.sd_jwt.claims
    }

    /// The `status` claim (Token Status List reference), when present.
    #[must_use]
    pub fn status(&self) -> Option<&Map<String, Value>> {
        self.sd_jwt.claims.get("status").and_then(Value::as_object)
    }
}

/// A credential a wallet received and verified: what it stores and presents from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VcCredential {
    /// The credential, for presentations.
    pub credential: Credential,
    /// What verification found.
    pub verified: VerifiedVc,
}

impl VcVerifier {
    /// Verifies a presentation (SD-JWT or SD-JWT+KB, compact or JSON serialization).
    ///
    /// # Errors
    /// Any [`crate::Error`].
    pub fn verify(&self, presentation: &str) -> Result<VerifiedVc> {
        let sd_jwt = SdJwt::parse(presentation, self.sd.limits())?;
        self.verify_parsed(&sd_jwt, &self.sd, Completeness::Presentation)
    }

    /// What a wallet does with an issued credential (RFC 9901 §7.2): verifies it without a
    /// KB-JWT, with every Disclosure known (so mandatory claims of the type are enforced).
    ///
    /// # Errors
    /// Any [`crate::Error`].
    pub fn receive(&self, issued: &str) -> Result<VcCredential> {
        let mut sd = self.sd.clone();
        sd.set_key_binding(KeyBindingPolicy::Forbidden);
        let sd_jwt = SdJwt::parse(issued, sd.limits())?;
        let verified = self.verify_parsed(&sd_jwt, &sd, Completeness::AllDisclosures)?;
        Ok(VcCredential {
            credential: Credential::from_verified(sd_jwt, verified.sd_jwt.clone()),
            verified,
        })
    }

    fn verify_parsed(
        &self,
        sd_jwt: &SdJwt,
        sd: &Verifier,
        completeness: Completeness,
    ) -> Result<VerifiedVc> {
        let recording = Recording {
            trust: &*self.trust,
            binding: Mutex::new(None),
        };
        let verified = sd.verify_with(sd_jwt, &recording)?;
        let binding = recording
            .binding
            .into_inner()
            .ok()
            .flatten()
            .ok_or_else(|| {
                crate::error::TrustError::UntrustedIssuer("no issuer key was resolved".into())
            })?;
        check_registered_claims(&verified.disclosed)?;
        let claims = &verified.claims;
        let vct = match claims.get("vct") {
            Some(Value::String(v)) => Vct::new(v.as_str())?,
            Some(_) => return Err(VcError::VctInvalid("vct must be a string".into()).into()),
            None => return Err(VcError::VctInvalid("vct is missing".into()).into()),
        };
        if let Some(accepted) = &self.vcts
            && !accepted.iter().any(|a| a == vct.as_str())
        {
            return Err(VcError::VctNotAccepted(vct.as_str().to_owned()).into());
        }
        if let Some(allowed) = &self.issuers {
            let iss = claims.get("iss").and_then(Value::as_str);
            if !iss.is_some_and(|i| allowed.iter().any(|a| a == i)) {
                return Err(crate::error::TrustError::UntrustedIssuer(format!(
                    "issuer {iss:?} is not among the accepted issuers"
                ))
                .into());
            }
        }
        let aka_vcts = aka_vcts(claims, &vct)?;
        let integrity = match claims.get("vct#integrity") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                return Err(VcError::ClaimInvalid {
                    name: "vct#integrity",
                    reason: "must be a string",
                }
                .into());
            }
        };
        check_shapes(claims)?;
        let type_metadata = self.process_type_metadata(&verified, &vct, integrity, completeness)?;
        Ok(VerifiedVc {
            issuer: claims.get("iss").and_then(Value::as_str).map(str::to_owned),
            vct,
            aka_vcts,
            binding,
            type_metadata,
            sd_jwt: verified,
        })
    }

    fn process_type_metadata(
        &self,
        verified: &VerifiedSdJwt,
        vct: &Vct,
        integrity: Option<&str>,
        completeness: Completeness,
    ) -> Result<Option<ResolvedTypeMetadata>> {
        let Some(resolver) = &self.type_metadata else {
            return Ok(None);
        };
        if self.tm_policy == TypeMetadataPolicy::Ignore {
            return Ok(None);
        }
        let resolved = match (self.tm_policy, resolver.resolve(vct.as_str(), integrity)) {
            (TypeMetadataPolicy::Ignore, _) => return Ok(None),
            (_, Ok(r)) => r,
            (
                TypeMetadataPolicy::IfAvailable,
                Err(crate::Error::TypeMetadata(TypeMetadataError::Unavailable(_))),
            ) => {
                return Ok(None);
            }
            (_, Err(e)) => return Err(e),
        };
        resolved.check_credential(&verified.claims, &verified.disclosed, completeness)?;
        Ok(Some(resolved))
    }
}

/// Registered claims, and everything below them, never arrive through a Disclosure
/// (draft §2.2.2.3; ATTACKS CLM-06).
fn check_registered_claims(disclosed: &[String]) -> Result<()> {
    for d in disclosed {
        let first = pointer::parse(d)?.into_iter().next().unwrap_or_default();
        if NEVER_DISCLOSABLE.contains(&first.as_str()) {
            return Err(VcError::SelectivelyDisclosed(first).into());
        }
    }
    Ok(())
}

fn aka_vcts(claims: &Map<String, Value>, vct: &Vct) -> Result<Vec<Vct>> {
    let Some(v) = claims.get("aka_vcts") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(VcError::AkaVctsInvalid("aka_vcts must be an array").into());
    };
    if items.is_empty() {
        return Err(VcError::AkaVctsInvalid("aka_vcts must not be empty").into());
    }
    let mut out: Vec<Vct> = Vec::with_capacity(items.len());
    for i in items {
        let s = i
            .as_str()
            .ok_or(VcError::AkaVctsInvalid("aka_vcts holds strings only"))?;
        let a = Vct::new(s).map_err(|_| {
            VcError::AkaVctsInvalid("an aka_vcts entry is not a collision-resistant name")
        })?;
        if &a == vct {
            return Err(VcError::AkaVctsInvalid("aka_vcts must not contain vct").into());
        }
        if out.contains(&a) {
            return Err(VcError::AkaVctsInvalid("aka_vcts entries must be distinct").into());
        }
        out.push(a);
    }
    Ok(out)
}

/// Shapes of `iss`, `cnf`, `status` and `sub`.
fn check_shapes(claims: &Map<String, Value>) -> Result<()> {
    let invalid = |name, reason| -> crate::Error { VcError::ClaimInvalid { name, reason }.into() };
    if claims.get("iss").is_some_and(|v| !v.is_string()) {
        return Err(invalid("iss", "must be a string"));
    }
    if claims.get("sub").is_some_and(|v| !v.is_string()) {
        return Err(invalid("sub", "must be a string"));
    }
    if let Some(cnf) = claims.get("cnf") {
        let ok = cnf.as_object().is_some_and(|c| !c.is_empty());
        if !ok {
            return Err(invalid("cnf", "must be a non-empty object (RFC 7800)"));
        }
    }
    if let Some(status) = claims.get("status") {
        let Some(status) = status.as_object() else {
            return Err(invalid("status", "must be an object"));
        };
        if let Some(list) = status.get("status_list") {
            let ok = list.as_object().is_some_and(|l| {
                l.get("idx")
                    .and_then(Value::as_u64)
                    .is_some_and(|i| i < (1 << 53))
                    && l.get("uri").and_then(Value::as_str).is_some()
            });
            if !ok {
                return Err(invalid(
                    "status",
                    "status_list needs a non-negative integer idx and a string uri",
                ));
            }
        }
    }
    Ok(())
}
