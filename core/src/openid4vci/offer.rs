//! Credential Offers (OpenID4VCI 1.0 §4): by value (`credential_offer`) or by reference
//! (`credential_offer_uri`), in `openid-credential-offer://`, `haip-vci://` (HAIP 1.0 §4.2)
//! or `https:` links; parsing for wallets, building for issuers.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{GRANT_AUTHORIZATION_CODE, GRANT_PRE_AUTHORIZED, MAX_MESSAGE_LEN, check_issuer_id};
use crate::error::{Oid4vciError, Result};
use crate::oauth::Secret;

/// The custom scheme of §4.1.
pub const OFFER_SCHEME: &str = "openid-credential-offer";
/// The custom scheme of HAIP 1.0 §4.2.
pub const HAIP_OFFER_SCHEME: &str = "haip-vci";

/// Longest `tx_code.description` (§4.1.1).
const MAX_TX_DESCRIPTION: usize = 300;

fn invalid(m: impl Into<String>) -> crate::Error {
    Oid4vciError::InvalidOffer(m.into()).into()
}

/// How a Transaction Code is to be entered (§4.1.1 `tx_code`). Its presence, even `{}`,
/// means a code is required (ATTACKS VCI-10).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TxCodeSpec {
    /// `numeric` (the default) or `text`.
    pub input_mode: String,
    /// The code's length, a UI hint.
    pub length: Option<u32>,
    /// Where the code went, for the user; untrusted text of at most 300 characters.
    pub description: Option<String>,
}

impl TxCodeSpec {
    /// A numeric code of `length` digits with `description`.
    #[must_use]
    pub fn numeric(length: u32, description: Option<String>) -> Self {
        Self {
            input_mode: "numeric".into(),
            length: Some(length),
            description,
        }
    }

    fn parse(v: &Value) -> Result<Self> {
        let o = v
            .as_object()
            .ok_or_else(|| invalid("tx_code must be an object"))?;
        let input_mode = match o.get("input_mode") {
            None => "numeric".to_owned(),
            Some(Value::String(m)) if m == "numeric" || m == "text" => m.clone(),
            Some(_) => return Err(invalid("tx_code.input_mode must be numeric or text")),
        };
        let length = match o.get("length") {
            None => None,
            Some(l) => Some(
                l.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| invalid("tx_code.length must be a small positive integer"))?,
            ),
        };
        let description = match o.get("description") {
            None => None,
            Some(Value::String(d)) => {
                if d.chars().count() > MAX_TX_DESCRIPTION {
                    return Err(invalid("tx_code.description is longer than 300 characters"));
                }
                if d.chars().any(|c| c.is_control() || is_bidi_control(c)) {
                    return Err(invalid(
                        "tx_code.description holds control or bidirectional characters",
                    ));
                }
                Some(d.clone())
            }
            Some(_) => return Err(invalid("tx_code.description must be a string")),
        };
        Ok(Self {
            input_mode,
            length,
            description,
        })
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("input_mode".into(), self.input_mode.clone().into());
        if let Some(l) = self.length {
            o.insert("length".into(), l.into());
        }
        if let Some(d) = &self.description {
            o.insert("description".into(), d.clone().into());
        }
        Value::Object(o)
    }

    /// Whether `code` has the form this spec announces (digits for `numeric`, the length).
    #[must_use]
    pub fn accepts(&self, code: &str) -> bool {
        (self.input_mode != "numeric" || code.bytes().all(|b| b.is_ascii_digit()))
            && self
                .length
                .is_none_or(|l| usize::try_from(l).is_ok_and(|l| code.chars().count() == l))
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The pre-authorized code grant of an offer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PreAuthorizedGrant {
    /// The code (a bearer secret).
    pub code: Secret,
    /// Set when a Transaction Code is required.
    pub tx_code: Option<TxCodeSpec>,
    /// The `authorization_server` hint.
    pub authorization_server: Option<String>,
}

/// The authorization code grant of an offer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AuthorizationCodeGrant {
    /// `issuer_state`, sent back unchanged in the authorization request.
    pub issuer_state: Option<String>,
    /// The `authorization_server` hint.
    pub authorization_server: Option<String>,
}

/// A validated Credential Offer (§4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CredentialOffer {
    /// The Credential Issuer Identifier.
    pub credential_issuer: String,
    /// The offered configurations: non-empty, unique.
    pub credential_configuration_ids: Vec<String>,
    /// The pre-authorized code grant.
    pub pre_authorized: Option<PreAuthorizedGrant>,
    /// The authorization code grant.
    pub authorization_code: Option<AuthorizationCodeGrant>,
}

/// Where an offer link leads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfferSource {
    /// The offer itself (`credential_offer`).
    Value(CredentialOffer),
    /// An `https:` URL to retrieve it from (`credential_offer_uri`).
    Reference(String),
}

