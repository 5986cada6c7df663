//! DCQL, the Digital Credentials Query Language of OpenID for Verifiable Presentations 1.0
//! (§6 "Digital Credentials Query Language", §7 "Claims Path Pointer", Appendix B "IETF SD-JWT
//! VC"): parsing with full validation, the Wallet's matching of held credentials and the
//! Verifier's check of a response.
//!
//! - [`DcqlQuery::parse`] validates a query against §6: Credential Queries (§6.1), Trusted
//!   Authorities Queries (§6.1.1), Credential Set Queries (§6.2), Claims Queries (§6.3) and the
//!   format-specific `meta` (`vct_values` for `dc+sd-jwt`, `doctype_value` for `mso_mdoc`,
//!   `type_values` for `jwt_vc_json` / `ldp_vc`). Unknown properties are ignored; any
//!   violation is `dcql_invalid` with the location of the offending member.
//! - [`CredentialQuery::match_candidate`] and [`DcqlQuery::resolve`] are the Wallet's side
//!   (§6.4): which held credentials answer which queries, under `credential_sets`, and what to
//!   disclose. Only `dc+sd-jwt` is matched; queries for other formats parse but never match.
//! - [`DcqlQuery::check_response`] is the Verifier's side: every required query answered,
//!   `multiple`, `vct`, holder binding, claims and `values`, and a report of disclosed claims
//!   that no query asked for. The Verifier must not rely on the Wallet to enforce the query
//!   (Security Considerations, "Security Checks on the Returned Credentials and
//!   Presentations"), hence this check. Issuer trust remains the caller's to verify.
//!
//! Claims are selected with [`ClaimPath`] (§7, the same semantics as SD-JWT VC Type
//! Metadata). Following §7.1, a path that selects nothing, or that applies a key to a
//! non-object or an index to a non-array, does not match. A Claims Query with `values`
//! selects only the elements whose type and value equal one of the values (§6.3, §6.4.1: a
//! claim that does not match is treated as if it did not exist).
//!
//! Selection of claims follows §6.4.1 of the final specification: a Credential Query without
//! `claims` requests **no** selectively disclosable claim (only what is mandatory to present),
//! so such a match discloses nothing.

mod builder;
mod parse;
mod verifier;
mod wallet;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::sd_jwt::pointer;
use crate::sd_jwt_vc::claim_path::ClaimPath;

pub use builder::{ClaimsQueryBuilder, CredentialQueryBuilder, DcqlQueryBuilder};
pub use verifier::{AnsweredQuery, PresentedCredential, ResponseCheck};
pub use wallet::{CandidateCredential, Match, Selection};

/// The Credential Format Identifier of IETF SD-JWT VC (Appendix B, "IETF SD-JWT VC"), the one
/// format this module matches.
pub const FORMAT_DC_SD_JWT: &str = crate::sd_jwt_vc::DC_SD_JWT_TYP;

/// The Credential Format Identifier of ISO mdocs (Appendix B, "Mobile Documents
/// or mdocs").
pub const FORMAT_MSO_MDOC: &str = "mso_mdoc";

/// The Credential Format Identifier of W3C VCs secured as JWTs without JSON-LD (Appendix B,
/// "VC signed as a JWT, not using JSON-LD").
pub const FORMAT_JWT_VC_JSON: &str = "jwt_vc_json";

/// The Credential Format Identifier of W3C VCs secured with Data Integrity (Appendix B, "LDP
/// VCs").
pub const FORMAT_LDP_VC: &str = "ldp_vc";

/// A validated DCQL query (§6).
#[derive(Debug, Clone, PartialEq)]
pub struct DcqlQuery {
    credentials: Vec<CredentialQuery>,
    credential_sets: Option<Vec<CredentialSetQuery>>,
}

/// A Credential Query (§6.1): a request for one or more presentations of matching credentials.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CredentialQuery {
    /// `id`: non-empty, `[A-Za-z0-9_-]+`, unique within the query.
    pub id: String,
    /// `format`: the Credential Format Identifier.
    pub format: String,
    /// `multiple`: whether several credentials may answer this query (default `false`).
    pub multiple: bool,
    /// `meta`, as received (validated for the formats this module knows).
    pub meta: Map<String, Value>,
    /// `meta.vct_values` for `dc+sd-jwt` (non-empty); empty for every other format.
    pub vct_values: Vec<String>,
    /// `trusted_authorities`, when present (non-empty).
    pub trusted_authorities: Option<Vec<TrustedAuthority>>,
    /// `require_cryptographic_holder_binding` (default `true`).
    pub require_cryptographic_holder_binding: bool,
    /// `claims`, when present (non-empty).
    pub claims: Option<Vec<ClaimsQuery>>,
    /// `claim_sets`, when present: non-empty options of claim ids, most preferred first.
    pub claim_sets: Option<Vec<Vec<String>>>,
}

