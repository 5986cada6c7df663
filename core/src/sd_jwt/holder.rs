//! The holder's side (RFC 9901 §7.2): check an issued SD-JWT before accepting it, list what
//! can be disclosed, select by JSON Pointer and present with a Key Binding JWT (§4.3).

use serde_json::{Map, Value};

use crate::crypto::Signer;
use crate::error::{IssuanceError, KeyBindingError, KeyError, Result};
use crate::jose::{Jws, PublicJwk, UnsignedJws};
use crate::sd_jwt::process::Placed;
use crate::sd_jwt::verifier::holder_key;
use crate::sd_jwt::{
    KB_JWT_TYP, KeyBindingPolicy, SdJwt, Serialization, VerifiedSdJwt, Verifier, pointer,
};

/// A claim the holder may choose to disclose.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DisclosableClaim {
    /// Where the claim is in the fully disclosed payload (RFC 6901).
    pub pointer: String,
    /// Its value (with every nested disclosable claim disclosed).
    pub value: Value,
    /// The pointer of the disclosable claim that contains it, if any: disclosing this claim
    /// discloses that one too.
    pub parent: Option<String>,
}

/// An issued SD-JWT that the holder has verified (§7.2) and keeps.
#[derive(Debug, Clone)]
pub struct Credential {
    sd_jwt: SdJwt,
    verified: VerifiedSdJwt,
    /// The `cnf` key, read once (an error when the credential has none usable).
    holder_key: Result<PublicJwk>,
}

impl Credential {
    /// Parses and verifies an issued SD-JWT with `verifier`, whose Key Binding policy is
    /// replaced by [`KeyBindingPolicy::Forbidden`]: an issuer sends no KB-JWT (§7.2).
    ///
    /// # Errors
    /// Every verification error; `kb_unexpected` for an SD-JWT+KB.
    pub fn receive(issued: &str, verifier: &Verifier) -> Result<Self> {
        let mut v = verifier.clone();
        v.set_key_binding(KeyBindingPolicy::Forbidden);
        let sd_jwt = SdJwt::parse(issued, v.limits())?;
        let verified = v.verify_parsed(&sd_jwt)?;
        Ok(Self::from_verified(sd_jwt, verified))
    }

    /// A credential whose issued SD-JWT was verified by a profile's verifier.
    pub(crate) fn from_verified(sd_jwt: SdJwt, verified: VerifiedSdJwt) -> Self {
        let holder_key = holder_key(&verified.claims);
        Self {
            sd_jwt,
            verified,
            holder_key,
        }
    }

    /// Re-opens a credential from the holder's own storage, where it was put only after
    /// [`Credential::receive`] verified it. The issuer signature and validity are **not**
    /// checked again; the Disclosure structure is (RFC 9901 §7.1 steps 3–5).
    ///
    /// Never use this for an SD-JWT that arrived from outside: use [`Credential::receive`].
    ///
    /// # Errors
    /// Parse and Disclosure-structure errors; `kb_unexpected` for an SD-JWT+KB.
    pub fn from_trusted_storage(stored: &str, limits: &crate::sd_jwt::Limits) -> Result<Self> {
        let sd_jwt = SdJwt::parse(stored, limits)?;
        if sd_jwt.key_binding_jwt().is_some() {
            return Err(
                KeyBindingError::Unexpected("a stored credential carries no KB-JWT").into(),
            );
        }
        let jwt = sd_jwt.issuer_jwt();
        let payload = jwt.payload_json(limits.max_json_depth)?;
        let processed = crate::sd_jwt::process::process(
            payload,
            sd_jwt.disclosures(),
            &crate::crypto::HashAlg::ALL,
            limits,
        )?;
        let verified = VerifiedSdJwt::new(jwt.header().clone(), processed, None);
        Ok(Self::from_verified(sd_jwt, verified))
    }

    /// The issued SD-JWT, serialized as received (for storage).
    #[must_use]
    pub fn sd_jwt(&self) -> &SdJwt {
        &self.sd_jwt
    }

