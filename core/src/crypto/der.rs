//! DER ECDSA signatures (as Android Keystore, Secure Enclave and most HSMs return them) to
//! the fixed-length JWS form (RFC 7518 §3.4).

use crate::error::{CryptoError, Result};
use crate::jose::Algorithm;

/// Converts a DER `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`) into the JWS form
/// `R‖S` for `alg`. Ed25519 signatures are returned unchanged.
///
/// # Errors
/// `sig_malformed` for anything that is not strict DER of the right size.
pub fn der_to_jws_signature(alg: Algorithm, der: &[u8]) -> Result<Vec<u8>> {
    if alg == Algorithm::EdDsa {
        return Ok(der.to_vec());
    }
    let bad = || CryptoError::SignatureMalformed("not a DER ECDSA signature").into();
    let n = alg.signature_len() / 2;
    let (body, rest) = read_tlv(der, 0x30).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let (r, body) = read_tlv(body, 0x02).ok_or_else(bad)?;
    let (s, body) = read_tlv(body, 0x02).ok_or_else(bad)?;
    if !body.is_empty() {
        return Err(bad());
    }
    let mut out = vec![0u8; 2 * n];
    for (int, slot) in [(r, 0), (s, n)] {
        let int = strip_integer(int).ok_or_else(bad)?;
        if int.len() > n {
            return Err(bad());
        }
        let start = slot + n - int.len();
        out.get_mut(start..slot + n)
            .ok_or_else(bad)?
            .copy_from_slice(int);
    }
    Ok(out)
}

/// Reads one DER TLV with the given tag; returns (contents, remainder).
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else if len0 == 0x81 {
        let (&l, rest) = rest.split_first()?;
        if l < 0x80 {
            return None; // not minimal
        }
        (usize::from(l), rest)
    } else {
        return None; // ECDSA signatures up to P-521 never need more
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Strips the sign byte of a positive DER INTEGER, enforcing minimal encoding.
fn strip_integer(int: &[u8]) -> Option<&[u8]> {
    match int {
        [] => None,
        [0, next, ..] if *next < 0x80 => None, // non-minimal
        [0, rest @ ..] if !rest.is_empty() => Some(rest),
        [first, ..] if *first >= 0x80 => None, // negative
        _ => Some(int),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_der() {
        // r = 0x01, s = 0x80 (needs a sign byte)
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let jws = der_to_jws_signature(Algorithm::Es256, &der).unwrap();
        assert_eq!(jws.len(), 64);
        assert_eq!(jws[31], 1);
        assert_eq!(jws[63], 0x80);
        assert!(jws[..31].iter().all(|&b| b == 0));
    }

    #[test]
    fn rejects_bad_der() {
        for der in [
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x80][..], // negative s
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01][..], // non-minimal r
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01][..],       // truncated
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01][..], // wrong tag
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00][..], // trailing
        ] {
            assert_eq!(
                der_to_jws_signature(Algorithm::Es256, der)
                    .unwrap_err()
                    .code(),
                "sig_malformed"
            );
        }
    }
}
