//! Strict base64url without padding (RFC 7515 §2, RFC 4648 §5).
//!
//! Decoding is constant-time (`base64ct`) and rejects padding, the standard alphabet,
//! white space, lengths ≡ 1 (mod 4) and non-canonical trailing bits.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{EncodingError, Result};

/// Encodes bytes as unpadded base64url.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded, canonical base64url; `what` names the input in the error.
///
/// # Errors
/// [`EncodingError::Base64`] for anything but canonical unpadded base64url.
pub fn decode(text: &str, what: &'static str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| EncodingError::Base64 { what }.into())
}

/// Encodes bytes as padded standard base64 (RFC 4648 §4), as `x5c` and SRI use it.
#[must_use]
pub fn encode_std(bytes: &[u8]) -> String {
    base64ct::Base64::encode_string(bytes)
}

/// Decodes canonical padded standard base64 (RFC 4648 §4): no white space, no base64url
/// alphabet, no missing padding.
///
/// # Errors
/// [`EncodingError::Base64`] for anything else.
pub fn decode_std(text: &str, what: &'static str) -> Result<Vec<u8>> {
    base64ct::Base64::decode_vec(text).map_err(|_| EncodingError::Base64 { what }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode(b"hello"), "aGVsbG8");
        assert_eq!(decode("aGVsbG8", "t").unwrap(), b"hello");
        // padding (ENC-01)
        assert_eq!(decode("aGVsbG8=", "t").unwrap_err().code(), "b64_invalid");
        // standard alphabet (ENC-02)
        assert_eq!(decode("+/+/", "t").unwrap_err().code(), "b64_invalid");
        // white space (ENC-03)
        assert_eq!(decode("aGVs bG8", "t").unwrap_err().code(), "b64_invalid");
        assert_eq!(decode("aGVsbG8\n", "t").unwrap_err().code(), "b64_invalid");
        // non-canonical trailing bits (ENC-05): "AB" decodes to the same byte as "AA"
        assert!(decode("AA", "t").is_ok());
        assert_eq!(decode("AB", "t").unwrap_err().code(), "b64_invalid");
        // length = 1 mod 4 (ENC-06)
        assert_eq!(decode("AAAAA", "t").unwrap_err().code(), "b64_invalid");
        // non-alphabet (ENC-04)
        assert_eq!(decode("AA?A", "t").unwrap_err().code(), "b64_invalid");
    }
}
