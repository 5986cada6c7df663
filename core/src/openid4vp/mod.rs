//! OpenID for Verifiable Presentations 1.0 (final, 2025-07-10) with the HAIP 1.0 profile, for
//! both roles, sans I/O: the protocol values say what to send and take what came back; the
//! blocking helpers drive them over a [`Fetcher`](crate::http::Fetcher), a server drives the
//! same values from async code.
//!
//! - [`wallet`]: Authorization Requests by value and by reference (§5, §5.10, RFC 9101),
//!   `openid4vp://` and `haip-vp://`; signed request objects (`typ` `oauth-authz-req+jwt`)
//!   authenticated under the Client Identifier Prefixes of §5.9.3 that a wallet can check
//!   without a federation (`redirect_uri` unsigned, `x509_san_dns`, `x509_hash`,
//!   pre-registered clients); the consent data (verifier identity, DCQL candidates,
//!   transaction data); the response (`vp_token` per §8.1, KB-JWT bound to the full client
//!   identifier and the nonce, `transaction_data_hashes` per B.3.3.1) over `direct_post` and
//!   `direct_post.jwt` (§8.2, §8.3.1) and declines (`access_denied`).
//! - [`verifier`]: request objects signed with an `x5c` chain (`x509_hash`, `x509_san_dns`),
//!   a fresh nonce, state and P-256 encryption key per transaction (HAIP §5), transactions
//!   behind a [`verifier::TransactionStore`], and response handling in the order of §8.6.
//!
//! Verifier trust (anchors, pre-registered clients) is the wallet's configuration, never the
//! request's. [`Profile::Haip`] turns on HAIP's mandates in one switch on both sides.
//!
//! # Decisions where the texts disagree (SPEC_NOTES_OID4VP §17)
//! - `response_mode` is REQUIRED (§5.2) although §5.6 names a default: a request without it is
//!   refused (`request_invalid`).
//! - A `redirect_uri:` client cannot sign (§5.9.3), so it cannot use `request_uri` either,
//!   where §5.10.1 wants a signed object: such requests are refused before anything is
//!   fetched. Unsigned redirect requests are accepted by value only, and never under HAIP;
//!   unsigned DC API requests are accepted under HAIP too (H§5.2), known by their origin.
//! - Multi-signed DC API requests carry `data.request` as a JWS JSON object; each signature's
//!   protected header needs `typ` `oauth-authz-req+jwt` (§5), and malformed or unverifiable
//!   entries are skipped as long as one validates (A.3.2.2).
//! - `x509_hash` puts no constraint on the `response_uri` host; `x509_san_dns` requires the
//!   host to equal the DNS name (§5.9.3). credkit applies exactly that, compares DNS names
//!   case-insensitively without a trailing dot, and never matches wildcards.
//! - Extra or reordered `transaction_data_hashes`: the verifier requires exactly one hash per
//!   entry aimed at the credential, in request order, and every entry confirmed by at least
//!   one presentation.
//! - Unverified, possibly forged responses leave a transaction pending: only a response with
//!   the transaction's `state` (or decrypted with its key) ends it (ATTACKS VP-37); a pending
//!   transaction past its expiry reads as failed.
//! - Transaction data is accepted only in signed requests (ATTACKS_OID4VP VP-52).
//! - The verifier's encryption key id is the transaction id, so that a response is decrypted
//!   only with its own transaction's key (VP-26).

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{Oid4vpError, Result};

pub mod verifier;
pub mod wallet;

mod params;

pub use params::{ClientMetadata, RequestParams, TransactionData};

/// The JOSE `typ` of a request object (§5, RFC 9101 §10.8).
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// The media type of a request object served at a `request_uri` (§5.10.1).
pub const REQUEST_OBJECT_MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";

/// The request object `aud` with static discovery (§5.8).
pub const STATIC_AUDIENCE: &str = "https://self-issued.me/v2";

