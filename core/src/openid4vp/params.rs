//! The Authorization Request parameters of OpenID4VP 1.0 §5.1 and §5.2, parsed and checked
//! once, whether they came in a URL (object values are JSON strings) or in a request object
//! (object values are JSON values).

use serde_json::{Map, Value};

use super::{ClientId, MAX_PARAM_LEN, ResponseMode, check_nonce_alphabet};
use crate::dcql::DcqlQuery;
use crate::error::{Oid4vpError, Result};
use crate::jose::PublicJwk;
use crate::jose::jwe::ContentEncryption;

/// The most transaction data entries accepted.
const MAX_TRANSACTION_DATA: usize = 16;

/// The most keys in `client_metadata.jwks`.
const MAX_JWKS: usize = 16;

/// Nesting depth for JSON-valued parameters.
const PARAM_DEPTH: usize = 16;

/// One `transaction_data` entry (§5.1): the string as received and what it says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TransactionData {
    /// The base64url string exactly as received: what is hashed (B.3.3.1).
    pub encoded: String,
    /// `type`.
    pub r#type: String,
    /// `credential_ids`: the Credential Queries it is for.
    pub credential_ids: Vec<String>,
    /// The decoded object, for display.
    pub data: Map<String, Value>,
}

/// The members of `client_metadata` a wallet may use (§5.1): the response encryption keys and
/// algorithms, the formats, and display data that is *not* authenticated.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// Usable response encryption keys (P-256, `alg` `ECDH-ES`, `use` absent or `enc`), in
    /// order; unusable keys are skipped (RFC 7517 §5, ATTACKS VP-29).
    pub encryption_keys: Vec<PublicJwk>,
    /// `encrypted_response_enc_values_supported` that credkit implements (default A128GCM).
    pub encryption_encs: Vec<ContentEncryption>,
    /// `vp_formats_supported`, as received.
    pub vp_formats_supported: Option<Map<String, Value>>,
    /// `client_name`: display only, never authenticated.
    pub client_name: Option<String>,
    /// `logo_uri`: display only, never authenticated.
    pub logo_uri: Option<String>,
}

impl ClientMetadata {
    fn parse(m: &Map<String, Value>) -> Result<Self> {
        let bad = |why: &str| Oid4vpError::Invalid(format!("client_metadata: {why}"));
        let mut out = Self::default();
        if let Some(jwks) = m.get("jwks") {
            let keys = jwks
                .get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("jwks.keys must be an array"))?;
            if keys.len() > MAX_JWKS {
                return Err(bad("too many keys").into());
            }
            let mut kids = Vec::new();
            for k in keys {
                let obj = k.as_object().ok_or_else(|| bad("keys must be objects"))?;
                // §5.1: every key has a kid unique within the request.
                let kid = obj
                    .get("kid")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("every key must have a kid"))?;
                if kids.contains(&kid) {
                    return Err(bad("kids must be unique").into());
                }
                kids.push(kid);
                // §8.3: alg MUST be present in the JWK; only ECDH-ES is usable here.
                if obj.get("alg").and_then(Value::as_str) != Some(crate::jose::jwe::ECDH_ES) {
                    continue;
                }
                match PublicJwk::from_json_for_encryption(obj) {
                    Ok(key) if key.curve() == crate::jose::Curve::P256 => {
                        out.encryption_keys.push(key);
                    }
                    _ => {}
                }
            }
        }
        out.encryption_encs = match m.get("encrypted_response_enc_values_supported") {
            None => vec![ContentEncryption::A128Gcm],
            Some(Value::Array(v)) => v
                .iter()
                .filter_map(Value::as_str)
                .filter_map(ContentEncryption::from_name)
                .collect(),
            Some(_) => return Err(bad("encrypted_response_enc_values_supported").into()),
        };
        out.vp_formats_supported = match m.get("vp_formats_supported") {
            None => None,
            Some(Value::Object(f)) => Some(f.clone()),
            Some(_) => return Err(bad("vp_formats_supported must be an object").into()),
        };
        // Display data, never authenticated: without control and bidirectional-override
        // characters that could make it look like another name (ATTACKS VP-58).
        out.client_name = m
            .get("client_name")
            .and_then(Value::as_str)
            .map(|s| {
                s.chars()
                    .filter(|c| {
                        !c.is_control()
                            && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
                    })
                    .take(200)
                    .collect()
            });
        out.logo_uri = m
            .get("logo_uri")
            .and_then(Value::as_str)
            .filter(|s| s.len() <= MAX_PARAM_LEN)
            .map(str::to_owned);
        Ok(out)
    }
}

