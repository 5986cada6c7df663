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
    pub const fn output_len(self) -> usize {
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

    /// As [`HashAlg::digest_b64`], held inline instead of in a `String` (no allocation).
    #[must_use]
    pub(crate) fn digest_text(self, data: &[u8]) -> DigestText {
        let mut text = DigestText {
            len: 0,
            text: [0; DigestText::MAX],
        };
        let n = match self {
            Self::Sha256 => crate::b64::encode_slice(&sha2::Sha256::digest(data), &mut text.text),
            Self::Sha384 => crate::b64::encode_slice(&sha2::Sha384::digest(data), &mut text.text),
            Self::Sha512 => crate::b64::encode_slice(&sha2::Sha512::digest(data), &mut text.text),
        };
        // `MAX` holds the longest digest's text (asserted at compile time), so both fallbacks
        // are unreachable; an empty text would be refused by every verifier, not misread.
        debug_assert!(n.is_some(), "DigestText::MAX is too small");
        text.len = n.and_then(|n| u8::try_from(n).ok()).unwrap_or(0);
        text
    }

    /// Hashes `data` and returns the base64url encoding (the form used in `_sd` and `sd_hash`).
    #[must_use]
    pub fn digest_b64(self, data: &[u8]) -> String {
        self.digest_text(data).into_string()
    }
}

// Every hash's base64url text fits in a `DigestText`.
const _: () = {
    let mut rest: &[HashAlg] = &HashAlg::ALL;
    while let [alg, tail @ ..] = rest {
        assert!((alg.output_len() * 4).div_ceil(3) <= DigestText::MAX);
        rest = tail;
    }
};

/// A digest's base64url text, held inline.
#[derive(Clone, Copy)]
pub(crate) struct DigestText {
    len: u8,
    text: [u8; Self::MAX],
}

impl DigestText {
    /// The longest text: SHA-512, 64 bytes, is 86 characters of unpadded base64url.
    const MAX: usize = 86;

    /// The base64url characters.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.text.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The text as a `String`.
    pub(crate) fn into_string(self) -> String {
        // base64url is ASCII: every byte is a character.
        let mut s = String::with_capacity(usize::from(self.len));
        s.extend(self.as_bytes().iter().map(|&b| char::from(b)));
        s
    }

    /// The order of the texts as strings, deciding on the first eight bytes in one integer
    /// comparison (digests differ there almost always).
    pub(crate) fn cmp_text(&self, other: &Self) -> std::cmp::Ordering {
        // Fixed-size prefixes of the whole array: the bytes after `len` are zero, and the
        // base64url alphabet has no zero byte, so a shorter text still sorts first.
        let prefix = |t: &Self| t.text.first_chunk::<8>().map(|p| u64::from_be_bytes(*p));
        prefix(self)
            .cmp(&prefix(other))
            .then_with(|| self.as_bytes().cmp(other.as_bytes()))
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

    fn text(s: &str) -> DigestText {
        let mut t = DigestText {
            len: u8::try_from(s.len()).unwrap(),
            text: [0; DigestText::MAX],
        };
        t.text
            .get_mut(..s.len())
            .unwrap()
            .copy_from_slice(s.as_bytes());
        t
    }

    #[test]
    fn digest_text_is_the_base64url_of_the_digest() {
        for alg in HashAlg::ALL {
            for data in [&b""[..], b"x", &[7u8; 300]] {
                let t = alg.digest_text(data);
                // Against the digest's bytes, encoded separately.
                assert_eq!(t.into_string(), crate::b64::encode(&alg.digest(data)));
                assert_eq!(t.as_bytes().len(), (alg.output_len() * 4).div_ceil(3));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_digest_text_order_is_the_string_order(
            // A small alphabet, so that texts often share their first eight characters.
            a in "[-_ab]{43,86}",
            b in "[-_ab]{43,86}",
        ) {
            proptest::prop_assert_eq!(text(&a).cmp_text(&text(&b)), a.cmp(&b));
            proptest::prop_assert_eq!(text(&b).cmp_text(&text(&a)), b.cmp(&a));
            proptest::prop_assert_eq!(text(&a).cmp_text(&text(&a)), std::cmp::Ordering::Equal);
        }
    }
}
