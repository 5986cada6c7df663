//! Disclosures (RFC 9901 §4.2.1, §4.2.2) and their digests (§4.2.3).
//!
//! A [`Disclosure`] keeps the base64url string it was received or issued as: its digest is
//! computed over exactly those ASCII bytes, never over a re-encoding (§4.2.3, Appendix B).

use serde_json::Value;

use crate::b64;
use crate::crypto::HashAlg;
use crate::crypto::hash::DigestText;
use crate::error::{DisclosureError, Result};

/// A parsed Disclosure: `[salt, name, value]` (object property) or `[salt, value]` (array
/// element).
#[derive(Clone, PartialEq, Eq)]
pub struct Disclosure {
    encoded: String,
    salt: String,
    name: Option<String>,
    value: Value,
}

impl std::fmt::Debug for Disclosure {
    // The salt and the value are private to the holder: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Disclosure {
    /// Parses a Disclosure string strictly (base64url, UTF-8, strict JSON, 2 or 3 elements,
    /// string salt and name, no reserved names).
    ///
    /// # Errors
    /// `b64_invalid`, `json_*`, `disclosure_invalid`, `reserved_claim_name`.
    pub fn parse(encoded: &str, max_depth: usize) -> Result<Self> {
        if encoded.is_empty() {
            return Err(DisclosureError::Invalid("empty disclosure").into());
        }
        let bytes = b64::decode(encoded, "disclosure")?;
        let value = crate::json::parse(&bytes, max_depth, "disclosure")?;
        let Value::Array(items) = value else {
            return Err(DisclosureError::Invalid("a disclosure must be a JSON array").into());
        };
        let mut items = items.into_iter();
        let (salt, name, value) = match (items.next(), items.next(), items.next(), items.next()) {
            (Some(salt), Some(value), None, None) => (salt, None, value),
            (Some(salt), Some(name), Some(value), None) => (salt, Some(name), value),
            _ => return Err(DisclosureError::Invalid("a disclosure has 2 or 3 elements").into()),
        };
        let Value::String(salt) = salt else {
            return Err(DisclosureError::Invalid("the salt must be a string").into());
        };
        let name = match name {
            None => None,
            Some(Value::String(n)) => {
                if n == "_sd" || n == "..." {
                    return Err(DisclosureError::ReservedName(n).into());
                }
                Some(n)
            }
            Some(_) => {
                return Err(DisclosureError::Invalid("the claim name must be a string").into());
            }
        };
        Ok(Self {
            encoded: encoded.to_owned(),
            salt,
            name,
            value,
        })
    }

    /// Creates a Disclosure for an object property (`name` given) or an array element.
    /// The JSON text uses the `", "` / `": "` separators of the RFC's examples.
    ///
    /// # Errors
    /// `reserved_claim_name` for `_sd` and `...`.
    pub fn new(salt: String, name: Option<String>, value: Value) -> Result<Self> {
        Self::new_in(salt, name, value, &mut Vec::new())
    }

    /// As [`Disclosure::new`], writing the JSON text into `scratch` (cleared first), so that
    /// an issuer creating many Disclosures reuses one buffer.
    pub(crate) fn new_in(
        salt: String,
        name: Option<String>,
        value: Value,
        scratch: &mut Vec<u8>,
    ) -> Result<Self> {
        if let Some(n) = &name
            && (n == "_sd" || n == "...")
        {
            return Err(DisclosureError::ReservedName(n.clone()).into());
        }
        scratch.clear();
        // A tuple serialises as the JSON array `[salt, name, value]`, without copying them.
        match &name {
            Some(n) => spaced_json_into(&(&salt, n, &value), scratch),
            None => spaced_json_into(&(&salt, &value), scratch),
        }
        Ok(Self {
            encoded: b64::encode(scratch),
            salt,
            name,
            value,
        })
    }

    /// The base64url string, as received or issued.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// The claim name (`None` for an array element).
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The disclosed value.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The salt. Secret between issuer and holder.
    #[must_use]
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The digest over the base64url string (RFC 9901 §4.2.3).
    #[must_use]
    pub fn digest(&self, alg: HashAlg) -> String {
        alg.digest_b64(self.encoded.as_bytes())
    }

    /// As [`Disclosure::digest`], held inline.
    pub(crate) fn digest_text(&self, alg: HashAlg) -> DigestText {
        alg.digest_text(self.encoded.as_bytes())
    }
}

/// Appends `value` to `out` as JSON with `", "` and `": "` separators and raw UTF-8, as
/// Python's `json.dumps` writes it (the style of every RFC 9901 example).
fn spaced_json_into<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let mut ser = serde_json::Serializer::with_formatter(out, Spaced);
    // Serializing JSON values into a Vec cannot fail.
    let _ = value.serialize(&mut ser);
}

struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9901_examples_reproduce() {
        // RFC 9901 §4.2.1 and §4.2.2
        let d = Disclosure::new(
            "_26bc4LT-ac6q2KI6cBW5es".into(),
            Some("family_name".into()),
            "Möbius".into(),
        )
        .unwrap();
        assert_eq!(
            d.as_str(),
            "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
        );
        let d = Disclosure::new("lklxF5jMYlGTPUovMNIvCA".into(), None, "FR".into()).unwrap();
        assert_eq!(d.as_str(), "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0");
        assert_eq!(
            d.digest(HashAlg::Sha256),
            "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"
        );
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let enc = |s: &str| b64::encode(s.as_bytes());
        let code = |s: &str| Disclosure::parse(&enc(s), 16).unwrap_err().code();
        assert_eq!(code(r#"{"a":1}"#), "disclosure_invalid"); // SD-12
        assert_eq!(code(r#"["salt"]"#), "disclosure_invalid");
        assert_eq!(code(r#"["s","n","v","x"]"#), "disclosure_invalid");
        assert_eq!(code(r#"[1,"n","v"]"#), "disclosure_invalid"); // SD-13
        assert_eq!(code(r#"["s",1,"v"]"#), "disclosure_invalid");
        assert_eq!(code(r#"["s","_sd","v"]"#), "reserved_claim_name"); // SD-08
        assert_eq!(code(r#"["s","...","v"]"#), "reserved_claim_name");
        assert_eq!(code(r#"["s","n",{"a":1,"a":2}]"#), "json_duplicate_key"); // SD-14
        assert_eq!(code(r#"["s","n","v"] x"#), "json_invalid");
        assert_eq!(
            Disclosure::parse("", 16).unwrap_err().code(),
            "disclosure_invalid"
        );
        assert_eq!(
            Disclosure::parse("WyJzIiwgInYiXQ==", 16)
                .unwrap_err()
                .code(),
            "b64_invalid"
        );
    }
}
