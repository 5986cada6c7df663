//! Credential Issuer Metadata (OpenID4VCI 1.0 §12.2) and OAuth Authorization Server Metadata
//! (RFC 8414), as a wallet reads them: the well-known URLs (§12.2.2, RFC 8414 §3), the exact
//! identifier match (§12.2.4, RFC 8414 §3.3; ATTACKS VCI-11, VCI-12), `https` endpoints only
//! (VCI-15), unknown parameters ignored. A configuration that is malformed does not spoil
//! the others (oid4vc-ts #121): it fails only when it is the one asked for.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{MAX_MESSAGE_LEN, check_issuer_id};
use crate::error::{Oid4vciError, Result};

fn invalid(m: impl Into<String>) -> crate::Error {
    Oid4vciError::InvalidMetadata(m.into()).into()
}

/// The well-known suffix of Credential Issuer Metadata (§12.2.2).
pub const ISSUER_WELL_KNOWN: &str = "/.well-known/openid-credential-issuer";
/// The well-known suffix of Authorization Server Metadata (RFC 8414 §3).
pub const AS_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// `suffix` inserted between the host and the path of `identifier`; with `drop_slash` a
/// terminating `/` of the path is removed first (RFC 8414 §3).
fn well_known(identifier: &str, suffix: &str, drop_slash: bool) -> Result<String> {
    check_issuer_id(identifier)?;
    let rest = identifier.strip_prefix("https://").unwrap_or(identifier);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let path = if drop_slash {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    Ok(format!("https://{authority}{suffix}{path}"))
}

/// The Credential Issuer Metadata URL of `credential_issuer` (§12.2.2): the suffix goes
/// between host and path, never appended (eudi-lib-jvm #298).
///
/// # Errors
/// `invalid_metadata` for an identifier that is not a valid Credential Issuer Identifier.
pub fn issuer_metadata_url(credential_issuer: &str) -> Result<String> {
    well_known(credential_issuer, ISSUER_WELL_KNOWN, false)
}

/// The Authorization Server Metadata URL of `issuer` (RFC 8414 §3), a terminating `/` of
/// the path removed.
///
/// # Errors
/// `invalid_metadata`.
pub fn as_metadata_url(issuer: &str) -> Result<String> {
    well_known(issuer, AS_WELL_KNOWN, true)
}

/// An endpoint URL: absolute `https`, a host, no userinfo, no fragment (VCI-15).
fn endpoint(o: &Map<String, Value>, name: &str, required: bool) -> Result<Option<String>> {
    match o.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(invalid(format!("{name} is required"))),
        Some(Value::String(u)) => {
            let rest = u
                .strip_prefix("https://")
                .ok_or_else(|| invalid(format!("{name} must be an absolute https URL")))?;
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if authority.is_empty() || authority.contains('@') || u.contains('#') {
                return Err(invalid(format!("{name} is not a valid https URL")));
            }
            Ok(Some(u.clone()))
        }
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

fn strings(o: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{name} must hold strings")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(invalid(format!("{name} must be an array"))),
    }
}

/// One entry of `credential_configurations_supported` (§12.2.4, A.3.2).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CredentialConfiguration {
    /// Its id.
    pub id: String,
    /// `format` (`dc+sd-jwt`, `mso_mdoc`, ...).
    pub format: String,
    /// `vct` of a `dc+sd-jwt` configuration.
    pub vct: Option<String>,
    /// `doctype` of an `mso_mdoc` configuration.
    pub doctype: Option<String>,
    /// The OAuth scope that requests it.
    pub scope: Option<String>,
    /// `cryptographic_binding_methods_supported` (empty: not key bound).
    pub binding_methods: Vec<String>,
    /// `proof_types_supported.jwt.proof_signing_alg_values_supported`, when `jwt` proofs are
    /// supported.
    pub jwt_proof_algs: Option<Vec<String>>,
    /// Whether `key_attestations_required` is present (for `jwt` proofs).
    pub key_attestations_required: bool,
    /// The first `credential_metadata.display[].name`, as untrusted display text.
    pub display_name: Option<String>,
    /// The entry as received.
    pub raw: Map<String, Value>,
}

