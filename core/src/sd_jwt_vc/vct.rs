//! The credential type identifier `vct` (draft-ietf-oauth-sd-jwt-vc §2.2.2.1).

use std::fmt;

use crate::error::{Result, VcError};

/// Longest accepted `vct` in bytes.
const MAX_VCT_LEN: usize = 2048;

/// A validated credential type: a case-sensitive Collision-Resistant Name (RFC 7515 §2).
///
/// Accepted are absolute URIs (`urn:eudi:pid:1`, `https://example.com/identity_credential`)
/// and reverse-domain names of at least two labels (`eu.europa.ec.eudi.pid.1`), whose
/// namespaces are allocated so that names do not collide. A bare word such as `PID` is not
/// collision resistant and is refused. The string is kept exactly as given: comparisons are
/// byte-for-byte, never normalised.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vct(String);

impl Vct {
    /// Validates `vct`.
    ///
    /// # Errors
    /// `vct_invalid` for an empty, over-long, non-printable or non-collision-resistant name.
    pub fn new(vct: impl Into<String>) -> Result<Self> {
        let vct = vct.into();
        if vct.is_empty() {
            return Err(VcError::VctInvalid("vct is empty".into()).into());
        }
        if vct.len() > MAX_VCT_LEN {
            return Err(VcError::VctInvalid("vct is longer than 2048 bytes".into()).into());
        }
        if vct.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(VcError::VctInvalid(
                "vct contains whitespace or control characters".into(),
            )
            .into());
        }
        if !(is_absolute_uri(&vct) || is_reverse_domain(&vct)) {
            return Err(VcError::VctInvalid(format!(
                "{vct:?} is not a collision-resistant name (an absolute URI or a reverse domain name)"
            ))
            .into());
        }
        Ok(Self(vct))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Vct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Vct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Vct {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Vct {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// `scheme ":" rest` with an RFC 3986 scheme and a non-empty rest.
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && (scheme != "https" && scheme != "http" || rest.starts_with("//") && rest.len() > 2)
}

/// `label.label(.label)*`, each label non-empty alphanumeric with `-` or `_`, the first
/// (top-level domain) alphabetic.
fn is_reverse_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        && labels
            .first()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collision_resistant_names() {
        for ok in [
            "urn:eudi:pid:1",
            "https://credentials.example.com/identity_credential",
            "eu.europa.ec.eudi.pid.1",
            "urn:eu.europa.ec.eudi:pid:1",
        ] {
            assert_eq!(Vct::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "PID",
            "pid 1",
            "https:",
            "https:foo",
            "1.2.3",
            "a..b",
            ":x",
            "urn:",
        ] {
            assert_eq!(Vct::new(bad).unwrap_err().code(), "vct_invalid", "{bad:?}");
        }
    }
}
