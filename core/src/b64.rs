//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5), and padded standard base64
//! (RFC 4648 §4) for `x5c` and SRI.
//!
//! Every decoder is strict: it rejects padding where there is none (and missing padding where
//! there must be some), the other alphabet, white space, lengths ≡ 1 (mod 4) and non-canonical
//! trailing bits, so one value has exactly one text.
//!
//! Two implementations, chosen by what the bytes are:
//! - [`encode_secret`] / [`decode_secret`] are constant-time (`base64ct`): for private key
//!   material (a JWK's `d`), whose bytes must not steer branches or memory accesses.
//! - [`encode`] / [`decode`] and the standard-alphabet pair are table-driven (`base64`), about
//!   five times faster: for JOSE headers and payloads, Disclosures and their salts, digests,
//!   public keys and certificates. Those bytes are parsed or serialised as JSON right before or after, and no
//!   JSON implementation is constant-time, so a constant-time codec there would cost a
//!   verifier ~7 µs per presentation (base64ct decodes at ~3 ns per character; see
//!   BENCHMARKS.md) and protect nothing.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64ct::{Base64UrlUnpadded, Encoding};
use zeroize::Zeroizing;

use crate::error::{EncodingError, Result};

/// base64url, no padding on output, padding refused on input, canonical trailing bits only.
const URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Standard alphabet, padding written and required, canonical trailing bits only.
const STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes public bytes as unpadded base64url.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    // Sized exactly (unpadded: ⌈4n/3⌉) and filled in place: the crate's `encode` allocates a
    // zeroed buffer and then validates it as UTF-8, which costs more than the encoding for
    // short inputs.
    let mut out = String::with_capacity(bytes.len().saturating_mul(4).div_ceil(3));
    URL.encode_string(bytes, &mut out);
    out
}

/// Appends public bytes as unpadded base64url to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL.encode_string(bytes, out);
}

/// Writes public bytes as unpadded base64url at the start of `out` and returns the length
/// written; `None` (nothing written) when `out` is too short.
#[must_use]
pub(crate) fn encode_slice(bytes: &[u8], out: &mut [u8]) -> Option<usize> {
    URL.encode_slice(bytes, out).ok()
}

/// Appends public bytes as unpadded base64url to `out`.
pub(crate) fn encode_vec(bytes: &[u8], out: &mut Vec<u8>) {
    let at = out.len();
    out.resize(at + bytes.len().saturating_mul(4).div_ceil(3), 0);
    // The buffer was just sized for the text.
    let n = out.get_mut(at..).and_then(|tail| encode_slice(bytes, tail));
    out.truncate(at + n.unwrap_or(0));
}

/// Decodes unpadded, canonical base64url of public bytes; `what` names the input in the error.
///
/// # Errors
/// [`EncodingError::Base64`] for anything but canonical unpadded base64url.
pub fn decode(text: &str, what: &'static str) -> Result<Vec<u8>> {
    URL.decode(text)
        .map_err(|_| EncodingError::Base64 { what }.into())
}

/// Encodes secret bytes as unpadded base64url in constant time. The caller zeroizes the
/// text when it is done with it.
#[must_use]
pub fn encode_secret(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded, canonical base64url of secret bytes in constant time (with respect to
/// the bytes; the length is public).
///
/// # Errors
/// [`EncodingError::Base64`] for anything but canonical unpadded base64url.
pub fn decode_secret(text: &str, what: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    // Decoded into a buffer that is zeroized on every path: base64ct writes every block
    // before it reports an error, so a refused text would otherwise leave its bytes behind.
    let mut out = Zeroizing::new(vec![0u8; text.len() / 4 * 3 + 2]);
    let len = Base64UrlUnpadded::decode(text, &mut out)
        .map_err(|_| EncodingError::Base64 { what })?
        .len();
    out.truncate(len);
    Ok(out)
}

/// Encodes bytes as padded standard base64 (RFC 4648 §4), as `x5c` and SRI use it.
#[must_use]
pub fn encode_std(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3).saturating_mul(4));
    STD.encode_string(bytes, &mut out);
    out
}

