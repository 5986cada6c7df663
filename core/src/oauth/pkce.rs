//! Proof Key for Code Exchange (RFC 7636) with the `S256` method only: the client makes a
//! 256-bit verifier (§4.1, §7.1) and sends `BASE64URL(SHA-256(verifier))` (§4.2); the
//! server recomputes it at the token endpoint (§4.6). `plain` is neither produced nor
//! accepted (§7.2, HAIP 1.0 §4, FAPI 2.0).

use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::HashAlg;
use crate::error::{Oid4vciError, Result};
use crate::rand::RandomSource;

/// The only `code_challenge_method` credkit sends or accepts.
pub const S256: &str = "S256";

/// A PKCE `code_verifier`: secret until the token request, zeroized when dropped,
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(Zeroizing<String>);

impl serde::Serialize for CodeVerifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CodeVerifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = Zeroizing::new(<String as serde::Deserialize>::deserialize(d)?);
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier(..)")
    }
}

impl CodeVerifier {
    /// A fresh verifier: 32 random octets, base64url (43 characters, 256 bits; §4.1, §7.1).
    ///
    /// # Errors
    /// `rng_failed`.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(&mut bytes[..])?;
        Ok(Self(Zeroizing::new(crate::b64::encode_secret(&bytes[..]))))
    }

    /// A verifier received at the token endpoint, checked for the §4.1 syntax
    /// (43–128 characters of `[A-Za-z0-9-._~]`).
    ///
    /// # Errors
    /// `invalid_pkce`.
    pub fn parse(text: &str) -> Result<Self> {
        check_syntax(text, "code_verifier")?;
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// The verifier text, for the token request.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its `S256` challenge (§4.2).
    #[must_use]
    pub fn challenge(&self) -> String {
        HashAlg::Sha256.digest_b64(self.0.as_bytes())
    }

    /// Checks this verifier against the `S256` `challenge` stored with the code (§4.6), in
    /// constant time.
    ///
    /// # Errors
    /// `invalid_pkce` on mismatch.
    pub fn verify(&self, challenge: &str) -> Result<()> {
        if crate::openid4vp::verifier::same_secret(&self.challenge(), challenge) {
            Ok(())
        } else {
            Err(Oid4vciError::InvalidPkce("the code_verifier does not match".into()).into())
        }
    }
}

/// Checks an authorization request's PKCE parameters: the method must be given and be
/// `S256` (a missing method means `plain`, §4.3), the challenge must be a base64url SHA-256
/// value (43 characters).
///
/// # Errors
/// `invalid_pkce`.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String> {
    let challenge =
        challenge.ok_or_else(|| Oid4vciError::InvalidPkce("code_challenge is required".into()))?;
    match method {
        Some(S256) => {}
        Some(other) => {
            return Err(Oid4vciError::InvalidPkce(format!(
                "code_challenge_method {other:?} is not allowed; only S256"
            ))
            .into());
        }
        None => {
            return Err(Oid4vciError::InvalidPkce(
                "code_challenge_method is required (its default, plain, is not allowed)".into(),
            )
            .into());
        }
    }
    check_syntax(challenge, "code_challenge")?;
    if challenge.len() != 43 {
        return Err(
            Oid4vciError::InvalidPkce("an S256 code_challenge has 43 characters".into()).into(),
        );
    }
    Ok(challenge.to_owned())
}

fn check_syntax(text: &str, what: &str) -> Result<()> {
    let ok = (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(Oid4vciError::InvalidPkce(format!(
            "{what} must be 43 to 128 characters of [A-Za-z0-9-._~]"
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        let v = CodeVerifier::parse(VERIFIER).unwrap();
        assert_eq!(v.challenge(), CHALLENGE);
        v.verify(CHALLENGE).unwrap();
        // The challenge sent as verifier (vector negative case).
        let wrong = CodeVerifier::parse(CHALLENGE).unwrap();
        assert_eq!(wrong.verify(CHALLENGE).unwrap_err().code(), "invalid_pkce");
    }

    #[test]
    fn verifier_syntax() {
        for bad in [
            &VERIFIER[..42],
            &"a".repeat(129),
            "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
        ] {
            assert_eq!(CodeVerifier::parse(bad).unwrap_err().code(), "invalid_pkce");
        }
        CodeVerifier::parse(&"a".repeat(128)).unwrap();
    }

    #[test]
    fn generated_verifier_has_256_bits() {
        let v = CodeVerifier::generate(&crate::rand::OsRandom).unwrap();
        assert_eq!(v.as_str().len(), 43);
        CodeVerifier::parse(v.as_str()).unwrap();
        assert_eq!(format!("{v:?}"), "CodeVerifier(..)");
    }

    #[test]
    fn only_s256_challenges() {
        assert_eq!(
            check_challenge(Some(CHALLENGE), Some("S256")).unwrap(),
            CHALLENGE
        );
        for (c, m) in [
            (Some(CHALLENGE), None),
            (Some(CHALLENGE), Some("plain")),
            (None, Some("S256")),
            (Some("short"), Some("S256")),
            (Some(VERIFIER), Some("s256")),
        ] {
            assert_eq!(check_challenge(c, m).unwrap_err().code(), "invalid_pkce");
        }
    }
}
