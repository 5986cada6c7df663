//! The Wallet's side of DCQL (OpenID4VP 1.0 §6.4): which held credentials answer which
//! Credential Queries, under `credential_sets`, and which claims to disclose.

use serde_json::{Map, Value};

use super::{CredentialQuery, DcqlQuery, covered};
use crate::error::{DcqlError, Result};

/// A credential held by the Wallet, as DCQL sees it.
#[derive(Debug, Clone, Copy)]
pub struct CandidateCredential<'a> {
    /// The Wallet's identifier of the stored credential.
    pub id: &'a str,
    /// Its Credential Format Identifier (`dc+sd-jwt`).
    pub format: &'a str,
    /// Its `vct`.
    pub vct: &'a str,
    /// The processed payload with every Disclosure applied.
    pub claims: &'a Map<String, Value>,
    /// JSON Pointers of the claims that are selectively disclosable
    /// (see [`Credential::disclosable_claims`](crate::sd_jwt::Credential::disclosable_claims)).
    pub disclosable: &'a [String],
    /// Whether the credential supports Cryptographic Holder Binding (has a usable `cnf`).
    pub holder_binding: bool,
    /// Identifiers of the issuer's trust anchors, compared byte-for-byte with the `values` of
    /// `trusted_authorities` (§6.1.1): e.g. base64url Authority Key Identifiers of the `x5c`
    /// chain, Trusted List identifiers, federation Entity Identifiers.
    pub authority_ids: &'a [String],
}

/// One held credential that answers one Credential Query.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Match {
    /// The Credential Query's `id`.
    pub query_id: String,
    /// The candidate's [`id`](CandidateCredential::id).
    pub credential_id: String,
    /// JSON Pointers of the claims to present: exactly those selected by the query's claims
    /// paths (and `values`). Empty when the query has no `claims` (§6.4.1). Hand them to
    /// [`Credential::present`](crate::sd_jwt::Credential::present).
    pub disclose: Vec<String>,
    /// The chosen option of `claim_sets`, if the query has them.
    pub claim_set_index: Option<usize>,
    /// The selectively disclosable claims that presenting `disclose` reveals: the selected
    /// claims, everything beneath them and the ancestors needed to reach them. For consent
    /// screens, and the measure of disclosure between candidates.
    pub revealed: Vec<String>,
}

/// A Credential Query the Wallet should answer, with every held credential that can.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// The Credential Query's `id`.
    pub query_id: String,
    /// Whether the query is required (in a required credential set, or no `credential_sets`).
    /// An optional query may be left out.
    pub required: bool,
    /// The query's `multiple`: whether several of `candidates` may be presented together.
    pub multiple: bool,
    /// Every matching credential, best first (see [`CredentialQuery::matches`]), for the End-User
    /// to choose from.
    pub candidates: Vec<Match>,
    /// The proposed answer: the first of `candidates`.
    pub default: Match,
}

impl CredentialQuery {
    /// Whether `candidate` answers this query, and with what disclosure (§6.4): the format is
    /// `dc+sd-jwt` and equal, `vct` is one of `vct_values` (exact comparison, no `extends`),
    /// one `trusted_authorities` value (if any) is among the candidate's `authority_ids`,
    /// holder binding is available when required, and the claims requirements hold: every
    /// Claims Query selects something, or without `claim_sets` the first claim set whose
    /// claims all do.
    #[must_use]
    pub fn match_candidate(&self, candidate: &CandidateCredential<'_>) -> Option<Match> {
        if candidate.format != self.format || !self.accepts_vct(candidate.vct) {
            return None;
        }
        if let Some(authorities) = &self.trusted_authorities
            && !authorities
                .iter()
                .flat_map(|a| &a.values)
                .any(|v| candidate.authority_ids.contains(v))
        {
            return None;
        }
        if self.require_cryptographic_holder_binding && !candidate.holder_binding {
            return None;
        }
        let (claim_set_index, disclose) = self.select_claims(candidate.claims)?;
        let revealed = candidate
            .disclosable
            .iter()
            .filter(|d| covered(d, &disclose))
            .cloned()
            .collect();
        Some(Match {
            query_id: self.id.clone(),
            credential_id: candidate.id.to_owned(),
            disclose,
            claim_set_index,
            revealed,
        })
    }

    /// Every candidate that answers this query, best first: the Verifier's preferred claim
    /// set first, then the fewest selectively disclosable claims revealed, then the fewest
    /// pointers disclosed; ties keep the order of `candidates`.
    #[must_use]
    pub fn matches(&self, candidates: &[CandidateCredential<'_>]) -> Vec<Match> {
        let mut found: Vec<Match> = candidates
            .iter()
            .filter_map(|c| self.match_candidate(c))
            .collect();
        found.sort_by_key(|m| (m.claim_set_index, m.revealed.len(), m.disclose.len()));
        found
    }
}

impl DcqlQuery {
    /// Resolves the query against the Wallet's credentials (§6.4.2).
    ///
    /// Without `credential_sets` every Credential Query is required. With them, each required
    /// set is answered by its first option whose every query has a match, and each optional
    /// set likewise when one of its options can be satisfied. The result lists the chosen
    /// queries in request order, each with all matching credentials.
    ///
    /// # Errors
    /// `dcql_unsatisfiable` when a required query or credential set cannot be answered; per
    /// §6.4.2 the Wallet then must not return any credential.
    pub fn resolve(&self, candidates: &[CandidateCredential<'_>]) -> Result<Vec<Selection>> {
        let matches: Vec<Vec<Match>> = self
            .credentials
            .iter()
            .map(|q| q.matches(candidates))
            .collect();
        let has_match = |id: &str| {
            self.credentials
                .iter()
                .zip(&matches)
                .any(|(q, m)| q.id == id && !m.is_empty())
        };
        // For each query: None = not chosen, Some(required).
        let mut chosen: Vec<Option<bool>> = vec![None; self.credentials.len()];
        let mut failures = Vec::new();
        match &self.credential_sets {
            None => {
                for ((q, m), c) in self.credentials.iter().zip(&matches).zip(&mut chosen) {
                    if m.is_empty() {
                        failures.push(format!("no credential matches {:?}", q.id));
                    }
                    *c = Some(true);
                }
            }
            Some(sets) => {
                for (k, set) in sets.iter().enumerate() {
                    let option = set
                        .options
                        .iter()
                        .find(|o| o.iter().all(|id| has_match(id)));
                    match option {
                        Some(option) => {
                            for (q, c) in self.credentials.iter().zip(&mut chosen) {
                                if option.contains(&q.id) {
                                    *c = Some(c.unwrap_or(false) || set.required);
                                }
                            }
                        }
                        None if set.required => {
                            let mut missing: Vec<&String> = Vec::new();
                            for id in set.options.iter().flatten() {
                                if !has_match(id) && !missing.contains(&id) {
                                    missing.push(id);
                                }
                            }
                            failures.push(format!(
                                "no option of credential_sets[{k}] can be satisfied \
                                 (no credential matches {missing:?})"
                            ));
                        }
                        None => {}
                    }
                }
            }
        }
        if !failures.is_empty() {
            return Err(DcqlError::Unsatisfiable(failures.join("; ")).into());
        }
        Ok(self
            .credentials
            .iter()
            .zip(matches)
            .zip(chosen)
            .filter_map(|((q, candidates), required)| {
                let required = required?;
                let default = candidates.first()?.clone();
                Some(Selection {
                    query_id: q.id.clone(),
                    required,
                    multiple: q.multiple,
                    candidates,
                    default,
                })
            })
            .collect())
    }
}