/// Decodes canonical padded standard base64 (RFC 4648 §4): no white space, no base64url
/// alphabet, no missing padding.
///
/// # Errors
/// [`EncodingError::Base64`] for anything else.
pub fn decode_std(text: &str, what: &'static str) -> Result<Vec<u8>> {
    STD.decode(text)
        .map_err(|_| EncodingError::Base64 { what }.into())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    type Decoder = fn(&str) -> Result<Vec<u8>>;

    /// Both base64url decoders, so every strictness rule is checked on each.
    fn decoders() -> [(&'static str, Decoder); 2] {
        [
            ("table-driven", |t| decode(t, "t")),
            ("constant-time", |t| {
                decode_secret(t, "t").map(|v| v.to_vec())
            }),
        ]
    }

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode(b"hello"), "aGVsbG8");
        let mut out = String::from("x.");
        encode_into(b"hello", &mut out);
        assert_eq!(out, "x.aGVsbG8");
        assert_eq!(encode_secret(b"hello"), "aGVsbG8");
        // (input, expected code), with the ATTACKS.md row each case stands for.
        let cases = [
            ("aGVsbG8", "ok"),
            ("", "ok"),
            ("aGVsbG8=", "b64_invalid"), // padding (ENC-01)
            ("AA==", "b64_invalid"),
            ("+/+/", "b64_invalid"),     // standard alphabet (ENC-02)
            ("aGVs bG8", "b64_invalid"), // white space (ENC-03)
            ("aGVsbG8\n", "b64_invalid"),
            ("AA", "ok"), // "AB" decodes to the same byte as "AA" (ENC-05)
            ("AB", "b64_invalid"),
            ("AAB", "b64_invalid"),
            ("AAAAA", "b64_invalid"), // length = 1 mod 4 (ENC-06)
            ("A", "b64_invalid"),
            ("AA?A", "b64_invalid"), // non-alphabet (ENC-04), also past the first block
            ("AAAAAAAAAAAAAAAA\u{e9}AA", "b64_invalid"),
        ];
        for (name, dec) in decoders() {
            assert_eq!(dec("aGVsbG8").unwrap(), b"hello", "{name}");
            for (input, expected) in cases {
                let found = dec(input).map_or_else(|e| e.code(), |_| "ok");
                assert_eq!(found, expected, "{name}: {input:?}");
            }
        }
    }

    #[test]
    fn standard_alphabet_is_strict() {
        assert_eq!(encode_std(b"hello"), "aGVsbG8=");
        assert_eq!(decode_std("aGVsbG8=", "t").unwrap(), b"hello");
        for bad in ["aGVsbG8", "aGVsbG8==", "-_-_", "aGVs bG8=", "AB==", "AAF="] {
            assert_eq!(
                decode_std(bad, "t").unwrap_err().code(),
                "b64_invalid",
                "{bad}"
            );
        }
    }

    /// Text made of the base64url alphabet, a few characters of the standard one, padding
    /// and white space: mostly valid, often not.
    fn mixed_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                8 => proptest::sample::select(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
                ),
                1 => proptest::sample::select(b"+/= \n.".to_vec()),
            ],
            0..64,
        )
        .prop_map(|b| String::from_utf8(b).unwrap_or_default())
    }

    proptest! {
        /// The fast and the constant-time codec are interchangeable: same text out, and the
        /// same verdict and bytes on any input (a differential test against base64ct).
        #[test]
        fn codecs_agree(bytes in proptest::collection::vec(any::<u8>(), 0..200), text in mixed_text()) {
            let fast = encode(&bytes);
            prop_assert_eq!(&fast, &encode_secret(&bytes));
            prop_assert_eq!(decode(&fast, "t").unwrap(), bytes.clone());
            let a = decode(&text, "t").ok();
            let b = decode_secret(&text, "t").ok().map(|v| v.to_vec());
            prop_assert_eq!(a, b, "{:?}", text);
            let std_text = encode_std(&bytes);
            prop_assert_eq!(&std_text, &base64ct::Base64::encode_string(&bytes));
            let a = decode_std(&text, "t").ok();
            let b = base64ct::Base64::decode_vec(&text).ok();
            prop_assert_eq!(a, b, "{:?}", text);
        }
    }
}