/// Validated Authorization Request parameters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestParams {
    /// `client_id`, when present.
    pub client_id: Option<ClientId>,
    /// `response_mode`.
    pub response_mode: ResponseMode,
    /// `response_uri` (direct_post modes).
    pub response_uri: Option<String>,
    /// `redirect_uri`, when present.
    pub redirect_uri: Option<String>,
    /// `nonce`.
    pub nonce: String,
    /// `state`, when present.
    pub state: Option<String>,
    /// `dcql_query`, validated.
    pub dcql_query: DcqlQuery,
    /// `dcql_query` as received.
    pub dcql_json: Value,
    /// `client_metadata`, when present.
    pub client_metadata: Option<ClientMetadata>,
    /// Whether `client_metadata` was present.
    pub has_client_metadata: bool,
    /// `transaction_data`.
    pub transaction_data: Vec<TransactionData>,
    /// `transaction_data_hashes_alg`, when present.
    pub transaction_data_hashes_alg: Option<Vec<String>>,
    /// `verifier_info`, as received (not validated: shown only as unverified data).
    pub verifier_info: Option<Value>,
    /// `expected_origins` (DC API).
    pub expected_origins: Option<Vec<String>>,
}

impl RequestParams {
    /// Parses the parameters of `m`. `url_encoded`: they came from a URL or a form, so that
    /// object-valued parameters are JSON strings (§5.1).
    ///
    /// # Errors
    /// `request_invalid`, `invalid_transaction_data`, `dcql_invalid`.
    pub fn parse(m: &Map<String, Value>, url_encoded: bool) -> Result<Self> {
        let bad = |why: String| Oid4vpError::Invalid(why);
        let string = |name: &str| -> Result<Option<String>> {
            match m.get(name) {
                None => Ok(None),
                Some(Value::String(s)) if s.len() <= MAX_PARAM_LEN => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!(
                    "{name} must be a string of at most {MAX_PARAM_LEN} bytes"
                ))
                .into()),
            }
        };
        let object = |name: &str| -> Result<Option<Value>> {
            match (m.get(name), url_encoded) {
                (None, _) => Ok(None),
                (Some(Value::String(s)), true) => {
                    crate::json::parse(s.as_bytes(), PARAM_DEPTH, "request parameter").map(Some)
                }
                (Some(v), false) if !v.is_string() => Ok(Some(v.clone())),
                (Some(_), _) => Err(bad(format!(
                    "{name} must be {} here (§5.1)",
                    if url_encoded {
                        "a JSON string"
                    } else {
                        "a JSON value"
                    }
                ))
                .into()),
            }
        };
        match string("response_type")?.as_deref() {
            Some("vp_token") => {}
            Some(other) => {
                return Err(bad(format!("response_type {other:?} is not supported")).into());
            }
            None => return Err(bad("response_type is missing".into()).into()),
        }
        let response_mode = match string("response_mode")?.as_deref() {
            Some(name) => ResponseMode::from_name(name)
                .ok_or_else(|| bad(format!("response_mode {name:?} is not supported")))?,
            None => return Err(bad("response_mode is missing (§5.2)".into()).into()),
        };
        let nonce = string("nonce")?.ok_or_else(|| bad("nonce is missing (§5.2)".into()))?;
        check_nonce_alphabet("nonce", &nonce)?;
        let state = string("state")?;
        if let Some(s) = &state {
            check_nonce_alphabet("state", s)?;
        }
        let client_id = string("client_id")?
            .map(|c| ClientId::parse(&c))
            .transpose()?;
        let mut response_uri = string("response_uri")?;
        let redirect_uri = string("redirect_uri")?;
        // §5.9.3: a redirect_uri client may omit its response URI: it is the client id's
        // value.
        if response_uri.is_none()
            && redirect_uri.is_none()
            && response_mode.is_direct_post()
            && let Some(c) = client_id
                .as_ref()
                .filter(|c| c.prefix() == super::ClientIdPrefix::RedirectUri)
        {
            response_uri = Some(c.value().to_owned());
        }
        if response_mode.is_direct_post() {
            if response_uri.is_none() {
                return Err(bad("response_uri is required with direct_post (§8.2)".into()).into());
            }
            if redirect_uri.is_some() {
                return Err(
                    bad("redirect_uri must not be present with direct_post (§8.2)".into()).into(),
                );
            }
        }
        if m.contains_key("presentation_definition") || m.contains_key("client_id_scheme") {
            return Err(bad(
                "pre-1.0 parameters (presentation_definition, client_id_scheme)".into(),
            )
            .into());
        }
        let dcql_json = match (object("dcql_query")?, m.contains_key("scope")) {
            (Some(_), true) => {
                return Err(bad("dcql_query and scope are both present (§5.1)".into()).into());
            }
            (Some(q), false) => q,
            (None, true) => {
                return Err(
                    bad("scope values aliasing DCQL queries are not configured".into()).into(),
                );
            }
            (None, false) => return Err(bad("dcql_query is missing".into()).into()),
        };
        let dcql_query = DcqlQuery::parse(&dcql_json)?;
        let client_metadata = match object("client_metadata")? {
            None => None,
            Some(Value::Object(cm)) => Some(ClientMetadata::parse(&cm)?),
            Some(_) => return Err(bad("client_metadata must be an object".into()).into()),
        };
        let transaction_data = match object("transaction_data")? {
            None => Vec::new(),
            Some(Value::Array(list)) => parse_transaction_data(&list, &dcql_query)?,
            Some(_) => {
                return Err(Oid4vpError::TransactionData("must be an array".into()).into());
            }
        };
        let transaction_data_hashes_alg = match m.get("transaction_data_hashes_alg") {
            None => None,
            Some(v) => {
                let v = if url_encoded {
                    object("transaction_data_hashes_alg")?.unwrap_or(Value::Null)
                } else {
                    v.clone()
                };
                let list: Vec<String> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                if list.is_empty() {
                    return Err(Oid4vpError::TransactionData(
                        "transaction_data_hashes_alg must be a non-empty array of strings".into(),
                    )
                    .into());
                }
                Some(list)
            }
        };
        let verifier_info = object("verifier_info")?;
        let expected_origins = match object("expected_origins")? {
            None => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|o| {
                        o.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| bad("expected_origins must be strings".into()).into())
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => return Err(bad("expected_origins must be an array".into()).into()),
        };
        Ok(Self {
            client_id,
            response_mode,
            response_uri,
            redirect_uri,
            nonce,
            state,
            dcql_query,
            dcql_json,
            has_client_metadata: client_metadata.is_some(),
            client_metadata,
            transaction_data,
            transaction_data_hashes_alg,
            verifier_info,
            expected_origins,
        })
    }
}