impl CredentialConfiguration {
    fn parse(id: &str, v: &Value) -> Result<Self> {
        let o = v
            .as_object()
            .ok_or_else(|| invalid(format!("configuration {id:?} is not an object")))?;
        let text = |name: &str| -> Result<Option<String>> {
            match o.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("{id}: {name} must be a string"))),
            }
        };
        let format = text("format")?.ok_or_else(|| invalid(format!("{id}: format is required")))?;
        let vct = text("vct")?;
        let doctype = text("doctype")?;
        if format == super::FORMAT_SD_JWT_VC && vct.is_none() {
            return Err(invalid(format!(
                "{id}: a dc+sd-jwt configuration needs vct"
            )));
        }
        if format == super::FORMAT_MDOC && doctype.is_none() {
            return Err(invalid(format!(
                "{id}: an mso_mdoc configuration needs doctype"
            )));
        }
        let binding_methods =
            strings(o, "cryptographic_binding_methods_supported")?.unwrap_or_default();
        let mut jwt_proof_algs = None;
        let mut key_attestations_required = false;
        match o.get("proof_types_supported") {
            None => {
                if !binding_methods.is_empty() {
                    return Err(invalid(format!(
                        "{id}: binding methods without proof_types_supported"
                    )));
                }
            }
            Some(Value::Object(types)) => {
                if let Some(jwt) = types.get("jwt") {
                    let jwt = jwt
                        .as_object()
                        .ok_or_else(|| invalid(format!("{id}: proof type jwt is not an object")))?;
                    jwt_proof_algs = Some(
                        strings(jwt, "proof_signing_alg_values_supported")?.ok_or_else(|| {
                            invalid(format!(
                                "{id}: proof_signing_alg_values_supported is required"
                            ))
                        })?,
                    );
                    key_attestations_required = jwt.contains_key("key_attestations_required");
                }
            }
            Some(_) => {
                return Err(invalid(format!(
                    "{id}: proof_types_supported must be an object"
                )));
            }
        }
        check_claims_descriptions(id, o)?;
        let display_name = o
            .get("credential_metadata")
            .and_then(|m| m.get("display"))
            .or_else(|| o.get("display"))
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            id: id.to_owned(),
            format,
            vct,
            doctype,
            scope: text("scope")?,
            binding_methods,
            jwt_proof_algs,
            key_attestations_required,
            display_name,
            raw: o.clone(),
        })
    }

    /// Whether the credential is bound to a holder key (and so needs proofs).
    #[must_use]
    pub fn is_key_bound(&self) -> bool {
        !self.binding_methods.is_empty()
    }
}

/// One element of a claims path pointer (B.1, C.1.1): a claim name, an array index, or
/// `null` for all elements of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathElement {
    Name(String),
    Index(u64),
    All,
}

/// Processes `credential_metadata.claims` (B.2, B.3): every entry needs a non-empty
/// `path` of names, indices and `null`, and processing aborts on a claim described twice or
/// on contradictory descriptions (an object member and an array element at the same place,
/// or `null` and an index in the same array), so that a consent screen never shows what the
/// issuer did not unambiguously describe (ATTACKS VCI-18).
fn check_claims_descriptions(id: &str, o: &Map<String, Value>) -> Result<()> {
    let Some(claims) = o.get("credential_metadata").and_then(|m| m.get("claims")) else {
        return Ok(());
    };
    let claims = claims
        .as_array()
        .ok_or_else(|| invalid(format!("{id}: credential_metadata.claims must be an array")))?;
    let mut paths: Vec<Vec<PathElement>> = Vec::with_capacity(claims.len());
    for c in claims {
        let path = c
            .get("path")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid(format!("{id}: a claims entry needs a non-empty path")))?;
        let mut parsed = Vec::with_capacity(path.len());
        for e in path {
            parsed.push(match e {
                Value::String(n) => PathElement::Name(n.clone()),
                Value::Null => PathElement::All,
                Value::Number(n) => PathElement::Index(n.as_u64().ok_or_else(|| {
                    invalid(format!("{id}: a path index must be a non-negative integer"))
                })?),
                _ => return Err(invalid(format!("{id}: invalid claims path element {e}"))),
            });
        }
        for other in &paths {
            if *other == parsed {
                return Err(invalid(format!(
                    "{id}: the claim {path:?} is described twice"
                )));
            }
            for (a, b) in other.iter().zip(&parsed) {
                match (a, b) {
                    (PathElement::Name(x), PathElement::Name(y)) if x != y => break,
                    (PathElement::Index(x), PathElement::Index(y)) if x != y => break,
                    (PathElement::Name(_), PathElement::Name(_))
                    | (PathElement::Index(_), PathElement::Index(_))
                    | (PathElement::All, PathElement::All) => {}
                    _ => {
                        return Err(invalid(format!(
                            "{id}: contradictory claims descriptions at {path:?}"
                        )));
                    }
                }
            }
        }
        paths.push(parsed);
    }
    Ok(())
}

