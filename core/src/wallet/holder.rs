//! The wallet: verified credentials in a [`CredentialStore`], bound to keys of a
//! [`KeyManager`], held as batches of copies (one per key) and presented under a
//! [`UsePolicy`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::keys::{KeyManager, ManagedKey};
use super::store::{CredentialStore, StoredCredential};
use crate::error::{Result, WalletError};
use crate::jose::{Algorithm, PublicJwk};
use crate::rand::{OsRandom, RandomSource};
use crate::sd_jwt::{Credential, DisclosableClaim, Limits};
use crate::sd_jwt_vc::VcVerifier;
use crate::time::{Clock, SystemClock};

/// How the copies of a batch are used for presentations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UsePolicy {
    /// Each copy is presented once, then never again, so that two presentations cannot be
    /// linked by the issuer signature or the holder key (the default).
    #[default]
    OneTimeUse,
    /// Copies are used in turn (the least used first) and never run out.
    RotateUse,
}

/// A credential as the wallet shows it: one batch of copies.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct HeldCredential {
    /// The batch id (the handle for presenting and removing).
    pub batch: String,
    /// The credential type.
    pub vct: String,
    /// The issuer.
    pub issuer: Option<String>,
    /// How many copies the batch has.
    pub copies: usize,
    /// How many have never been presented.
    pub unused: usize,
    /// The fully disclosed claims (of the first copy).
    pub claims: Map<String, Value>,
    /// The claims that can be disclosed one by one.
    pub disclosable: Vec<DisclosableClaim>,
    /// Authority Key Identifiers of the issuer's `x5c` chain (base64url), for DCQL
    /// `trusted_authorities` of type `aki`.
    pub authority_ids: Vec<String>,
}

impl fmt::Debug for HeldCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldCredential")
            .field("batch", &self.batch)
            .field("vct", &self.vct)
            .field("copies", &self.copies)
            .field("unused", &self.unused)
            .finish_non_exhaustive()
    }
}

/// One held credential that can answer a Credential Query, as a consent screen shows it.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ConsentCandidate {
    /// The credential (batch) to present.
    pub batch: String,
    /// Its type.
    pub vct: String,
    /// Its issuer.
    pub issuer: Option<String>,
    /// Copies left to present.
    pub remaining: usize,
    /// The pointers to pass to [`Wallet::present`].
    pub disclose: Vec<String>,
    /// Exactly what the verifier would see beyond the always-visible claims: each revealed
    /// selectively disclosable claim with its value.
    pub revealed: Vec<(String, Value)>,
    /// The credential's claims, fully disclosed (what the wallet knows; for labels and for
    /// showing which credential this is). The verifier sees only `revealed` and the
    /// always-visible claims.
    pub claims: Map<String, Value>,
}

impl fmt::Debug for ConsentCandidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentCandidate")
            .field("batch", &self.batch)
            .field("vct", &self.vct)
            .field("disclose", &self.disclose)
            .finish_non_exhaustive()
    }
}

/// The wallet's answer options for one Credential Query of a DCQL query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryAnswer {
    /// The Credential Query's id.
    pub query_id: String,
    /// Whether the verifier requires an answer.
    pub required: bool,
    /// Whether several credentials may be presented for it.
    pub multiple: bool,
    /// The held credentials that answer it, the least-disclosing first.
    pub candidates: Vec<ConsentCandidate>,
}

/// A holder's wallet.
#[derive(Debug, Clone)]
pub struct Wallet {
    store: Arc<dyn CredentialStore>,
    keys: Arc<dyn KeyManager>,
    verifier: VcVerifier,
    policy: UsePolicy,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
}

