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
}

/// Returns `n` random bytes.
pub(crate) fn bytes(rng: &dyn RandomSource, n: usize) -> Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v)?;
    Ok(v)
}