    /// Every claim, fully disclosed.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.verified.claims
    }

    /// The verification result at receipt.
    #[must_use]
    pub fn verified(&self) -> &VerifiedSdJwt {
        &self.verified
    }

    /// The selectively disclosable claims with their pointers, in processing order.
    #[must_use]
    pub fn disclosable_claims(&self) -> Vec<DisclosableClaim> {
        let pointer_of = |i: usize| {
            self.verified
                .placed
                .iter()
                .find(|p| p.disclosure == i)
                .map(|p| p.pointer.clone())
        };
        self.verified
            .placed
            .iter()
            .map(|p| DisclosableClaim {
                pointer: p.pointer.clone(),
                value: lookup(&self.verified.claims, &p.pointer)
                    .cloned()
                    .unwrap_or(Value::Null),
                parent: p.parent.and_then(pointer_of),
            })
            .collect()
    }

    /// Selects what to disclose. Each pointer names a claim; the claim is disclosed with
    /// everything beneath it, and every Disclosure needed to reach it is included (§4.2.6).
    /// Claims that are always visible may be named too; they need no Disclosure.
    ///
    /// # Errors
    /// `invalid_pointer` when a pointer is malformed or names no claim.
    pub fn present(&self, pointers: &[&str]) -> Result<Presentation> {
        let mut chosen = vec![false; self.sd_jwt.disclosures().len()];
        for p in pointers {
            let tokens = pointer::tokens(p)?;
            if pointer::lookup(&self.verified.claims, &tokens).is_none() {
                return Err(IssuanceError::InvalidPointer {
                    pointer: (*p).to_owned(),
                    reason: "no such claim in the credential",
                }
                .into());
            }
            for Placed {
                pointer: at,
                disclosure,
                ..
            } in &self.verified.placed
            {
                // The claim itself, what lies beneath it, and every ancestor on its path. A
                // pointer that names a claim is in the normal form `at` is written in (RFC
                // 6901 has one escaping, and array indices one spelling).
                if (pointer::is_within(at, p) || pointer::is_within(p, at))
                    && let Some(c) = chosen.get_mut(*disclosure)
                {
                    *c = true;
                }
            }
        }
        let disclosures = self
            .sd_jwt
            .disclosures()
            .iter()
            .zip(&chosen)
            .filter(|(_, c)| **c)
            .map(|(d, _)| d.clone())
            .collect();
        Ok(Presentation {
            sd_jwt: self.sd_jwt.with(disclosures, None),
            sd_alg: self.verified.sd_alg,
            holder_key: self.holder_key.clone(),
        })
    }
}

/// Looks up a claim by JSON Pointer.
fn lookup<'a>(claims: &'a Map<String, Value>, at: &str) -> Option<&'a Value> {
    pointer::lookup(claims, &pointer::parse(at).ok()?)
}

/// A selection of Disclosures about to be presented.
#[derive(Debug, Clone)]
#[must_use]
pub struct Presentation {
    sd_jwt: SdJwt,
    /// `_sd_alg` of the credential, found when it was processed.
    sd_alg: crate::crypto::HashAlg,
    /// The `cnf` key of the credential (or why there is none), found when it was processed.
    holder_key: Result<PublicJwk>,
}

impl Presentation {
    /// The presentation without Key Binding (RFC 9901 §4: ends with `~`).
    #[must_use]
    pub fn without_key_binding(&self) -> String {
        self.sd_jwt.to_string()
    }

    /// The claims a verifier will see (§7.3 processing of the issuer payload with the
    /// selected Disclosures): what a consent screen shows. A container disclosed to reach a
    /// claim holds only what is disclosed or always visible inside it.
    ///
    /// # Errors
    /// Parse errors of the stored issuer JWT (not expected for a received credential).
    pub fn disclosed_claims(&self, limits: &crate::sd_jwt::Limits) -> Result<Map<String, Value>> {
        let jwt = self.sd_jwt.issuer_jwt();
        let payload = jwt.payload_json(limits.max_json_depth)?;
        let processed = crate::sd_jwt::process::process(
            payload,
            self.sd_jwt.disclosures(),
            &crate::crypto::HashAlg::ALL,
            limits,
        )?;
        Ok(processed.payload)
    }

    /// The Disclosures that will be presented.
    #[must_use]
    pub fn sd_jwt(&self) -> &SdJwt {
        &self.sd_jwt
    }

    /// Prepares the KB-JWT (two-phase signing for asynchronous keys): `typ` kb+jwt, `iat`,
    /// `aud`, `nonce` and `sd_hash` over exactly the presented Disclosures (§4.3, §4.3.1, §8.1).
    /// The caller signs with the holder key bound in `cnf`; [`Presentation::with_key_binding`]
    /// checks that for synchronous signers.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for checks on the inputs.
    pub fn prepare_key_binding(
        &self,
        alg: crate::jose::Algorithm,
        audience: &str,
        nonce: &str,
        issued_at: i64,
    ) -> Result<UnsignedKeyBinding> {
        self.prepare_key_binding_with(alg, audience, nonce, issued_at, &Map::new())
    }

