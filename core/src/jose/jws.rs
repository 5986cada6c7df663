//! JSON Web Signature (RFC 7515): compact serialization (§7.1) and JSON serialization,
//! flattened and general (§7.2).
//!
//! A [`Jws`] keeps the base64url text exactly as received; the signature is checked over
//! `BASE64URL(protected) "." BASE64URL(payload)` from that text, never over re-serialized
//! JSON. Structural header rules are applied when parsing (RFC 7515 §4.1.11 `crit`, RFC 7797
//! `b64`, no `zip`), policy rules when verifying: the algorithm and the key come from the
//! caller's trust configuration, never from the token (RFC 8725 §3.1).

use serde_json::{Map, Value};

use crate::b64;
use crate::crypto::{Signer, VerifyingKey};
use crate::error::{FormatError, HeaderError, Result};
use crate::jose::Algorithm;

/// Maximum nesting depth of a JOSE header (objects like `jwk` inside arrays like `x5c`).
pub const HEADER_MAX_DEPTH: usize = 8;

/// Header parameters that RFC 7515 / 7519 / 7797 register and that cannot appear in `crit`.
const REGISTERED: [&str; 13] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip",
];

/// Security-relevant parameters that must be integrity-protected (RFC 9901 §8.1, RFC 8725).
const PROTECTED_ONLY: [&str; 6] = ["alg", "crit", "typ", "cty", "b64", "zip"];

/// A parsed JWS with one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jws {
    compact: String,
    dot1: usize,
    dot2: usize,
    header: Map<String, Value>,
    unprotected: Option<Map<String, Value>>,
    alg: Option<Algorithm>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Jws {
    /// Parses a compact JWS `header.payload.signature`.
    ///
    /// # Errors
    /// `malformed_compact` for the wrong number of parts or empty parts, `b64_invalid`,
    /// `json_*` and `header_invalid` / `crit_unsupported` for a malformed header.
    pub fn parse_compact(text: &str) -> Result<Self> {
        let mut parts = text.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FormatError::Compact("a JWS has exactly three dot-separated parts").into());
        };
        Self::from_parts(h, p, s, None)
    }

    /// Parses one signature of a JWS JSON serialization: the `protected` and `signature`
    /// members and the optional unprotected `header`, with the shared `payload`.
    pub(crate) fn from_json_parts(
        protected: &Value,
        payload: &Value,
        signature: &Value,
        unprotected: Option<&Value>,
    ) -> Result<Self> {
        let bad = |m| FormatError::JsonSerialization(m);
        let protected = protected
            .as_str()
            .ok_or_else(|| bad("\"protected\" must be a string"))?;
        let payload = payload
            .as_str()
            .ok_or_else(|| bad("\"payload\" must be a string"))?;
        let signature = signature
            .as_str()
            .ok_or_else(|| bad("\"signature\" must be a string"))?;
        let unprotected = match unprotected {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => return Err(bad("\"header\" must be an object").into()),
        };
        Self::from_parts(protected, payload, signature, unprotected)
    }

    fn from_parts(
        h: &str,
        p: &str,
        s: &str,
        unprotected: Option<Map<String, Value>>,
    ) -> Result<Self> {
        if h.is_empty() || s.is_empty() {
            return Err(FormatError::Compact("empty JWS header or signature").into());
        }
        let header_bytes = b64::decode(h, "JWS header")?;
        let header = crate::json::parse_object(&header_bytes, HEADER_MAX_DEPTH, "JWS header")?;
        let payload = b64::decode(p, "JWS payload")?;
        let signature = b64::decode(s, "JWS signature")?;
        let alg = check_header(&header)?;
        if let Some(u) = &unprotected {
            for name in u.keys() {
                if PROTECTED_ONLY.contains(&name.as_str()) {
                    return Err(HeaderError::Invalid(
                        "alg, crit, typ, cty, b64 and zip must be in the protected header",
                    )
                    .into());
                }
                if header.contains_key(name) {
                    return Err(HeaderError::Invalid(
                        "a parameter is in both the protected and the unprotected header",
                    )
                    .into());
                }
            }
        }
        let mut compact = String::with_capacity(h.len() + p.len() + s.len() + 2);
        for (i, part) in [h, p, s].into_iter().enumerate() {
            if i > 0 {
                compact.push('.');
            }
            compact.push_str(part);
        }
        Ok(Self {
            dot1: h.len(),
            dot2: h.len() + 1 + p.len(),
            compact,
            header,
            unprotected,
            alg,
            payload,
            signature,
        })
    }

    /// The compact serialization, exactly as received (for JSON: rebuilt from its parts).
    #[must_use]
    pub fn as_compact(&self) -> &str {
        &self.compact
    }

    /// The signing input `BASE64URL(header) "." BASE64URL(payload)` as received.
    #[must_use]
    pub fn signing_input(&self) -> &[u8] {
        self.compact.as_bytes().get(..self.dot2).unwrap_or_default()
    }

    /// The protected header's base64url text as received.
    #[must_use]
    pub fn protected_b64(&self) -> &str {
        self.compact.get(..self.dot1).unwrap_or_default()
    }

    /// The payload's base64url text as received.
    #[must_use]
    pub fn payload_b64(&self) -> &str {
        self.compact
            .get(self.dot1 + 1..self.dot2)
            .unwrap_or_default()
    }

    /// The signature's base64url text as received.
    #[must_use]
    pub fn signature_b64(&self) -> &str {
        self.compact.get(self.dot2 + 1..).unwrap_or_default()
    }

    /// The decoded protected header.
    #[must_use]
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The unprotected header (JSON serialization only). Not integrity-protected.
    #[must_use]
    pub fn unprotected_header(&self) -> Option<&Map<String, Value>> {
        self.unprotected.as_ref()
    }

    /// The header's `alg` when it names an algorithm credkit implements.
    #[must_use]
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The protected header's `kid`, if it is a string.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The protected header's `typ`, if it is a string.
    #[must_use]
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// The decoded payload bytes.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload parsed as a strict JSON object (a JWT claims set, RFC 7519 §7.2).
    ///
    /// # Errors
    /// `json_*` errors.
    pub fn payload_json(&self, max_depth: usize) -> Result<Map<String, Value>> {
        crate::json::parse_object(&self.payload, max_depth, "JWT payload")
    }

    /// Checks explicit typing (RFC 8725 §3.11): `typ` must equal `expected`, compared
    /// case-insensitively and ignoring an `application/` prefix (RFC 7515 §4.1.9).
    ///
    /// # Errors
    /// `typ_mismatch`.
    pub fn check_typ(&self, expected: &[&str]) -> Result<()> {
        let found = self.typ();
        if found.is_some_and(|t| expected.iter().any(|e| typ_eq(t, e))) {
            return Ok(());
        }
        Err(HeaderError::TypMismatch {
            expected: expected.join(" or "),
            found: found.map(str::to_owned),
        }
        .into())
    }

    /// Verifies the signature with `key`. The header's `alg` must be in `allowed` and be the
    /// key's algorithm.
    ///
    /// # Errors
    /// `alg_not_allowed`, `sig_malformed` or `invalid_signature`.
    pub fn verify(&self, key: &dyn VerifyingKey, allowed: &[Algorithm]) -> Result<()> {
        let alg = self.require_alg(allowed)?;
        if alg != key.algorithm() {
            return Err(HeaderError::AlgNotAllowed(alg.name().into()).into());
        }
        key.verify(self.signing_input(), &self.signature)
    }

    /// The header's algorithm if it is on the allow-list.
    ///
    /// # Errors
    /// `alg_not_allowed`.
    pub fn require_alg(&self, allowed: &[Algorithm]) -> Result<Algorithm> {
        match self.alg {
            Some(a) if allowed.contains(&a) => Ok(a),
            _ => {
                let name = self
                    .header
                    .get("alg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Err(HeaderError::AlgNotAllowed(name.into()).into())
            }
        }
    }
}