/// The form media type of `direct_post` bodies and `request_uri` POSTs (§5.10, §8.2).
pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// How strictly the protocol is profiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// OpenID4VP 1.0 as written.
    #[default]
    OpenId4Vp,
    /// HAIP 1.0 §5 on top: signed requests by reference only, `x509_hash` supported,
    /// no trust anchor or self-signed certificate in `x5c`, `direct_post.jwt` (or
    /// `dc_api.jwt`) only, ECDH-ES P-256 with A128GCM / A256GCM.
    Haip,
}

/// The `response_mode` values of §8.2, §8.3.1 and Appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseMode {
    /// `direct_post`: the response is posted to `response_uri`.
    DirectPost,
    /// `direct_post.jwt`: the response is encrypted and posted to `response_uri`.
    DirectPostJwt,
    /// `dc_api`: returned through the W3C Digital Credentials API.
    DcApi,
    /// `dc_api.jwt`: encrypted, returned through the W3C Digital Credentials API.
    DcApiJwt,
}

impl ResponseMode {
    /// The registered value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::DirectPost => "direct_post",
            Self::DirectPostJwt => "direct_post.jwt",
            Self::DcApi => "dc_api",
            Self::DcApiJwt => "dc_api.jwt",
        }
    }

    /// The mode registered under `name` (case-sensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::DirectPost,
            Self::DirectPostJwt,
            Self::DcApi,
            Self::DcApiJwt,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }

    /// Whether the response is encrypted (§8.3).
    #[must_use]
    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::DirectPostJwt | Self::DcApiJwt)
    }

    /// Whether the response is posted to a `response_uri`.
    #[must_use]
    pub fn is_direct_post(self) -> bool {
        matches!(self, Self::DirectPost | Self::DirectPostJwt)
    }
}

impl fmt::Display for ResponseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Client Identifier Prefix (§5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientIdPrefix {
    /// No prefix: a client registered with the wallet (§5.9.2).
    PreRegistered,
    /// `redirect_uri:` (§5.9.3): unsigned; the rest is the redirect or response URI.
    RedirectUri,
    /// `x509_san_dns:` (§5.9.3): a DNS name of the signing certificate.
    X509SanDns,
    /// `x509_hash:` (§5.9.3): base64url SHA-256 of the signing certificate.
    X509Hash,
    /// `decentralized_identifier:` (§5.9.3).
    DecentralizedIdentifier,
    /// `verifier_attestation:` (§5.9.3).
    VerifierAttestation,
    /// `openid_federation:` (§5.9.3).
    OpenidFederation,
    /// `origin:` (§5.9.3): reserved for the DC API, never accepted in a request.
    Origin,
}

impl ClientIdPrefix {
    /// The prefix text without its colon (`""` for pre-registered clients).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::PreRegistered => "",
            Self::RedirectUri => "redirect_uri",
            Self::X509SanDns => "x509_san_dns",
            Self::X509Hash => "x509_hash",
            Self::DecentralizedIdentifier => "decentralized_identifier",
            Self::VerifierAttestation => "verifier_attestation",
            Self::OpenidFederation => "openid_federation",
            Self::Origin => "origin",
        }
    }
}

/// A client identifier split at its first `:` (§5.9.1), the prefix recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId {
    full: String,
    prefix: ClientIdPrefix,
    value_at: usize,
}

