//! The Verifier's side of DCQL: checking that a VP Token answers the query (OpenID4VP 1.0
//! §6.4, §8.1 `vp_token`), after each presentation has been verified.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{CredentialQuery, DcqlQuery, FORMAT_DC_SD_JWT, covered};
use crate::error::{DcqlError, Error, Result};

/// A verified `dc+sd-jwt` presentation, as DCQL sees it.
#[derive(Debug, Clone, Copy)]
pub struct PresentedCredential<'a> {
    /// Its `vct`.
    pub vct: &'a str,
    /// The processed, verified payload.
    pub claims: &'a Map<String, Value>,
    /// JSON Pointers of the claims that were selectively disclosed
    /// (see [`VerifiedSdJwt::disclosed`](crate::sd_jwt::VerifiedSdJwt::disclosed)).
    pub disclosed: &'a [String],
    /// Whether a Key Binding JWT was presented and verified.
    pub holder_binding: bool,
}

/// A Credential Query answered by the response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnsweredQuery {
    /// The Credential Query's `id`.
    pub query_id: String,
    /// For each presentation, in order: the claim set it satisfies (the first one, when the
    /// query has `claim_sets`).
    pub claim_set_index: Vec<Option<usize>>,
}

/// What [`DcqlQuery::check_response`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseCheck {
    /// The answered Credential Queries, in request order.
    pub answered: Vec<AnsweredQuery>,
    /// `(query id, JSON Pointer)` of each selectively disclosed claim that the query did not
    /// request: not selected by a claims path of the satisfied claims, not beneath one and
    /// not an ancestor needed to reach one. A query without `claims` requests none (§6.4.1).
    /// §6.4 allows a presentation to carry more when the same credential answers another
    /// Credential Query of the request that asked for those claims.
    pub over_disclosure: Vec<(String, String)>,
}

impl ResponseCheck {
    /// Fails when the Wallet disclosed claims that were not requested.
    ///
    /// # Errors
    /// `dcql_response_mismatch` listing the query ids and pointers.
    pub fn deny_over_disclosure(&self) -> Result<()> {
        if self.over_disclosure.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = self
            .over_disclosure
            .iter()
            .map(|(q, p)| format!("{q}:{p}"))
            .collect();
        Err(mismatch(format!(
            "claims were disclosed that no query requested: {}",
            list.join(", ")
        )))
    }
}

fn mismatch(msg: String) -> Error {
    DcqlError::ResponseMismatch(msg).into()
}