fn typ_eq(found: &str, expected: &str) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => t.get(12..).unwrap_or_default(),
            _ => t,
        }
    }
    strip(found).eq_ignore_ascii_case(strip(expected))
}

/// Structural header rules; returns the algorithm when known.
fn check_header(header: &Map<String, Value>) -> Result<Option<Algorithm>> {
    let alg = match header.get("alg") {
        Some(Value::String(a)) => Algorithm::from_name(a),
        Some(_) => return Err(HeaderError::Invalid("\"alg\" must be a string").into()),
        None => return Err(HeaderError::Invalid("\"alg\" is missing").into()),
    };
    if header.contains_key("b64") {
        return Err(HeaderError::Invalid("\"b64\" is not allowed in a JWT (RFC 7797 §7)").into());
    }
    if header.contains_key("zip") {
        return Err(HeaderError::Invalid("\"zip\" is not allowed in a JWS").into());
    }
    if header.contains_key("enc") {
        return Err(HeaderError::Invalid("\"enc\": a JWE is not a JWS").into());
    }
    // `jwk` is never used to verify, but private key material in it is refused (HDR-12).
    if let Some(Value::Object(jwk)) = header.get("jwk")
        && crate::jose::jwk::has_private_members(jwk)
    {
        return Err(crate::error::KeyError::PrivateMaterial(
            "the \"jwk\" header carries private members",
        )
        .into());
    }
    check_crit(header, &REGISTERED)?;
    Ok(alg)
}