/// Parses an offer link: `openid-credential-offer://?…`, `haip-vci://?…` or an `https:`
/// URL with the same query (§4.1.2, §4.1.3). Exactly one of `credential_offer` and
/// `credential_offer_uri` must be present (ATTACKS VCI-07).
///
/// # Errors
/// `invalid_offer`.
pub fn parse_offer_uri(uri: &str) -> Result<OfferSource> {
    if uri.len() > MAX_MESSAGE_LEN {
        return Err(invalid("the offer link is too long"));
    }
    let uri = uri.trim();
    let query = if let Some(rest) = uri
        .strip_prefix(OFFER_SCHEME)
        .or_else(|| uri.strip_prefix(HAIP_OFFER_SCHEME))
        .and_then(|r| r.strip_prefix(':'))
    {
        rest.split_once('?').map(|(_, q)| q)
    } else if uri.starts_with("https://") {
        uri.split_once('?').map(|(_, q)| q)
    } else {
        return Err(invalid(
            "an offer link uses openid-credential-offer://, haip-vci:// or https://",
        ));
    };
    let query = query.ok_or_else(|| invalid("the offer link has no query"))?;
    let query = query.split('#').next().unwrap_or(query);
    let mut by_value = None;
    let mut by_reference = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match &*k {
            "credential_offer" => &mut by_value,
            "credential_offer_uri" => &mut by_reference,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(invalid(format!("{k} appears twice")));
        }
    }
    match (by_value, by_reference) {
        (Some(v), None) => Ok(OfferSource::Value(CredentialOffer::from_json(
            v.as_bytes(),
        )?)),
        (None, Some(r)) => {
            if !r.starts_with("https://") {
                return Err(invalid("credential_offer_uri must be an https URL"));
            }
            Ok(OfferSource::Reference(r))
        }
        (Some(_), Some(_)) => Err(invalid(
            "credential_offer and credential_offer_uri are mutually exclusive",
        )),
        (None, None) => Err(invalid(
            "the link has neither credential_offer nor credential_offer_uri",
        )),
    }
}

impl CredentialOffer {
    /// Parses and validates a Credential Offer object (§4.1.1). Unknown parameters are
    /// ignored.
    ///
    /// # Errors
    /// `invalid_offer`; JSON errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(invalid("the offer is too large"));
        }
        let o = crate::json::parse_object(bytes, 16, "credential offer")?;
        let credential_issuer = o
            .get("credential_issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("credential_issuer is required"))?;
        check_issuer_id(credential_issuer).map_err(|e| invalid(e.to_string()))?;
        let ids = o
            .get("credential_configuration_ids")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("credential_configuration_ids must be an array"))?;
        let mut seen = BTreeSet::new();
        let mut credential_configuration_ids = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| invalid("credential_configuration_ids holds a non-string"))?;
            if !seen.insert(id) {
                return Err(invalid(format!("configuration {id:?} is offered twice")));
            }
            credential_configuration_ids.push(id.to_owned());
        }
        if credential_configuration_ids.is_empty() {
            return Err(invalid("credential_configuration_ids is empty"));
        }
        let mut pre_authorized = None;
        let mut authorization_code = None;
        match o.get("grants") {
            None => {}
            Some(Value::Object(grants)) => {
                if let Some(g) = grants.get(GRANT_PRE_AUTHORIZED) {
                    let g = g
                        .as_object()
                        .ok_or_else(|| invalid("the pre-authorized grant must be an object"))?;
                    let code = g
                        .get("pre-authorized_code")
                        .and_then(Value::as_str)
                        .filter(|c| !c.is_empty())
                        .ok_or_else(|| invalid("pre-authorized_code is required"))?;
                    let tx_code = g.get("tx_code").map(TxCodeSpec::parse).transpose()?;
                    pre_authorized = Some(PreAuthorizedGrant {
                        code: Secret::new(code),
                        tx_code,
                        authorization_server: hint(g)?,
                    });
                }
                if let Some(g) = grants.get(GRANT_AUTHORIZATION_CODE) {
                    let g = g
                        .as_object()
                        .ok_or_else(|| invalid("the authorization_code grant must be an object"))?;
                    let issuer_state = match g.get("issuer_state") {
                        None => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(_) => return Err(invalid("issuer_state must be a string")),
                    };
                    authorization_code = Some(AuthorizationCodeGrant {
                        issuer_state,
                        authorization_server: hint(g)?,
                    });
                }
            }
            Some(_) => return Err(invalid("grants must be an object")),
        }
        Ok(Self {
            credential_issuer: credential_issuer.to_owned(),
            credential_configuration_ids,
            pre_authorized,
            authorization_code,
        })
    }

    /// The offer as JSON (§4.1.1).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut grants = Map::new();
        if let Some(p) = &self.pre_authorized {
            let mut g = Map::new();
            g.insert("pre-authorized_code".into(), p.code.expose().into());
            if let Some(t) = &p.tx_code {
                g.insert("tx_code".into(), t.to_json());
            }
            if let Some(a) = &p.authorization_server {
                g.insert("authorization_server".into(), a.clone().into());
            }
            grants.insert(GRANT_PRE_AUTHORIZED.into(), Value::Object(g));
        }
        if let Some(a) = &self.authorization_code {
            let mut g = Map::new();
            if let Some(s) = &a.issuer_state {
                g.insert("issuer_state".into(), s.clone().into());
            }
            if let Some(h) = &a.authorization_server {
                g.insert("authorization_server".into(), h.clone().into());
            }
            grants.insert(GRANT_AUTHORIZATION_CODE.into(), Value::Object(g));
        }
        let mut o = json!({
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": self.credential_configuration_ids,
        });
        if !grants.is_empty()
            && let Some(m) = o.as_object_mut()
        {
            m.insert("grants".into(), Value::Object(grants));
        }
        o
    }

    /// The offer by value in `scheme` (`openid-credential-offer` or `haip-vci`) (§4.1.2).
    #[must_use]
    pub fn to_uri(&self, scheme: &str) -> String {
        let v = self.to_json().to_string();
        format!(
            "{scheme}://?{}",
            crate::oauth::form_encode(&[("credential_offer", &v)])
        )
    }
}

/// An offer by reference: `scheme://?credential_offer_uri=…` (§4.1.3).
#[must_use]
pub fn offer_reference_uri(scheme: &str, credential_offer_uri: &str) -> String {
    format!(
        "{scheme}://?{}",
        crate::oauth::form_encode(&[("credential_offer_uri", credential_offer_uri)])
    )
}

fn hint(g: &Map<String, Value>) -> Result<Option<String>> {
    match g.get("authorization_server") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid("authorization_server must be a string")),
    }
}
