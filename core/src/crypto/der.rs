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

/// Converts a fixed-length JWS ECDSA signature `R‖S` into a minimal DER `ECDSA-Sig-Value`,
/// written into `out`; returns its length. `None` when `fixed` has an odd length or is
/// longer than a P-521 signature.
#[cfg_attr(not(feature = "aws-lc"), allow(dead_code))]
pub(crate) fn jws_to_der(fixed: &[u8], out: &mut [u8; DER_MAX]) -> Option<usize> {
    if !fixed.len().is_multiple_of(2) || fixed.len() > 132 {
        return None;
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let mut body = [0u8; DER_MAX];
    let mut len = 0;
    for int in [r, s] {
        // Minimal: no leading zero bytes, but one when the high bit is set (positive).
        let first = int
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(int.len().saturating_sub(1));
        let int = int.get(first..)?;
        let pad = usize::from(int.first().is_some_and(|&b| b >= 0x80));
        let int_len = int.len() + pad;
        body.get_mut(len..len + 2)?
            .copy_from_slice(&[0x02, u8::try_from(int_len).ok()?]);
        len += 2;
        if pad == 1 {
            *body.get_mut(len)? = 0;
            len += 1;
        }
        body.get_mut(len..len + int.len())?.copy_from_slice(int);
        len += int.len();
    }
    let header: &[u8] = if len < 0x80 {
        &[0x30, u8::try_from(len).ok()?]
    } else {
        &[0x30, 0x81, u8::try_from(len).ok()?]
    };
    out.get_mut(..header.len())?.copy_from_slice(header);
    out.get_mut(header.len()..header.len() + len)?
        .copy_from_slice(body.get(..len)?);
    Some(header.len() + len)
}

/// The longest DER `ECDSA-Sig-Value` of a P-521 signature: 3 header bytes and two
/// INTEGERs of up to 2 + 67 bytes.
pub(crate) const DER_MAX: usize = 3 + 2 * (2 + 67);

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
    fn fixed_to_der_round_trips_and_is_minimal() {
        let mut out = [0u8; DER_MAX];
        // High bit set in r (sign byte added), leading zeros in s (stripped).
        let mut fixed = vec![0x80u8; 32];
        fixed.extend_from_slice(&[0u8; 31]);
        fixed.push(0x05);
        let n = jws_to_der(&fixed, &mut out).unwrap();
        let der = &out[..n];
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x05]);
        assert_eq!(der_to_jws_signature(Algorithm::Es256, der).unwrap(), fixed);
        // Zero stays one zero byte (the verifier rejects it as out of range).
        let n = jws_to_der(&[0u8; 64], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
        // P-521: the long length form.
        let fixed = vec![0xffu8; 132];
        let n = jws_to_der(&fixed, &mut out).unwrap();
        assert_eq!(&out[..3], &[0x30, 0x81, 0x8a]);
        assert_eq!(n, DER_MAX);
        assert_eq!(
            der_to_jws_signature(Algorithm::Es512, &out[..n]).unwrap(),
            fixed
        );
        // Odd or oversized input.
        assert!(jws_to_der(&[1u8; 63], &mut out).is_none());
        assert!(jws_to_der(&[1u8; 134], &mut out).is_none());
    }

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