impl Wallet {
    /// A wallet keeping credentials in `store`, bound to keys of `keys`, accepting what
    /// `verifier` accepts (its trust policy decides which issuers the wallet trusts).
    #[must_use]
    pub fn new(
        store: Arc<dyn CredentialStore>,
        keys: Arc<dyn KeyManager>,
        verifier: VcVerifier,
    ) -> Self {
        Self {
            store,
            keys,
            verifier,
            policy: UsePolicy::default(),
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRandom),
        }
    }

    /// Sets the use policy for batches.
    #[must_use]
    pub fn use_policy(mut self, policy: UsePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses `clock` (KB-JWT `iat`, record times).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `rng` for record ids.
    #[must_use]
    pub fn rng(mut self, rng: Arc<dyn RandomSource>) -> Self {
        self.rng = rng;
        self
    }

    /// The key manager.
    #[must_use]
    pub fn keys(&self) -> &Arc<dyn KeyManager> {
        &self.keys
    }

    /// Creates `n` holder keys for a (batch) issuance request; the issuer binds one copy to
    /// each. Returns the key ids and public keys.
    ///
    /// # Errors
    /// The key manager's errors.
    pub fn create_holder_keys(&self, n: usize, alg: Algorithm) -> Result<Vec<(String, PublicJwk)>> {
        (0..n).map(|_| self.keys.create_key(alg)).collect()
    }

    fn new_id(&self) -> Result<String> {
        crate::rand::id(&*self.rng)
    }

    /// Verifies every copy of an issued credential (RFC 9901 §7.2 and the SD-JWT VC rules,
    /// with the wallet's verifier) and stores them as one batch. Each copy must be bound
    /// (`cnf.jwk`) to one of `key_ids` (ATTACKS HOL-02), and all copies must have the same type
    /// and issuer. Nothing is stored unless every copy passes.
    ///
    /// # Errors
    /// Verification errors; `holder_key_unknown`; `invalid_claims` for a mixed batch; store
    /// errors.
    pub fn add(&self, issued: &[&str], key_ids: &[String]) -> Result<String> {
        self.add_expecting(issued, key_ids, None)
    }

    /// Stores what an OpenID4VCI flow received ([`crate::openid4vci::wallet::Issued`]) as
    /// [`Wallet::add`] does, after checking that it is the format and `vct` that were asked
    /// for (ATTACKS VCI-80).
    ///
    /// # Errors
    /// `credential_binding_mismatch` for another format or type; as [`Wallet::add`].
    pub fn add_issued(&self, issued: &crate::openid4vci::wallet::Issued) -> Result<String> {
        if issued.format != crate::openid4vci::FORMAT_SD_JWT_VC {
            return Err(crate::error::Oid4vciError::CredentialMismatch(format!(
                "format {:?} cannot be stored",
                issued.format
            ))
            .into());
        }
        let texts: Vec<&str> = issued.credentials.iter().map(String::as_str).collect();
        self.add_expecting(&texts, &issued.key_ids, issued.vct.as_deref())
    }

    fn add_expecting(
        &self,
        issued: &[&str],
        key_ids: &[String],
        expected_vct: Option<&str>,
    ) -> Result<String> {
        if issued.is_empty() {
            return Err(crate::error::IssuanceError::ApiMisuse("no credential to add").into());
        }
        let mut keys = BTreeMap::new();
        for id in key_ids {
            keys.insert(id.clone(), self.keys.public_key(id)?.minimal_json());
        }
        let batch = self.new_id()?;
        let now = self.clock.now();
        let mut records = Vec::with_capacity(issued.len());
        let mut first: Option<(String, Option<String>)> = None;
        for text in issued {
            let vc = self.verifier.receive(text)?;
            let cnf = vc
                .verified
                .claims()
                .get("cnf")
                .and_then(|c| c.get("jwk"))
                .and_then(Value::as_object)
                .ok_or(WalletError::HolderKeyUnknown)?;
            let cnf = PublicJwk::from_json(cnf)
                .map_err(|_| WalletError::HolderKeyUnknown)?
                .minimal_json();
            let key_id = keys
                .iter()
                .find(|(_, k)| **k == cnf)
                .map(|(id, _)| id.clone())
                .ok_or(WalletError::HolderKeyUnknown)?;
            if records
                .iter()
                .any(|r: &StoredCredential| r.key_id == key_id)
            {
                return Err(crate::error::IssuanceError::InvalidClaims(
                    "two copies are bound to the same key".into(),
                )
                .into());
            }
            let kind = (
                vc.verified.vct.as_str().to_owned(),
                vc.verified.issuer.clone(),
            );
            if let Some(v) = expected_vct
                && kind.0 != v
            {
                return Err(crate::error::Oid4vciError::CredentialMismatch(format!(
                    "the issuer sent vct {:?}, not the requested {v:?}",
                    kind.0
                ))
                .into());
            }
            match &first {
                None => first = Some(kind.clone()),
                Some(f) if *f != kind => {
                    return Err(crate::error::IssuanceError::InvalidClaims(
                        "the copies of a batch must have one type and issuer".into(),
                    )
                    .into());
                }
                Some(_) => {}
            }
            records.push(StoredCredential {
                id: self.new_id()?,
                batch: batch.clone(),
                vct: kind.0,
                issuer: kind.1,
                sd_jwt: (*text).to_owned(),
                key_id,
                presentations: 0,
                added_at: now,
            });
        }
        self.store.insert(&records)?;
        Ok(batch)
    }

    /// The credentials held, one entry per batch.
    ///
    /// # Errors
    /// Store errors; parse errors of a corrupted record.
    pub fn list(&self) -> Result<Vec<HeldCredential>> {
        Ok(self.held()?.into_iter().map(|(h, _)| h).collect())
    }

    /// Every batch with its first copy parsed (one pass over the store).
    fn held(&self) -> Result<Vec<(HeldCredential, Credential)>> {
        let mut batches: BTreeMap<String, Vec<StoredCredential>> = BTreeMap::new();
        for r in self.store.list()? {
            batches.entry(r.batch.clone()).or_default().push(r);
        }
        let mut out = Vec::with_capacity(batches.len());
        for (batch, copies) in batches {
            let Some(first) = copies.first() else {
                continue;
            };
            let cred = Credential::from_trusted_storage(&first.sd_jwt, &Limits::default())?;
            // The record's index fields must describe its credential (a store that mixed
            // records up, or was tampered with, is not trusted to label a consent screen).
            let claims = cred.claims();
            if claims.get("vct").and_then(Value::as_str) != Some(first.vct.as_str())
                || claims.get("iss").and_then(Value::as_str) != first.issuer.as_deref()
            {
                return Err(WalletError::Storage(format!(
                    "record {:?} does not match its credential",
                    first.id
                ))
                .into());
            }
            let authority_ids = cred
                .sd_jwt()
                .issuer_jwt()
                .header()
                .get("x5c")
                .and_then(|v| crate::x509::parse_x5c(v).ok())
                .map(|chain| crate::x509::authority_key_ids(&chain))
                .unwrap_or_default();
            let held = HeldCredential {
                authority_ids,
                vct: first.vct.clone(),
                issuer: first.issuer.clone(),
                copies: copies.len(),
                unused: copies.iter().filter(|c| c.presentations == 0).count(),
                claims: cred.claims().clone(),
                disclosable: cred.disclosable_claims(),
                batch,
            };
            out.push((held, cred));
        }
        Ok(out)
    }

    fn copies(&self, batch: &str) -> Result<Vec<StoredCredential>> {
        let copies: Vec<_> = self
            .store
            .list()?
            .into_iter()
            .filter(|r| r.batch == batch)
            .collect();
        if copies.is_empty() {
            return Err(WalletError::NotFound(format!("credential {batch:?}")).into());
        }
        Ok(copies)
    }

    /// How many copies of `batch` can still be presented (under one-time use: the unused
    /// ones; under rotation: all).
    ///
    /// # Errors
    /// `not_found`, store errors.
    pub fn remaining(&self, batch: &str) -> Result<usize> {
        let copies = self.copies(batch)?;
        Ok(match self.policy {
            UsePolicy::OneTimeUse => copies.iter().filter(|c| c.presentations == 0).count(),
            UsePolicy::RotateUse => copies.len(),
        })
    }

    /// The Token Status List status of credential `batch` (draft-ietf-oauth-status-list-20
    /// §8.3): its first copy is verified again with the wallet's verifier, then `checker`
    /// looks it up with the same trust. What a wallet shows next to a credential.
    ///
    /// # Errors
    /// `not_found`; verification errors (for example `expired`); the checker's errors.
    pub fn status(
        &self,
        batch: &str,
        checker: &crate::status_list::StatusChecker,
    ) -> Result<crate::status_list::CredentialStatus> {
        let copies = self.copies(batch)?;
        // `copies` is never empty: an unknown batch is `not_found` already.
        let first = copies
            .first()
            .ok_or_else(|| WalletError::NotFound(format!("credential {batch:?}")))?;
        checker.check_held(&self.verifier.receive(&first.sd_jwt)?)
    }

    /// Removes a credential (all its copies) and deletes its holder keys.
    ///
    /// # Errors
    /// `not_found`, store and key manager errors.
    pub fn remove(&self, batch: &str) -> Result<()> {
        let copies = self.copies(batch)?;
        self.store.delete_batch(batch)?;
        for c in copies {
            self.keys.delete_key(&c.key_id)?;
        }
        Ok(())
    }

    /// Answers a DCQL query (OpenID4VP 1.0 §6): for each Credential Query to answer, the held
    /// credentials that can (exhausted batches excluded), the least-disclosing first, each
    /// with exactly the claims it would reveal — what the consent screen shows. Present the
    /// user's choice with [`Wallet::present`] and the candidate's `disclose` pointers.
    ///
    /// # Errors
    /// `dcql_unsatisfiable` when a required part cannot be answered; store errors.
    pub fn query(&self, query: &crate::dcql::DcqlQuery) -> Result<Vec<QueryAnswer>> {
        let held: Vec<(HeldCredential, Credential)> = self
            .held()?
            .into_iter()
            .filter(|(h, _)| self.policy == UsePolicy::RotateUse || h.unused > 0)
            .collect();
        let pointers: Vec<Vec<String>> = held
            .iter()
            .map(|(h, _)| h.disclosable.iter().map(|d| d.pointer.clone()).collect())
            .collect();
        let candidates: Vec<crate::dcql::CandidateCredential<'_>> = held
            .iter()
            .zip(&pointers)
            .map(|((h, _), p)| crate::dcql::CandidateCredential {
                id: &h.batch,
                format: crate::dcql::FORMAT_DC_SD_JWT,
                vct: &h.vct,
                claims: &h.claims,
                disclosable: p,
                holder_binding: h.claims.get("cnf").is_some(),
                authority_ids: &h.authority_ids,
            })
            .collect();
        let selections = query.resolve(&candidates)?;
        Ok(selections
            .into_iter()
            .map(|s| QueryAnswer {
                query_id: s.query_id,
                required: s.required,
                multiple: s.multiple,
                candidates: s
                    .candidates
                    .into_iter()
                    .filter_map(|m| {
                        let (h, credential) =
                            held.iter().find(|(h, _)| h.batch == m.credential_id)?;
                        // Values as the verifier will see them: a container holds only what
                        // is disclosed inside it.
                        let pointers: Vec<&str> = m.disclose.iter().map(String::as_str).collect();
                        let seen = credential
                            .present(&pointers)
                            .and_then(|p| p.disclosed_claims(&Limits::default()))
                            .ok()?;
                        let revealed = m
                            .revealed
                            .iter()
                            .filter_map(|p| {
                                let tokens = crate::sd_jwt::pointer::parse(p).ok()?;
                                crate::sd_jwt::pointer::lookup(&seen, &tokens)
                                    .map(|v| (p.clone(), v.clone()))
                            })
                            .collect();
                        Some(ConsentCandidate {
                            claims: h.claims.clone(),
                            batch: h.batch.clone(),
                            vct: h.vct.clone(),
                            issuer: h.issuer.clone(),
                            remaining: match self.policy {
                                UsePolicy::OneTimeUse => h.unused,
                                UsePolicy::RotateUse => h.copies,
                            },
                            disclose: m.disclose,
                            revealed,
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    /// Presents `pointers` of credential `batch` to the verifier `audience` with its `nonce`:
    /// picks a copy under the use policy, binds it with a KB-JWT signed by the copy's holder
    /// key, and records the use *before* returning the presentation (a copy is never
    /// presented twice under one-time use, even if the process dies; a signing failure spends
    /// no copy).
    ///
    /// # Errors
    /// `not_found`, `credential_exhausted`, `disclosure_unknown`, key manager and store
    /// errors.
    pub fn present(
        &self,
        batch: &str,
        pointers: &[&str],
        audience: &str,
        nonce: &str,
    ) -> Result<String> {
        let mut out = self.present_all(&[(batch, pointers)], audience, nonce)?;
        out.pop()
            .ok_or_else(|| WalletError::NotFound(format!("credential {batch:?}")).into())
    }

    /// Presents several credentials for one response (an OpenID4VP `vp_token`): picks a copy
    /// for each request (under one-time use, a different unused copy each time), signs every
    /// KB-JWT, and only when all succeeded records the uses and returns the presentations,
    /// in request order. A failure (a cancelled keystore prompt, a batch with too few
    /// copies) spends no copy.
    ///
    /// # Errors
    /// As [`Wallet::present`].
    pub fn present_all(
        &self,
        requests: &[(&str, &[&str])],
        audience: &str,
        nonce: &str,
    ) -> Result<Vec<String>> {
        let empty = Map::new();
        let with: Vec<(&str, &[&str], &Map<String, Value>)> =
            requests.iter().map(|(b, p)| (*b, *p, &empty)).collect();
        self.present_all_with(&with, audience, nonce)
    }

    /// As [`Wallet::present_all`], with further KB-JWT claims for each presentation (OpenID4VP
    /// `transaction_data_hashes`, B.3.3.1).
    ///
    /// # Errors
    /// As [`Wallet::present`].
    pub fn present_all_with(
        &self,
        requests: &[(&str, &[&str], &Map<String, Value>)],
        audience: &str,
        nonce: &str,
    ) -> Result<Vec<String>> {
        let mut picked: Vec<StoredCredential> = Vec::with_capacity(requests.len());
        let mut signed = Vec::with_capacity(requests.len());
        for (batch, pointers, extra) in requests {
            let copies = self.copies(batch)?;
            let uses = |c: &StoredCredential| {
                let here = picked.iter().filter(|p| p.id == c.id).count();
                c.presentations
                    .saturating_add(u64::try_from(here).unwrap_or(u64::MAX))
            };
            let chosen = match self.policy {
                UsePolicy::OneTimeUse => copies.iter().find(|c| uses(c) == 0),
                UsePolicy::RotateUse => copies.iter().min_by_key(|c| uses(c)),
            };
            let record = chosen
                .cloned()
                .ok_or_else(|| WalletError::Exhausted((*batch).to_owned()))?;
            let credential = Credential::from_trusted_storage(&record.sd_jwt, &Limits::default())?;
            let presentation = credential.present(pointers)?;
            let signer = ManagedKey::new(self.keys.clone(), &record.key_id)?;
            signed.push(presentation.with_key_binding_and_claims(
                &signer,
                audience,
                nonce,
                self.clock.now(),
                extra,
            )?);
            picked.push(record);
        }
        // Every use is committed before any presentation leaves the wallet.
        let mut counts: BTreeMap<String, (StoredCredential, u64)> = BTreeMap::new();
        for r in picked {
            counts.entry(r.id.clone()).or_insert((r, 0)).1 += 1;
        }
        for (_, (mut record, n)) in counts {
            record.presentations = record.presentations.saturating_add(n);
            self.store.update(&record)?;
        }
        Ok(signed)
    }
}