/// `credential_response_encryption` of the issuer metadata (§12.2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseEncryption {
    /// `alg_values_supported`.
    pub algs: Vec<String>,
    /// `enc_values_supported`.
    pub encs: Vec<String>,
    /// `encryption_required`.
    pub required: bool,
}

/// `credential_request_encryption` of the issuer metadata (§12.2.4): a JWK Set whose keys
/// each have a unique `kid` (⚠ the final text's bare-array example is refused; errata PR
/// #711), the `enc` values, and whether encryption is required.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestEncryption {
    /// The P-256 `ECDH-ES` keys credkit can encrypt to (others in the set are skipped).
    pub keys: Vec<crate::jose::PublicJwk>,
    /// `enc_values_supported`.
    pub encs: Vec<String>,
    /// `encryption_required`.
    pub required: bool,
}

impl RequestEncryption {
    fn parse(v: &Value) -> Result<Self> {
        let o = v
            .as_object()
            .ok_or_else(|| invalid("credential_request_encryption must be an object"))?;
        let set = o
            .get("jwks")
            .and_then(Value::as_object)
            .and_then(|j| j.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("credential_request_encryption.jwks must be a JWK Set"))?;
        let mut kids = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        for k in set {
            let k = k
                .as_object()
                .ok_or_else(|| invalid("a JWK of the set is not an object"))?;
            let kid = k
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("every JWK of credential_request_encryption needs a kid"))?;
            if !kids.insert(kid.to_owned()) {
                return Err(invalid(format!("the kid {kid:?} appears twice")));
            }
            if k.get("alg").and_then(Value::as_str) != Some(crate::jose::jwe::ECDH_ES) {
                continue;
            }
            if let Ok(key) = crate::jose::PublicJwk::from_json_for_encryption(k)
                && key.curve() == crate::jose::Curve::P256
            {
                keys.push(key.with_kid(kid));
            }
        }
        Ok(Self {
            keys,
            encs: strings(o, "enc_values_supported")?
                .ok_or_else(|| invalid("enc_values_supported is required"))?,
            required: o
                .get("encryption_required")
                .and_then(Value::as_bool)
                .ok_or_else(|| invalid("encryption_required is required"))?,
        })
    }
}

/// Credential Issuer Metadata that passed §12.2.4.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IssuerMetadata {
    /// `credential_issuer`, equal to the identifier it was fetched for.
    pub credential_issuer: String,
    /// `authorization_servers`; absent: the issuer is its own AS.
    pub authorization_servers: Option<Vec<String>>,
    /// `credential_endpoint`.
    pub credential_endpoint: String,
    /// `nonce_endpoint`.
    pub nonce_endpoint: Option<String>,
    /// `deferred_credential_endpoint`.
    pub deferred_credential_endpoint: Option<String>,
    /// `notification_endpoint`.
    pub notification_endpoint: Option<String>,
    /// `batch_credential_issuance.batch_size` (≥ 2); `None`: one proof per request.
    pub batch_size: Option<usize>,
    /// `credential_response_encryption`.
    pub response_encryption: Option<ResponseEncryption>,
    /// `credential_request_encryption`: the issuer's keys for encrypted requests.
    pub request_encryption: Option<RequestEncryption>,
    configurations: BTreeMap<String, std::result::Result<CredentialConfiguration, String>>,
    /// The document as received.
    pub raw: Map<String, Value>,
}