/// RFC 7515 §4.1.11 / RFC 7516 §4.1.13: `crit` is a non-empty array of distinct names of
/// present, unregistered parameters. credkit understands no extension, so a well-formed
/// `crit` is `crit_unsupported`.
pub(crate) fn check_crit(header: &Map<String, Value>, registered: &[&str]) -> Result<()> {
    if let Some(crit) = header.get("crit") {
        let Value::Array(names) = crit else {
            return Err(HeaderError::Invalid("\"crit\" must be an array").into());
        };
        if names.is_empty() {
            return Err(HeaderError::Invalid("\"crit\" must not be empty").into());
        }
        let mut seen = Vec::new();
        for n in names {
            let Some(n) = n.as_str() else {
                return Err(HeaderError::Invalid("\"crit\" must list strings").into());
            };
            if registered.contains(&n) || seen.contains(&n) || !header.contains_key(n) {
                return Err(HeaderError::Invalid(
                    "\"crit\" lists a registered, repeated or absent parameter",
                )
                .into());
            }
            seen.push(n);
        }
        // credkit understands no JOSE extensions.
        return Err(HeaderError::CritUnsupported(seen.join(", ")).into());
    }
    Ok(())
}

/// A JWS that waits for its signature: the first half of two-phase signing.
///
/// Asynchronous signers (user presence, remote KMS) take [`UnsignedJws::signing_input`],
/// sign it however long that takes, and call [`UnsignedJws::finish`].
#[derive(Debug, Clone)]
#[must_use]
pub struct UnsignedJws {
    alg: Algorithm,
    header: Map<String, Value>,
    payload_bytes: Vec<u8>,
    protected_len: usize,
    payload_len: usize,
    signing_input: String,
    unprotected: Option<Map<String, Value>>,
}

impl UnsignedJws {
    /// Prepares a JWS over `payload` with a protected header `header` (its `alg` member is
    /// set to `alg`).
    pub fn new(alg: Algorithm, header: Map<String, Value>, payload: &[u8]) -> Self {
        Self::from_payload(alg, header, payload.to_vec())
    }

    /// As [`UnsignedJws::new`], taking the payload bytes it keeps.
    pub(crate) fn from_payload(
        alg: Algorithm,
        mut header: Map<String, Value>,
        payload: Vec<u8>,
    ) -> Self {
        header.insert("alg".into(), alg.name().into());
        // Serialising a map of JSON values into a Vec cannot fail.
        let header_json = serde_json::to_vec(&header).unwrap_or_default();
        // Room for both parts and, later, the dot and the longest signature (P-521: 176).
        let mut signing_input =
            String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 184);
        b64::encode_into(&header_json, &mut signing_input);
        let protected_len = signing_input.len();
        signing_input.push('.');
        b64::encode_into(&payload, &mut signing_input);
        Self {
            alg,
            header,
            payload_bytes: payload,
            protected_len,
            payload_len: signing_input.len() - protected_len - 1,
            signing_input,
            unprotected: None,
        }
    }

    /// Sets the unprotected header (JSON serialization only).
    pub fn with_unprotected(mut self, header: Map<String, Value>) -> Self {
        self.unprotected = Some(header);
        self
    }

    /// The bytes to sign.
    #[must_use]
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The algorithm the signature must be made with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Completes the JWS with a JWS-form signature.
    ///
    /// # Errors
    /// `sig_malformed` when the signature has the wrong length for the algorithm.
    pub fn finish(self, signature: &[u8]) -> Result<Jws> {
        crate::crypto::check_sig_len(self.alg, signature)?;
        if self.unprotected.is_some() {
            let (protected, payload) = self
                .signing_input
                .split_once('.')
                .ok_or(FormatError::Compact("a signing input without a dot"))?;
            // The unprotected header's rules are checked where parsing checks them.
            return Jws::from_parts(
                protected,
                payload,
                &b64::encode(signature),
                self.unprotected,
            );
        }
        // The header and payload were built here: no need to decode what was just encoded,
        // but the header must pass the rules a parser applies.
        let alg = check_header(&self.header)?;
        let mut compact = self.signing_input;
        compact.push('.');
        b64::encode_into(signature, &mut compact);
        Ok(Jws {
            dot1: self.protected_len,
            dot2: self.protected_len + 1 + self.payload_len,
            compact,
            header: self.header,
            unprotected: None,
            alg,
            payload: self.payload_bytes,
            signature: signature.to_vec(),
        })
    }

    /// Signs with a synchronous signer and completes the JWS.
    ///
    /// # Errors
    /// `signer_failed`, `sig_malformed`, or `api_misuse` if the signer's algorithm differs.
    pub fn sign(self, signer: &dyn Signer) -> Result<Jws> {
        if signer.algorithm() != self.alg {
            return Err(crate::error::IssuanceError::ApiMisuse(
                "the signer's algorithm differs from the header's",
            )
            .into());
        }
        let sig = signer.sign(self.signing_input())?;
        self.finish(&sig)
    }
}

/// A protected header with `typ` and, when the signer's key has one, `kid`.
#[must_use]
pub fn header_for(signer: &dyn Signer, typ: Option<&str>) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), signer.algorithm().name().into());
    if let Some(t) = typ {
        h.insert("typ".into(), t.into());
    }
    if let Some(kid) = signer.public_jwk().kid() {
        h.insert("kid".into(), kid.into());
    }
    h
}

#[cfg(test)]
mod tests;
