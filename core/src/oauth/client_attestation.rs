//! Attestation-based client authentication (draft-ietf-oauth-attestation-based-client-auth,
//! version -07 as OpenID4VCI 1.0 §14.7 and Appendix E pin it; HAIP 1.0 §4.4.1): a Wallet
//! Attestation JWT issued by the wallet provider (`typ` `oauth-client-attestation+jwt`,
//! `sub` = `client_id`, `cnf.jwk`) and, per request, a proof of possession of the `cnf` key
//! (`typ` `oauth-client-attestation-pop+jwt`, `aud` = the authorization server's issuer
//! identifier, `jti`, `iat`, `challenge` when the server issued one), in the
//! `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP` headers (§6.1, §6.2).
//!
//! Versions: -07 requires `iss` in both JWTs, -08 and later dropped it. credkit sends the
//! PoP's `iss` (= `client_id`, which -08+ ignore), never requires `iss` when verifying and
//! checks it when present (SPEC_NOTES_OID4VCI §0, §11.4). The attestation's signer is
//! authenticated with an [`IssuerTrust`] (HAIP: an `x5c` chain to the configured wallet
//! provider anchors).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::crypto::{CryptoProvider, HashAlg, Signer};
use crate::error::{Oid4vciError, Result};
use crate::jose::jws::{Jws, check_crit};
use crate::jose::{Algorithm, PublicJwk};
use crate::oauth::store::StateStore;
use crate::rand::RandomSource;
use crate::sd_jwt_vc::IssuerTrust;

/// `typ` of the client attestation JWT.
pub const ATTESTATION_TYP: &str = "oauth-client-attestation+jwt";
/// `typ` of its proof of possession.
pub const POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// The attestation header.
pub const ATTESTATION_HEADER: &str = "OAuth-Client-Attestation";
/// The PoP header.
pub const POP_HEADER: &str = "OAuth-Client-Attestation-PoP";
/// The header by which a server hands out a challenge (§8.1).
pub const CHALLENGE_HEADER: &str = "OAuth-Client-Attestation-Challenge";
/// The token endpoint authentication method name (§10.1).
pub const AUTH_METHOD: &str = "attest_jwt_client_auth";

const MAX_JWT_LEN: usize = 16 * 1024;
const POP_JTI_KIND: &str = "attestation_pop_jti";

fn invalid(m: impl Into<String>) -> crate::Error {
    Oid4vciError::InvalidClientAttestation(m.into()).into()
}

/// A Wallet Attestation the host obtained from its wallet provider, with the signer of its
/// `cnf` key (in the platform keystore). `Debug` shows the client id only.
#[derive(Clone)]
pub struct ClientAttestation {
    jwt: String,
    client_id: String,
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for ClientAttestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAttestation")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientAttestation {
    /// The attestation `jwt` (compact) used with `signer`, whose public key must be the
    /// attestation's `cnf.jwk`.
    ///
    /// # Errors
    /// `invalid_client_attestation` for a JWT of the wrong `typ`, without `sub` or `cnf`, or
    /// whose `cnf` is not `signer`'s key.
    pub fn new(jwt: &str, signer: Arc<dyn Signer>) -> Result<Self> {
        let jws =
            Jws::parse_compact(jwt.trim()).map_err(|e| invalid(format!("attestation: {e}")))?;
        if jws.typ() != Some(ATTESTATION_TYP) {
            return Err(invalid(
                "the attestation's typ is not oauth-client-attestation+jwt",
            ));
        }
        let claims = jws.payload_json(16)?;
        let client_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the attestation has no sub"))?
            .to_owned();
        let cnf = cnf_key(&claims)?;
        if !cnf.same_key(signer.public_jwk()) {
            return Err(invalid("the attestation's cnf is not this key"));
        }
        Ok(Self {
            jwt: jws.as_compact().to_owned(),
            client_id,
            signer,
        })
    }