impl IssuerMetadata {
    /// Parses the metadata fetched for `expected_issuer`.
    ///
    /// # Errors
    /// `metadata_issuer_mismatch` when `credential_issuer` is not `expected_issuer` (byte
    /// for byte); `invalid_metadata`; JSON errors.
    pub fn from_json(bytes: &[u8], expected_issuer: &str) -> Result<Self> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(invalid("the metadata is too large"));
        }
        let o = crate::json::parse_object(bytes, 32, "credential issuer metadata")?;
        Self::from_object(o, expected_issuer)
    }

    fn from_object(o: Map<String, Value>, expected_issuer: &str) -> Result<Self> {
        let issuer = o
            .get("credential_issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("credential_issuer is required"))?;
        if issuer != expected_issuer {
            return Err(Oid4vciError::MetadataIssuerMismatch(format!(
                "the metadata is for {issuer:?}, fetched for {expected_issuer:?}"
            ))
            .into());
        }
        let authorization_servers = strings(&o, "authorization_servers")?;
        if let Some(servers) = &authorization_servers {
            if servers.is_empty() {
                return Err(invalid("authorization_servers is empty"));
            }
            for s in servers {
                check_issuer_id(s)?;
            }
        }
        let batch_size = match o.get("batch_credential_issuance") {
            None => None,
            Some(b) => Some(
                b.get("batch_size")
                    .and_then(Value::as_u64)
                    .filter(|n| *n >= 2)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid("batch_size must be an integer of at least 2"))?,
            ),
        };
        let response_encryption = match o.get("credential_response_encryption") {
            None => None,
            Some(Value::Object(e)) => Some(ResponseEncryption {
                algs: strings(e, "alg_values_supported")?
                    .ok_or_else(|| invalid("alg_values_supported is required"))?,
                encs: strings(e, "enc_values_supported")?
                    .ok_or_else(|| invalid("enc_values_supported is required"))?,
                required: e
                    .get("encryption_required")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| invalid("encryption_required is required"))?,
            }),
            Some(_) => return Err(invalid("credential_response_encryption must be an object")),
        };
        let configs = o
            .get("credential_configurations_supported")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("credential_configurations_supported must be an object"))?;
        let configurations = configs
            .iter()
            .map(|(id, v)| {
                (
                    id.clone(),
                    CredentialConfiguration::parse(id, v).map_err(|e| e.to_string()),
                )
            })
            .collect();
        Ok(Self {
            credential_issuer: issuer.to_owned(),
            authorization_servers,
            credential_endpoint: endpoint(&o, "credential_endpoint", true)?.unwrap_or_default(),
            nonce_endpoint: endpoint(&o, "nonce_endpoint", false)?,
            deferred_credential_endpoint: endpoint(&o, "deferred_credential_endpoint", false)?,
            notification_endpoint: endpoint(&o, "notification_endpoint", false)?,
            batch_size,
            response_encryption,
            request_encryption: match o.get("credential_request_encryption") {
                None => None,
                Some(v) => Some(RequestEncryption::parse(v)?),
            },
            configurations,
            raw: o,
        })
    }

    /// The configuration `id`.
    ///
    /// # Errors
    /// `invalid_metadata` when it is missing or malformed.
    pub fn configuration(&self, id: &str) -> Result<&CredentialConfiguration> {
        match self.configurations.get(id) {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(invalid(e.clone())),
            None => Err(invalid(format!("the issuer has no configuration {id:?}"))),
        }
    }

    /// The ids of the configurations, well formed or not.
    pub fn configuration_ids(&self) -> impl Iterator<Item = &str> {
        self.configurations.keys().map(String::as_str)
    }

    /// The Authorization Server to use: the offer's hint (which must be listed, and is not
    /// allowed when only one is listed; §4.1.1, ATTACKS VCI-05), else the first listed, else
    /// the issuer itself.
    ///
    /// # Errors
    /// `invalid_offer` for a hint that does not fit.
    pub fn authorization_server(&self, hint: Option<&str>) -> Result<String> {
        match (&self.authorization_servers, hint) {
            (None, None) => Ok(self.credential_issuer.clone()),
            (None, Some(h)) if h == self.credential_issuer => Ok(h.to_owned()),
            (Some(list), Some(h)) if list.len() > 1 && list.iter().any(|s| s == h) => {
                Ok(h.to_owned())
            }
            (Some(list), None) => list
                .first()
                .cloned()
                .ok_or_else(|| invalid("authorization_servers is empty")),
            _ => Err(Oid4vciError::InvalidOffer(
                "the offer's authorization_server hint is not usable with this issuer".into(),
            )
            .into()),
        }
    }
}