impl DcqlQuery {
    /// Checks a response against the query. `presented` maps Credential Query ids to the
    /// verified presentations of the `vp_token` entry (§8.1), each already verified
    /// (signature, key binding, issuer trust, status) by the caller.
    ///
    /// Checked: every key is a Credential Query of a `dc+sd-jwt` format; each entry holds one
    /// presentation, or several with `multiple`; each presentation has an accepted `vct`, key
    /// binding when `require_cryptographic_holder_binding`, and satisfies `claims` /
    /// `claim_sets` including `values`; all queries are answered without `credential_sets`,
    /// else each required set by one of its options, and no query outside every set is
    /// answered. Over-disclosure is reported, not refused (see
    /// [`ResponseCheck::deny_over_disclosure`]).
    ///
    /// The Verifier's processed payload lacks undisclosed array elements, so the elements
    /// after them move up: a claims path with an array index (`["nationalities", 1]`) into an
    /// array with selectively disclosable elements may not find on this side the element the
    /// Wallet selected. Paths with `null` and `values` do not have this problem.
    ///
    /// # Errors
    /// `dcql_response_mismatch` describing the first violation.
    pub fn check_response(
        &self,
        presented: &BTreeMap<String, Vec<PresentedCredential<'_>>>,
    ) -> Result<ResponseCheck> {
        let mut over_disclosure = Vec::new();
        let mut answered = Vec::new();
        for (id, list) in presented {
            let Some(query) = self.credential(id) else {
                return Err(mismatch(format!(
                    "the response answers {id:?}, which is no Credential Query of the request"
                )));
            };
            let claim_set_index = check_entry(query, list, &mut over_disclosure)?;
            answered.push(AnsweredQuery {
                query_id: id.clone(),
                claim_set_index,
            });
        }
        let is_answered = |id: &String| presented.contains_key(id);
        match &self.credential_sets {
            None => {
                if let Some(q) = self.credentials.iter().find(|q| !is_answered(&q.id)) {
                    return Err(mismatch(format!(
                        "the response does not answer the required Credential Query {:?}",
                        q.id
                    )));
                }
            }
            Some(sets) => {
                for (k, set) in sets.iter().enumerate() {
                    if set.required && !set.options.iter().any(|o| o.iter().all(is_answered)) {
                        return Err(mismatch(format!(
                            "the response satisfies no option of the required credential_sets[{k}]"
                        )));
                    }
                }
                if let Some(id) = presented.keys().find(|id| {
                    !sets
                        .iter()
                        .flat_map(|s| &s.options)
                        .flatten()
                        .any(|o| o == *id)
                }) {
                    return Err(mismatch(format!(
                        "the response answers {id:?}, which no credential set requests"
                    )));
                }
            }
        }
        let order = |id: &str| self.credentials.iter().position(|q| q.id == id);
        answered.sort_by_key(|a| order(&a.query_id));
        over_disclosure.sort_by_key(|(q, _)| order(q));
        Ok(ResponseCheck {
            answered,
            over_disclosure,
        })
    }
}

/// Checks the presentations answering one Credential Query.
fn check_entry(
    query: &CredentialQuery,
    list: &[PresentedCredential<'_>],
    over_disclosure: &mut Vec<(String, String)>,
) -> Result<Vec<Option<usize>>> {
    let id = &query.id;
    if query.format != FORMAT_DC_SD_JWT {
        return Err(mismatch(format!(
            "{id:?} requests format {:?}; only dc+sd-jwt presentations can be checked",
            query.format
        )));
    }
    if list.is_empty() {
        return Err(mismatch(format!("{id:?} is answered by no presentation")));
    }
    if list.len() > 1 && !query.multiple {
        return Err(mismatch(format!(
            "{id:?} is answered by {} presentations but does not allow multiple",
            list.len()
        )));
    }
    let mut claim_set_index = Vec::with_capacity(list.len());
    for (n, p) in list.iter().enumerate() {
        if !query.accepts_vct(p.vct) {
            return Err(mismatch(format!(
                "{id:?}[{n}] has vct {:?}, not one of the requested vct_values",
                p.vct
            )));
        }
        if query.require_cryptographic_holder_binding && !p.holder_binding {
            return Err(mismatch(format!(
                "{id:?}[{n}] lacks the required cryptographic holder binding"
            )));
        }
        let Some((set, selected)) = query.select_claims(p.claims) else {
            return Err(mismatch(format!(
                "{id:?}[{n}] does not deliver the requested claims: {}",
                unmet(query, p.claims)
            )));
        };
        claim_set_index.push(set);
        for d in p.disclosed {
            if !covered(d, &selected) {
                over_disclosure.push((id.clone(), d.clone()));
            }
        }
    }
    Ok(claim_set_index)
}

/// Which Claims Queries select nothing (paths and ids only, never claim values).
fn unmet(query: &CredentialQuery, claims: &Map<String, Value>) -> String {
    let missing: Vec<String> = query
        .claims
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| c.select(claims).is_none())
        .map(|(j, c)| match &c.id {
            Some(cid) => format!("claims[{j}] ({cid}) {}", c.path),
            None => format!("claims[{j}] {}", c.path),
        })
        .collect();
    if query.claim_sets.is_some() {
        format!("no claim set is satisfied; unmet: {}", missing.join(", "))
    } else {
        format!("unmet: {}", missing.join(", "))
    }
}
