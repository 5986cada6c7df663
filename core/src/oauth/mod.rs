//! The OAuth 2.0 pieces OpenID4VCI 1.0 builds on, for both the client (wallet) and the
//! server (authorization server, credential issuer), sans I/O:
//!
//! - [`pkce`]: Proof Key for Code Exchange, `S256` only (RFC 7636 §4; `plain` is never
//!   produced and always refused, RFC 7636 §7.2, HAIP 1.0 §4).
//! - [`dpop`]: DPoP proofs (RFC 9449 §4): creation with `ath` and server nonces, and the
//!   §4.3 checks with a `jti` replay cache (§11.1) and `htu` compared after RFC 3986
//!   syntax-based normalisation.
//! - [`client_attestation`]: attestation-based client authentication
//!   (draft-ietf-oauth-attestation-based-client-auth-07, as OpenID4VCI 1.0 §14.7 pins it;
//!   the -08+ shapes without `iss` are accepted too).
//! - [`store`]: the short-lived server state (codes, nonces, replay caches) behind a
//!   key-value trait with expiry and atomic take, so that a server backs it with SQLite,
//!   PostgreSQL or Redis and runs on many nodes.

pub mod client_attestation;
pub mod dpop;
pub mod pkce;
pub mod store;

use std::fmt;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::crypto::Signer;
use crate::error::Result;
use crate::jose::jws::{UnsignedJws, header_for};

/// Signs `claims` as a compact JWT with `typ` and, when `jwk` is set, the public key in the
/// header (DPoP, key proofs).
pub(crate) fn sign_jwt(
    signer: &dyn Signer,
    typ: &str,
    embed_jwk: bool,
    extra_header: Option<Map<String, Value>>,
    claims: &Map<String, Value>,
) -> Result<String> {
    let mut header = header_for(signer, Some(typ));
    if embed_jwk {
        header.remove("kid");
        header.insert(
            "jwk".into(),
            Value::Object(signer.public_jwk().minimal_json()),
        );
    }
    if let Some(extra) = extra_header {
        header.extend(extra);
    }
    let payload = serde_json::to_vec(claims).map_err(|e| crate::error::EncodingError::Json {
        what: "JWT claims",
        reason: e.to_string(),
    })?;
    let jws = UnsignedJws::new(signer.algorithm(), header, &payload).sign(signer)?;
    Ok(jws.as_compact().to_owned())
}

/// The characters an OAuth `error_description` may carry (RFC 6749 §5.2:
/// `%x20-21 / %x23-5B / %x5D-7E`); anything else is dropped, so that a server's text is
/// shown as plain data.
#[must_use]
pub fn sanitize_description(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .take(300)
        .collect()
}

/// A bearer secret (pre-authorized code, transaction code, authorization code, access
/// token): zeroized when dropped, redacted in `Debug`, serialised as its text (a flow a
/// host persists between steps keeps it; store that encrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `text`.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    /// A fresh random secret: 32 octets, base64url.
    ///
    /// # Errors
    /// `rng_failed`.
    pub fn generate(rng: &dyn crate::rand::RandomSource) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(&mut bytes[..])?;
        Ok(Self::new(crate::b64::encode_secret(&bytes[..])))
    }

    /// The secret text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Self(Zeroizing::new(
            <String as serde::Deserialize>::deserialize(d)?,
        )))
    }
}

/// `application/x-www-form-urlencoded` encoding of `pairs` (RFC 6749 Appendix B).
#[must_use]
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}