/// A Trusted Authorities Query (§6.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedAuthority {
    /// `type`, e.g. `aki`, `etsi_tl` or `openid_federation`.
    pub kind: String,
    /// `values`: non-empty strings, at least one.
    pub values: Vec<String>,
}

/// A Credential Set Query (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialSetQuery {
    /// `options`: each a non-empty list of Credential Query ids that together satisfy the set.
    pub options: Vec<Vec<String>>,
    /// `required` (default `true`).
    pub required: bool,
}

/// A Claims Query (§6.3).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimsQuery {
    /// `id`: required when the Credential Query has `claim_sets`.
    pub id: Option<String>,
    /// `path`: the claims path pointer (§7).
    pub path: ClaimPath,
    /// `values`: strings, integers and booleans, at least one.
    pub values: Option<Vec<Value>>,
    /// `intent_to_retain` (mdoc only, Appendix B "Parameter in the Claims Query").
    pub intent_to_retain: Option<bool>,
}

impl DcqlQuery {
    /// Parses and validates a DCQL query (§6).
    ///
    /// # Errors
    /// `dcql_invalid` naming the offending member when the query violates §6 or the
    /// format-specific rules of Appendix B.
    pub fn parse(json: &Value) -> Result<Self> {
        parse::query(json)
    }

    /// The Credential Queries, in request order.
    #[must_use]
    pub fn credentials(&self) -> &[CredentialQuery] {
        &self.credentials
    }

    /// The Credential Set Queries, when present.
    #[must_use]
    pub fn credential_sets(&self) -> Option<&[CredentialSetQuery]> {
        self.credential_sets.as_deref()
    }

    /// The Credential Query with this `id`.
    #[must_use]
    pub fn credential(&self, id: &str) -> Option<&CredentialQuery> {
        self.credentials.iter().find(|q| q.id == id)
    }
}

impl ClaimsQuery {
    /// The JSON Pointers of the claims this query selects in `claims`: those reached by
    /// `path` (§7.1) whose value equals one of `values`, if given. `None` when nothing is
    /// selected or the path does not apply to the claims' shape.
    #[must_use]
    pub fn select(&self, claims: &Map<String, Value>) -> Option<Vec<String>> {
        let selected = self.path.select(claims).ok()?;
        let pointers: Vec<String> = selected
            .into_iter()
            .filter(|(_, v)| self.values.as_ref().is_none_or(|vals| vals.contains(*v)))
            .map(|(p, _)| p)
            .collect();
        (!pointers.is_empty()).then_some(pointers)
    }
}

impl CredentialQuery {
    /// Applies `claims` and `claim_sets` to a credential's processed payload (§6.4.1).
    ///
    /// Returns the chosen claim set (its index in `claim_sets`, `None` without
    /// `claim_sets`) and the pointers of the selected claims, or `None` when the credential
    /// cannot deliver what is requested. Without `claims` nothing is selected.
    #[must_use]
    pub fn select_claims(
        &self,
        claims: &Map<String, Value>,
    ) -> Option<(Option<usize>, Vec<String>)> {
        let Some(queries) = &self.claims else {
            return Some((None, Vec::new()));
        };
        let Some(sets) = &self.claim_sets else {
            let mut out = Vec::new();
            for q in queries {
                extend_unique(&mut out, q.select(claims)?);
            }
            return Some((None, out));
        };
        let results: Vec<(Option<&str>, Option<Vec<String>>)> = queries
            .iter()
            .map(|q| (q.id.as_deref(), q.select(claims)))
            .collect();
        'sets: for (k, set) in sets.iter().enumerate() {
            let mut out = Vec::new();
            for id in set {
                let selected = results
                    .iter()
                    .find(|(qid, _)| *qid == Some(id.as_str()))
                    .and_then(|(_, r)| r.as_ref());
                match selected {
                    Some(pointers) => extend_unique(&mut out, pointers.iter().cloned()),
                    None => continue 'sets,
                }
            }
            return Some((Some(k), out));
        }
        None
    }

    /// Whether this query is for `dc+sd-jwt` with `vct` among `vct_values`.
    fn accepts_vct(&self, vct: &str) -> bool {
        self.format == FORMAT_DC_SD_JWT && self.vct_values.iter().any(|v| v == vct)
    }
}

/// Appends the pointers not yet in `out`, keeping order.
fn extend_unique(out: &mut Vec<String>, pointers: impl IntoIterator<Item = String>) {
    for p in pointers {
        if !out.contains(&p) {
            out.push(p);
        }
    }
}

/// Whether presenting `selected` legitimately reveals `pointer`: it is a selected claim, lies
/// beneath one (a selected object is disclosed whole), or is an ancestor that must be
/// disclosed to reach one.
fn covered(pointer: &str, selected: &[String]) -> bool {
    selected
        .iter()
        .any(|s| pointer::is_within(pointer, s) || pointer::is_within(s, pointer))
}