    /// As [`Presentation::prepare_key_binding`], with further claims a profile defines
    /// (OpenID4VP 1.0 B.3.3.1: `transaction_data_hashes`, `transaction_data_hashes_alg`).
    ///
    /// # Errors
    /// `kb_unexpected` when `extra` names a claim the KB-JWT sets itself (`iat`, `aud`,
    /// `nonce`, `sd_hash`).
    pub fn prepare_key_binding_with(
        &self,
        alg: crate::jose::Algorithm,
        audience: &str,
        nonce: &str,
        issued_at: i64,
        extra: &Map<String, Value>,
    ) -> Result<UnsignedKeyBinding> {
        if ["iat", "aud", "nonce", "sd_hash"]
            .into_iter()
            .any(|n| extra.contains_key(n))
        {
            return Err(KeyBindingError::Unexpected(
                "iat, aud, nonce and sd_hash are set by the KB-JWT itself",
            )
            .into());
        }
        // With room for the KB-JWT, which `finish` appends.
        let prefix = self.sd_jwt.sd_hash_input_with_room(512);
        let sd_hash = self.sd_alg.digest_b64(prefix.as_bytes());
        let mut claims = Map::new();
        claims.insert("iat".into(), issued_at.into());
        claims.insert("aud".into(), audience.into());
        claims.insert("nonce".into(), nonce.into());
        claims.insert("sd_hash".into(), sd_hash.into());
        for (k, v) in extra {
            claims.insert(k.clone(), v.clone());
        }
        let mut header = Map::new();
        header.insert("typ".into(), KB_JWT_TYP.into());
        // Serialising a map of JSON values into a Vec cannot fail.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let jws = UnsignedJws::from_payload(alg, header, payload);
        Ok(UnsignedKeyBinding {
            json: (self.sd_jwt.serialization() != Serialization::Compact)
                .then(|| self.sd_jwt.clone()),
            prefix,
            jws,
        })
    }

    /// Signs the KB-JWT with the holder's signer and returns the SD-JWT+KB.
    ///
    /// # Errors
    /// `cnf_invalid`; `key_alg_mismatch` when the signer's key is not the one in `cnf`; the
    /// signer's errors.
    pub fn with_key_binding(
        &self,
        signer: &dyn Signer,
        audience: &str,
        nonce: &str,
        issued_at: i64,
    ) -> Result<String> {
        self.with_key_binding_and_claims(signer, audience, nonce, issued_at, &Map::new())
    }

    /// As [`Presentation::with_key_binding`], with further KB-JWT claims (see
    /// [`Presentation::prepare_key_binding_with`]).
    ///
    /// # Errors
    /// As [`Presentation::with_key_binding`] and [`Presentation::prepare_key_binding_with`].
    pub fn with_key_binding_and_claims(
        &self,
        signer: &dyn Signer,
        audience: &str,
        nonce: &str,
        issued_at: i64,
        extra: &Map<String, Value>,
    ) -> Result<String> {
        let cnf = self.holder_key.as_ref().map_err(Clone::clone)?;
        if !cnf.same_key(signer.public_jwk()) {
            return Err(KeyError::AlgMismatch(
                "the signer's key is not the holder key in cnf".into(),
            )
            .into());
        }
        let unsigned =
            self.prepare_key_binding_with(signer.algorithm(), audience, nonce, issued_at, extra)?;
        let sig = signer.sign(unsigned.signing_input())?;
        unsigned.finish(&sig)
    }
}

/// A KB-JWT waiting for the holder's signature.
#[derive(Debug, Clone)]
#[must_use]
pub struct UnsignedKeyBinding {
    /// `<JWT>~<D1>~...~<DN>~`: the `sd_hash` input, and the compact presentation but for
    /// the KB-JWT.
    prefix: String,
    /// The SD-JWT, when it is written in a JSON serialization.
    json: Option<SdJwt>,
    jws: UnsignedJws,
}

impl UnsignedKeyBinding {
    /// The bytes the holder key must sign.
    #[must_use]
    pub fn signing_input(&self) -> &[u8] {
        self.jws.signing_input()
    }

    /// Completes the SD-JWT+KB with the holder's JWS-form signature and serializes it.
    ///
    /// # Errors
    /// `sig_malformed`.
    pub fn finish(self, signature: &[u8]) -> Result<String> {
        let kb: Jws = self.jws.finish(signature)?;
        Ok(match self.json {
            Some(sd_jwt) => sd_jwt.with_key_binding(kb).to_string(),
            None => {
                let mut out = self.prefix;
                out.push_str(kb.as_compact());
                out
            }
        })
    }
}