    /// The `client_id` (the attestation's `sub`).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The two headers for one request to the server whose issuer identifier is
    /// `audience`, with the server's `challenge` if it gave one.
    ///
    /// # Errors
    /// Signer and RNG errors.
    pub fn headers(
        &self,
        audience: &str,
        challenge: Option<&str>,
        now: i64,
        rng: &dyn RandomSource,
    ) -> Result<Vec<(String, String)>> {
        let mut claims = Map::new();
        claims.insert("iss".into(), self.client_id.clone().into());
        claims.insert("aud".into(), audience.into());
        claims.insert(
            "jti".into(),
            crate::b64::encode(&crate::rand::bytes(rng, 16)?).into(),
        );
        claims.insert("iat".into(), now.into());
        if let Some(c) = challenge {
            claims.insert("challenge".into(), c.into());
        }
        let pop = super::sign_jwt(&*self.signer, POP_TYP, false, None, &claims)?;
        Ok(vec![
            (ATTESTATION_HEADER.into(), self.jwt.clone()),
            (POP_HEADER.into(), pop),
        ])
    }
}

fn cnf_key(claims: &Map<String, Value>) -> Result<PublicJwk> {
    let jwk = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("the attestation has no cnf.jwk"))?;
    if jwk.contains_key("d") {
        return Err(invalid("cnf.jwk holds a private key"));
    }
    PublicJwk::from_json(jwk).map_err(|e| invalid(format!("cnf.jwk: {e}")))
}

/// What a server accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttestationPolicy {
    /// Who may issue attestations (HAIP: an `x5c` chain to the wallet providers' anchors).
    pub trust: Arc<dyn IssuerTrust>,
    /// Allowed `alg`s of both JWTs (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Oldest PoP `iat` accepted, seconds before now (§10.6 window).
    pub max_pop_age: i64,
    /// Allowed clock skew for `iat`, `nbf` and `exp`.
    pub skew: i64,
}

impl AttestationPolicy {
    /// Attestations signed under `trust`, ES256, a 5-minute PoP window, 60 s skew.
    #[must_use]
    pub fn new(trust: Arc<dyn IssuerTrust>) -> Self {
        Self {
            trust,
            algorithms: vec![Algorithm::Es256],
            max_pop_age: 300,
            skew: 60,
        }
    }
}

/// A client that authenticated by attestation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttestedClient {
    /// Its `client_id` (the attestation's `sub`).
    pub client_id: String,
    /// The instance key (`cnf.jwk`).
    pub key: PublicJwk,
    /// The key's RFC 7638 thumbprint.
    pub key_thumbprint: String,
}