fn parse_transaction_data(list: &[Value], dcql: &DcqlQuery) -> Result<Vec<TransactionData>> {
    let bad = |why: &str| Oid4vpError::TransactionData(why.to_owned());
    if list.is_empty() || list.len() > MAX_TRANSACTION_DATA {
        return Err(bad("must hold between 1 and 16 entries").into());
    }
    list.iter()
        .map(|entry| {
            let encoded = entry
                .as_str()
                .ok_or_else(|| bad("entries must be strings"))?;
            let bytes = crate::b64::decode(encoded, "transaction_data")
                .map_err(|_| bad("an entry is not base64url"))?;
            let data = crate::json::parse_object(&bytes, PARAM_DEPTH, "transaction_data")
                .map_err(|_| bad("an entry is not a JSON object"))?;
            let r#type = data
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("type is missing"))?
                .to_owned();
            let ids = data
                .get("credential_ids")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad("credential_ids must be a non-empty array"))?;
            let credential_ids = ids
                .iter()
                .map(|id| {
                    let id = id
                        .as_str()
                        .ok_or_else(|| bad("credential_ids are strings"))?;
                    let query = dcql
                        .credential(id)
                        .ok_or_else(|| bad("a credential_id names no Credential Query"))?;
                    // B.3.3: SD-JWT VC transaction data needs holder binding.
                    if !query.require_cryptographic_holder_binding {
                        return Err(bad("the Credential Query does not require holder binding"));
                    }
                    Ok(id.to_owned())
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(TransactionData {
                encoded: encoded.to_owned(),
                r#type,
                credential_ids,
                data,
            })
        })
        .collect()
}