/// Authorization Server Metadata (RFC 8414 §2) that passed §3.3.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuthServerMetadata {
    /// `issuer`, equal to the identifier it was fetched for.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `pushed_authorization_request_endpoint` (RFC 9126 §5).
    pub par_endpoint: Option<String>,
    /// `require_pushed_authorization_requests`.
    pub require_par: bool,
    /// `code_challenge_methods_supported`.
    pub code_challenge_methods: Vec<String>,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1); `None`: no DPoP.
    pub dpop_algs: Option<Vec<String>>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3).
    pub iss_parameter_supported: bool,
    /// `grant_types_supported` (default `authorization_code`, `implicit`).
    pub grant_types: Vec<String>,
    /// `pre-authorized_grant_anonymous_access_supported` (§12.3).
    pub pre_authorized_anonymous: bool,
    /// `challenge_endpoint` (ABCA-07 §8).
    pub challenge_endpoint: Option<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_auth_methods: Vec<String>,
    /// The document as received.
    pub raw: Map<String, Value>,
}

impl AuthServerMetadata {
    /// Parses the metadata fetched for `expected_issuer`.
    ///
    /// # Errors
    /// `metadata_issuer_mismatch`, `invalid_metadata`, JSON errors.
    pub fn from_json(bytes: &[u8], expected_issuer: &str) -> Result<Self> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(invalid("the metadata is too large"));
        }
        let o = crate::json::parse_object(bytes, 32, "authorization server metadata")?;
        let issuer = o
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("issuer is required"))?;
        if issuer != expected_issuer {
            return Err(Oid4vciError::MetadataIssuerMismatch(format!(
                "the authorization server metadata is for {issuer:?}, fetched for {expected_issuer:?}"
            ))
            .into());
        }
        let token_endpoint = endpoint(&o, "token_endpoint", true)?.unwrap_or_default();
        Ok(Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: endpoint(&o, "authorization_endpoint", false)?,
            token_endpoint,
            par_endpoint: endpoint(&o, "pushed_authorization_request_endpoint", false)?,
            require_par: o
                .get("require_pushed_authorization_requests")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            code_challenge_methods: strings(&o, "code_challenge_methods_supported")?
                .unwrap_or_default(),
            dpop_algs: strings(&o, "dpop_signing_alg_values_supported")?,
            iss_parameter_supported: o
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            grant_types: strings(&o, "grant_types_supported")?
                .unwrap_or_else(|| vec!["authorization_code".to_owned(), "implicit".to_owned()]),
            pre_authorized_anonymous: o
                .get("pre-authorized_grant_anonymous_access_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            challenge_endpoint: endpoint(&o, "challenge_endpoint", false)?,
            token_auth_methods: strings(&o, "token_endpoint_auth_methods_supported")?
                .unwrap_or_default(),
            raw: o,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(claims: Value) -> Result<CredentialConfiguration> {
        CredentialConfiguration::parse(
            "pid",
            &json!({"format": "dc+sd-jwt", "vct": "urn:eudi:pid:1", "credential_metadata": {"claims": claims}}),
        )
    }

    #[test]
    fn claims_descriptions_abort_on_repeats_and_contradictions() {
        config(json!([
            {"path": ["given_name"]},
            {"path": ["address"]},
            {"path": ["address", "locality"]},
            {"path": ["nationalities", null]},
            {"path": ["degrees", 0, "type"]},
            {"path": ["degrees", 1]},
        ]))
        .unwrap();
        for bad in [
            json!([{"path": ["given_name"]}, {"path": ["given_name"]}]),
            json!([{"path": ["degrees", null]}, {"path": ["degrees", 0]}]),
            json!([{"path": ["address", "locality"]}, {"path": ["address", 0]}]),
            json!([{"path": []}]),
            json!([{"path": ["a", -1]}]),
            json!([{"path": ["a", true]}]),
            json!({"path": ["a"]}),
        ] {
            assert_eq!(
                config(bad.clone()).unwrap_err().code(),
                "invalid_metadata",
                "{bad}"
            );
        }
    }

    #[test]
    fn well_known_urls() {
        assert_eq!(
            issuer_metadata_url("https://issuer.example.com/tenant").unwrap(),
            "https://issuer.example.com/.well-known/openid-credential-issuer/tenant"
        );
        assert_eq!(
            issuer_metadata_url("https://issuer.example.com:8443/a/b").unwrap(),
            "https://issuer.example.com:8443/.well-known/openid-credential-issuer/a/b"
        );
        assert_eq!(
            as_metadata_url("https://as.example.com").unwrap(),
            "https://as.example.com/.well-known/oauth-authorization-server"
        );
        for bad in [
            "https://issuer.example.com/",
            "https://issuer.example.com/tenant?x=1",
            "http://issuer.example.com",
            "https://user@issuer.example.com",
        ] {
            assert!(issuer_metadata_url(bad).is_err(), "{bad}");
        }
    }
}
