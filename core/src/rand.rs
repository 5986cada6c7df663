//! Randomness for salts, decoys and key generation comes in through [`RandomSource`], so that
//! a platform can supply its own CSPRNG and tests can reproduce issuance byte for byte.

#[cfg(feature = "getrandom")]
use crate::error::CryptoError;
use crate::error::Result;

/// A cryptographically secure random source.
pub trait RandomSource: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    /// [`CryptoError::Random`] when no randomness is available.
    fn fill(&self, buf: &mut [u8]) -> Result<()>;

    /// How many equal-sized draws a caller may combine into one [`RandomSource::fill`]
    /// call (values below 1 count as 1). Sources whose every call is a system call return
    /// more, so that an issuer draws the salts of a credential at once; sources that replay
    /// a fixed sequence call by call (test vectors) keep the default, 1, and then see one
    /// call per draw, in order.
    fn batch_draws(&self) -> usize {
        1
    }
}

/// The operating system's CSPRNG (`getrandom`).
#[cfg(feature = "getrandom")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "getrandom")]
impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|_| CryptoError::Random.into())
    }

    /// 32: one system call serves the salts of a typical credential (512 bytes for 16-byte
    /// salts; `getrandom` retries a call a signal cuts short).
    fn batch_draws(&self) -> usize {
        32
    }
}

/// Returns `n` random bytes.
pub(crate) fn bytes(rng: &dyn RandomSource, n: usize) -> Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v)?;
    Ok(v)
}
/// A random identifier: 128 bits as 32 lowercase hex characters (no `-` or `_`, so it never
/// looks like a command-line option and needs no escaping anywhere).
///
/// # Errors
/// [`CryptoError::Random`] when no randomness is available.
pub fn id(rng: &dyn RandomSource) -> Result<String> {
    use std::fmt::Write;
    let mut out = String::with_capacity(32);
    for b in bytes(rng, 16)? {
        let _ = write!(out, "{b:02x}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_hex_and_distinct() {
        let a = super::id(&super::OsRandom).unwrap();
        let b = super::id(&super::OsRandom).unwrap();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