/// Verifies the attestation headers of one request to the server `audience` (ABCA-07 §9).
/// `challenge`, when the server issues challenges, accepts a current one.
///
/// # Errors
/// `invalid_client_attestation` for every failed check (missing or repeated headers, `typ`,
/// `alg`, untrusted signer, expired attestation, PoP not signed by `cnf`, wrong `aud`, old or
/// replayed PoP, `iss` ≠ `sub`, missing challenge); trust and store errors.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    attestation: &[&str],
    pop: &[&str],
    audience: &str,
    challenge: Option<&dyn Fn(&str) -> bool>,
    policy: &AttestationPolicy,
    now: i64,
    provider: &'static dyn CryptoProvider,
    replay: &dyn StateStore,
) -> Result<AttestedClient> {
    let (attestation, pop) = match (attestation, pop) {
        ([a], [p]) => (*a, *p),
        ([], []) => return Err(invalid("client attestation is required")),
        _ => {
            return Err(invalid(
                "exactly one attestation and one PoP header are required",
            ));
        }
    };
    if attestation.len() > MAX_JWT_LEN || pop.len() > MAX_JWT_LEN {
        return Err(invalid("attestation header too large"));
    }
    let att = Jws::parse_compact(attestation).map_err(|e| invalid(format!("attestation: {e}")))?;
    if att.typ() != Some(ATTESTATION_TYP) {
        return Err(invalid(
            "the attestation's typ is not oauth-client-attestation+jwt",
        ));
    }
    att.require_alg(&policy.algorithms)
        .map_err(|e| invalid(format!("attestation alg: {e}")))?;
    check_crit(att.header(), &[]).map_err(|e| invalid(e.to_string()))?;
    let claims = att.payload_json(16)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the attestation has no sub"))?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the attestation has no exp"))?;
    if exp <= now.saturating_sub(policy.skew) {
        return Err(invalid("the attestation has expired"));
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_i64()
            .ok_or_else(|| invalid("nbf must be a NumericDate"))?;
        if nbf > now.saturating_add(policy.skew) {
            return Err(invalid("the attestation is not valid yet"));
        }
    }
    let cnf = cnf_key(&claims)?;
    let found = policy
        .trust
        .issuer_keys(&att, &claims)
        .map_err(|e| invalid(format!("attestation signer: {e}")))?;
    if !found
        .keys
        .iter()
        .any(|k| att.verify(&**k, &policy.algorithms).is_ok())
    {
        return Err(invalid("the attestation's signature does not verify"));
    }

    let p = Jws::parse_compact(pop).map_err(|e| invalid(format!("PoP: {e}")))?;
    if p.typ() != Some(POP_TYP) {
        return Err(invalid(
            "the PoP's typ is not oauth-client-attestation-pop+jwt",
        ));
    }
    let alg = p
        .require_alg(&policy.algorithms)
        .map_err(|e| invalid(format!("PoP alg: {e}")))?;
    check_crit(p.header(), &[]).map_err(|e| invalid(e.to_string()))?;
    let key = provider
        .verifying_key(&cnf, alg)
        .map_err(|e| invalid(format!("cnf: {e}")))?;
    p.verify(&*key, &policy.algorithms)
        .map_err(|_| invalid("the PoP is not signed by the attestation's cnf key"))?;
    let pc = p.payload_json(8)?;
    let aud_ok = match pc.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => {
            a.len() == 1 && a.first().and_then(Value::as_str) == Some(audience)
        }
        _ => false,
    };
    if !aud_ok {
        return Err(invalid(
            "the PoP's aud is not this server's issuer identifier",
        ));
    }
    if let Some(iss) = pc.get("iss")
        && iss.as_str() != Some(sub)
    {
        return Err(invalid("the PoP's iss is not the attestation's sub"));
    }
    let jti = pc
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("the PoP needs a jti"))?;
    let iat = pc
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the PoP needs iat"))?;
    if iat > now.saturating_add(policy.skew) || iat < now.saturating_sub(policy.max_pop_age) {
        return Err(invalid("the PoP's iat is outside the accepted window"));
    }
    if let Some(accept) = challenge {
        match pc.get("challenge").and_then(Value::as_str) {
            Some(c) if accept(c) => {}
            _ => {
                return Err(Oid4vciError::Rejected {
                    status: 400,
                    error: "use_attestation_challenge".into(),
                    description: "a current attestation challenge is required".into(),
                }
                .into());
            }
        }
    }
    let key_thumbprint = cnf.thumbprint(HashAlg::Sha256);
    let replay_key = HashAlg::Sha256.digest_b64(format!("{key_thumbprint} {jti}").as_bytes());
    let until = iat
        .saturating_add(policy.max_pop_age)
        .saturating_add(policy.skew);
    if !replay.insert(POP_JTI_KIND, &replay_key, b"", until.max(now + 1), now)? {
        return Err(invalid("the PoP's jti was already used"));
    }
    Ok(AttestedClient {
        client_id: sub.to_owned(),
        key: cnf,
        key_thumbprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::default_provider;
    use crate::oauth::store::MemoryStateStore;
    use crate::rand::OsRandom;
    use crate::sd_jwt::StaticIssuerKeys;

    struct Fixture {
        provider_key: crate::jose::PrivateJwk,
        instance: Arc<dyn Signer>,
    }

    fn fixture() -> Fixture {
        let p = default_provider();
        let provider_key = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        let instance_key = p.generate(Algorithm::Es256, &OsRandom).unwrap();
        Fixture {
            provider_key,
            instance: p.signer(&instance_key).unwrap(),
        }
    }

    fn attestation(f: &Fixture, claims: Value) -> String {
        let signer = default_provider().signer(&f.provider_key).unwrap();
        let Value::Object(c) = claims else { panic!() };
        super::super::sign_jwt(&*signer, ATTESTATION_TYP, false, None, &c).unwrap()
    }

    fn policy(f: &Fixture) -> AttestationPolicy {
        let mut keys = StaticIssuerKeys::new();
        keys.add(f.provider_key.public(), default_provider())
            .unwrap();
        AttestationPolicy::new(Arc::new(keys))
    }

    const NOW: i64 = 1_750_000_000;
    const AS: &str = "https://issuer.example";

    fn claims(f: &Fixture) -> Value {
        serde_json::json!({
            "iss": "https://wallet-provider.example",
            "sub": "wallet-client",
            "exp": NOW + 3600,
            "cnf": {"jwk": Value::Object(f.instance.public_jwk().minimal_json())},
        })
    }

    fn run(f: &Fixture, att: &str, pop: &str, store: &MemoryStateStore) -> Result<AttestedClient> {
        verify(
            &[att],
            &[pop],
            AS,
            None,
            &policy(f),
            NOW,
            default_provider(),
            store,
        )
    }

    #[test]
    fn round_trip_and_replay() {
        let f = fixture();
        let jwt = attestation(&f, claims(&f));
        let client = ClientAttestation::new(&jwt, f.instance.clone()).unwrap();
        assert_eq!(client.client_id(), "wallet-client");
        let h = client.headers(AS, None, NOW, &OsRandom).unwrap();
        let store = MemoryStateStore::new();
        let ok = run(&f, &h[0].1, &h[1].1, &store).unwrap();
        assert_eq!(ok.client_id, "wallet-client");
        // ATTACKS VCI-53: the same PoP again.
        assert_eq!(
            run(&f, &h[0].1, &h[1].1, &store).unwrap_err().code(),
            "invalid_client_attestation"
        );
    }

    #[test]
    fn every_check_refuses() {
        let f = fixture();
        let store = MemoryStateStore::new();
        let good = attestation(&f, claims(&f));
        let client = ClientAttestation::new(&good, f.instance.clone()).unwrap();
        // VCI-50: expired attestation; VCI-54: no sub; no cnf.
        let mut expired = claims(&f);
        expired["exp"] = (NOW - 3600).into();
        let mut no_sub = claims(&f);
        no_sub.as_object_mut().unwrap().remove("sub");
        let mut no_cnf = claims(&f);
        no_cnf.as_object_mut().unwrap().remove("cnf");
        for c in [expired, no_sub, no_cnf] {
            let att = attestation(&f, c);
            let pop = &client.headers(AS, None, NOW, &OsRandom).unwrap()[1].1;
            assert_eq!(
                run(&f, &att, pop, &store).unwrap_err().code(),
                "invalid_client_attestation"
            );
        }
        // VCI-51: an attestation signed by an untrusted key.
        let other = fixture();
        let forged = attestation(&other, claims(&f));
        let pop = &client.headers(AS, None, NOW, &OsRandom).unwrap()[1].1;
        assert_eq!(
            run(&f, &forged, pop, &store).unwrap_err().code(),
            "invalid_client_attestation"
        );
        // VCI-52: PoP signed by another key, or for another audience; old PoP.
        let stranger = ClientAttestation {
            jwt: good.clone(),
            client_id: "wallet-client".into(),
            signer: other.instance.clone(),
        };
        for pop in [
            stranger.headers(AS, None, NOW, &OsRandom).unwrap()[1]
                .1
                .clone(),
            client
                .headers("https://other-as.example", None, NOW, &OsRandom)
                .unwrap()[1]
                .1
                .clone(),
            client.headers(AS, None, NOW - 600, &OsRandom).unwrap()[1]
                .1
                .clone(),
        ] {
            assert_eq!(
                run(&f, &good, &pop, &store).unwrap_err().code(),
                "invalid_client_attestation"
            );
        }
        // Missing headers.
        let e = verify(
            &[],
            &[],
            AS,
            None,
            &policy(&f),
            NOW,
            default_provider(),
            &store,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_client_attestation");
        // VCI-55: a challenge is required and missing.
        let pop = client.headers(AS, None, NOW, &OsRandom).unwrap()[1]
            .1
            .clone();
        let accept = |c: &str| c == "ch-1";
        let e = verify(
            &[&good],
            &[&pop],
            AS,
            Some(&accept),
            &policy(&f),
            NOW,
            default_provider(),
            &store,
        )
        .unwrap_err();
        assert_eq!(e.code(), "use_attestation_challenge");
        let pop = client.headers(AS, Some("ch-1"), NOW, &OsRandom).unwrap()[1]
            .1
            .clone();
        verify(
            &[&good],
            &[&pop],
            AS,
            Some(&accept),
            &policy(&f),
            NOW,
            default_provider(),
            &store,
        )
        .unwrap();
        // The wallet refuses an attestation whose cnf is not its key.
        assert!(ClientAttestation::new(&good, other.instance.clone()).is_err());
    }
}