impl ClientId {
    /// Splits `client_id` at the first `:`. A value without `:` is a pre-registered client;
    /// a prefix that OpenID4VP 1.0 does not define is refused (§5.9.2; ATTACKS VP-02).
    ///
    /// # Errors
    /// `request_invalid` for an empty identifier or nothing after the prefix,
    /// `unsupported_client_id_prefix` for an unknown prefix, `reserved_client_id_prefix` for
    /// `origin:`.
    pub fn parse(client_id: &str) -> Result<Self> {
        if client_id.is_empty() || client_id.len() > MAX_PARAM_LEN {
            return Err(Oid4vpError::Invalid("client_id is empty or too long".into()).into());
        }
        let Some((prefix, rest)) = client_id.split_once(':') else {
            return Ok(Self {
                full: client_id.to_owned(),
                prefix: ClientIdPrefix::PreRegistered,
                value_at: 0,
            });
        };
        let prefix = match prefix {
            "redirect_uri" => ClientIdPrefix::RedirectUri,
            "x509_san_dns" => ClientIdPrefix::X509SanDns,
            "x509_hash" => ClientIdPrefix::X509Hash,
            "decentralized_identifier" => ClientIdPrefix::DecentralizedIdentifier,
            "verifier_attestation" => ClientIdPrefix::VerifierAttestation,
            "openid_federation" => ClientIdPrefix::OpenidFederation,
            "origin" => return Err(Oid4vpError::ReservedPrefix.into()),
            other => return Err(Oid4vpError::UnsupportedPrefix(other.to_owned()).into()),
        };
        if rest.is_empty() {
            return Err(Oid4vpError::Invalid("nothing follows the client_id prefix".into()).into());
        }
        Ok(Self {
            full: client_id.to_owned(),
            prefix,
            value_at: client_id.len() - rest.len(),
        })
    }

    /// The whole identifier, prefix included: what consent screens, history, the KB-JWT
    /// `aud` and the mdoc SessionTranscript use (§5.9.1).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> ClientIdPrefix {
        self.prefix
    }

    /// What follows the prefix (the whole identifier for pre-registered clients).
    #[must_use]
    pub fn value(&self) -> &str {
        self.full.get(self.value_at..).unwrap_or_default()
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// The longest protocol string value accepted (nonce, state, client_id, URIs).
pub const MAX_PARAM_LEN: usize = 2048;

/// The largest request object, request URL or response body accepted (1.1 "Parsing of
/// untrusted inputs"; ATTACKS VP-57).
pub const MAX_MESSAGE_LEN: usize = 512 * 1024;

/// The longest `nonce` / `state` accepted.
pub const MAX_NONCE_LEN: usize = 256;

/// Checks that `value` uses only the §5.2 alphabet `A-Z a-z 0-9 - . _ ~` and fits
/// [`MAX_NONCE_LEN`].
pub(crate) fn check_nonce_alphabet(name: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NONCE_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(Oid4vpError::Invalid(format!(
            "{name} is empty, too long or outside A-Za-z0-9-._~"
        ))
        .into())
    }
}

/// Parses an `application/x-www-form-urlencoded` text (a request URL's query, a
/// `direct_post` body, a `request_uri` POST) into a map of strings, refusing repeated names
/// (a parameter differential is never resolved by picking one) and texts over
/// [`MAX_MESSAGE_LEN`].
///
/// # Errors
/// `request_invalid` for a repeated name, `input_too_large`.
pub fn parse_form(text: &str) -> Result<Map<String, Value>> {
    if text.len() > MAX_MESSAGE_LEN {
        return Err(crate::error::LimitError::InputTooLarge {
            limit: MAX_MESSAGE_LEN,
            actual: text.len(),
        }
        .into());
    }
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        if out
            .insert(k.clone().into_owned(), Value::String(v.into_owned()))
            .is_some()
        {
            return Err(Oid4vpError::Invalid(format!("parameter {k:?} appears twice")).into());
        }
    }
    Ok(out)
}

/// Serialises `pairs` as `application/x-www-form-urlencoded`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// base64url(SHA-256(`text`)) over the text exactly as sent: the `transaction_data_hashes`
/// entry of B.3.3.1.
#[must_use]
pub fn transaction_data_hash(text: &str) -> String {
    crate::b64::encode(&crate::crypto::HashAlg::Sha256.digest(text.as_bytes()))
}

#[cfg(test)]
mod tests;
