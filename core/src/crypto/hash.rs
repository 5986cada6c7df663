//! Hash algorithms for `_sd_alg` and `sd_hash` (RFC 9901 §4.1.1, §4.2.3, §4.3.1), named as in
//! the IANA "Named Information Hash Algorithm" registry. Truncated variants (`sha-256-32`,
//! ...) and SHA-1 are deliberately absent (RFC 9901 §9.4).

use sha2::Digest;

/// A hash algorithm usable for disclosure digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HashAlg {
    /// `sha-256`, the default (RFC 9901 §4.1.1).
    #[default]
    Sha256,
    /// `sha-384`.
    Sha384,
    /// `sha-512`.
    Sha512,
}

impl HashAlg {
    /// Every hash algorithm credkit implements.
    pub const ALL: [Self; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The IANA hash name (`sha-256`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// Exact, case-sensitive lookup of an IANA hash name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The digest length in bytes.
    #[must_use]
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes `data`.
    #[must_use]
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Hashes the concatenation of `chunks` (without building it) and returns the base64url
    /// encoding.
    #[must_use]
    pub fn digest_chunks_b64<'a>(self, chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
        fn run<'a, D: Digest>(chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
            let mut h = D::new();
            for c in chunks {
                h.update(c);
            }
            crate::b64::encode(&h.finalize())
        }
        match self {
            Self::Sha256 => run::<sha2::Sha256>(chunks),
            Self::Sha384 => run::<sha2::Sha384>(chunks),
            Self::Sha512 => run::<sha2::Sha512>(chunks),
        }
    }

    /// Hashes `data` and returns the base64url encoding (the form used in `_sd` and `sd_hash`).
    #[must_use]
    pub fn digest_b64(self, data: &[u8]) -> String {
        // Encoded straight from the digest on the stack.
        match self {
            Self::Sha256 => crate::b64::encode(&sha2::Sha256::digest(data)),
            Self::Sha384 => crate::b64::encode(&sha2::Sha384::digest(data)),
            Self::Sha512 => crate::b64::encode(&sha2::Sha512::digest(data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_sensitive_and_exclude_weak() {
        assert_eq!(HashAlg::from_name("sha-256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_name("SHA-256"), None);
        assert_eq!(HashAlg::from_name("sha-1"), None);
        assert_eq!(HashAlg::from_name("sha-256-32"), None);
    }

    #[test]
    fn rfc9901_disclosure_digest() {
        // RFC 9901 §4.2.1 / §4.2.3 example: the digest of the given_name Disclosure.
        let d = "WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0";
        assert_eq!(
            HashAlg::Sha256.digest_b64(d.as_bytes()),
            "uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY"
        );
    }
}
