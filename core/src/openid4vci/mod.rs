//! OpenID for Verifiable Credential Issuance 1.0 (final, 2025-09-16) with the HAIP 1.0 §4
//! profile, for both roles, sans I/O.
//!
//! - [`wallet`]: an [`wallet::Issuance`] is a state machine that says which request to send
//!   next and takes the response, from the Credential Offer (§4) over issuer and
//!   authorization server metadata (§12.2, RFC 8414), the pre-authorized code grant with
//!   `tx_code` (§6.1) or the authorization code grant with PAR, PKCE S256 and the RFC 9207
//!   `iss` check (§5, HAIP §4), DPoP on token and credential requests (RFC 9449) with
//!   `use_dpop_nonce` retries, client attestation (ABCA-07), the Nonce Endpoint (§7), `jwt`
//!   key proofs in batches (§8.2, F.1), `invalid_nonce` recovery (§8.3.1.2), deferred
//!   issuance (§9) and notifications (§11). The flow is serialisable, so that an app keeps
//!   it while the browser is open. [`wallet::run`] drives it over a [`crate::http::Fetcher`].
//! - [`issuer`]: the Credential Issuer and its own Authorization Server as HTTP-shaped
//!   handlers without a framework (metadata, offers, PAR, authorization, token, nonce,
//!   credential, deferred, notification endpoints), with all state in an
//!   [`crate::oauth::store::StateStore`], so that a server runs it on many nodes.
//!
//! # Decisions where the texts are silent or disagree (SPEC_NOTES_OID4VCI)
//! - A Credential Issuer Identifier never ends in `/`; its metadata URL inserts the
//!   well-known suffix between host and path (§12.2.2), and `credential_issuer` must equal
//!   the identifier byte for byte.
//! - One fresh `c_nonce` per Credential Request, the same in every proof of a batch;
//!   issuers consume it once the whole request validated (OpenID4VCI #774; keycloak
//!   #50120).
//! - Proof `aud` must be exactly the Credential Issuer Identifier (F.4 omits the check,
//!   OpenID4VCI #652); `iat` at most 60 s ahead and 5 minutes old; `iss` is sent only by an
//!   authenticated client and, when present, must be its `client_id`.
//! - Two proofs with the same key are refused (one credential per key, §8.3).
//! - Tokens, codes and nonces are opaque random values; the store keeps their SHA-256 only.
//! - A transaction code is locked after five wrong guesses (errata §13.6.3).
//! - DPoP is always required by credkit's issuer; a `Bearer` token answer to a DPoP
//!   request is refused by the wallet (RFC 9449 §5).

pub mod issuer;
pub mod metadata;
pub mod offer;
pub mod wallet;

use serde_json::Value;

use crate::error::{Oid4vciError, Result};

pub use metadata::{AuthServerMetadata, CredentialConfiguration, IssuerMetadata};
pub use offer::{CredentialOffer, OfferSource, TxCodeSpec, parse_offer_uri};

/// The pre-authorized code grant type (§4.1.1).
pub const GRANT_PRE_AUTHORIZED: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The authorization code grant type.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// The JOSE `typ` of a `jwt` key proof (F.1).
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// The `authorization_details` type (§5.1.1).
pub const AUTHORIZATION_DETAILS_TYPE: &str = "openid_credential";
/// The SD-JWT VC format identifier (A.3).
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// The mdoc format identifier (A.2).
pub const FORMAT_MDOC: &str = "mso_mdoc";
/// The JSON media type.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// Largest offer, metadata or endpoint message accepted (ATTACKS VCI-16, VCI-81).
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// Checks the syntax of a Credential Issuer Identifier or AS issuer (§12.2.1, RFC 8414 §2):
/// `https`, a host, no userinfo, query or fragment, and (credkit's rule) no terminating
/// `/`.
///
/// # Errors
/// `invalid_metadata`.
pub fn check_issuer_id(id: &str) -> Result<()> {
    let bad = |why: &str| -> crate::Error {
        Oid4vciError::InvalidMetadata(format!("{id:?} is not a valid issuer identifier: {why}"))
            .into()
    };
    let rest = id
        .strip_prefix("https://")
        .ok_or_else(|| bad("not https"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("no host, or userinfo"));
    }
    if id.contains(['?', '#']) {
        return Err(bad("it has a query or fragment"));
    }
    if id.ends_with('/') {
        return Err(bad("it ends in /"));
    }
    if id.len() > 2048 || !id.is_ascii() || id.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("invalid characters"));
    }
    Ok(())
}

/// An OAuth error answer (RFC 6749 §5.2) as an error value: `error` as sent,
/// `error_description` filtered to printable ASCII (ATTACKS VCI-82).
pub(crate) fn rejected(status: u16, body: &[u8]) -> crate::Error {
    let parsed = crate::json::parse_object(body, 8, "error response").ok();
    let text = |name: &str| {
        parsed
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
            .map(crate::oauth::sanitize_description)
    };
    Oid4vciError::Rejected {
        status,
        error: text("error")
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| format!("http_{status}")),
        description: text("error_description").unwrap_or_default(),
    }
    .into()
}
