//! Crypto behind traits, in the spirit of rustls's `CryptoProvider`.
//!
//! - [`Signer`]: anything that can produce a JWS signature: a software key, a Secure Enclave
//!   or StrongBox key, an HSM, a cloud KMS. credkit never needs private key bytes.
//! - [`VerifyingKey`]: a public key parsed **once** and validated (point on curve), then used
//!   for any number of verifications.
//! - [`CryptoProvider`]: turns JWKs into verifying keys and software signers and generates
//!   keys. Two ship: [`rustcrypto`] (pure Rust, the default) and `aws_lc` (feature `aws-lc`,
//!   for verifiers that check thousands of presentations a second).
//!
//! Key agreement (ECDH on P-256) and AES-GCM, what JWE needs (RFC 7518 §4.6, §5.3), go
//! through the provider as well ([`CryptoProvider::ecdh`], [`CryptoProvider::aead_seal`]).
//!
//! Signatures are always in JWS form (RFC 7518 §3.4: fixed-length `R‖S` for ECDSA, 64 bytes
//! for Ed25519). Hardware keystores return DER; [`der_to_jws_signature`] converts.
//!
//! Asynchronous signers (user presence, network KMS) do not implement [`Signer`]: every
//! signing operation in credkit is split into "prepare the signing input" and "finish with a
//! signature" (see [`crate::jose::UnsignedJws`]), so an async caller awaits its signer in
//! between without the SDK blocking.

use std::fmt::Debug;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::jose::jwe::ContentEncryption;
use crate::jose::{Algorithm, PrivateJwk, PublicJwk};
use crate::rand::RandomSource;

#[cfg(feature = "aws-lc")]
pub mod aws_lc;
mod der;
pub(crate) mod hash;
#[cfg(feature = "rustcrypto")]
pub mod rustcrypto;

pub use der::der_to_jws_signature;
pub use hash::HashAlg;

/// Produces JWS signatures with a key the SDK never sees.
pub trait Signer: Send + Sync {
    /// The JWS algorithm this signer uses.
    fn algorithm(&self) -> Algorithm;

    /// The public key, as published in `cnf.jwk` or issuer metadata. Its `kid`, when set,
    /// goes into the JWS header.
    fn public_jwk(&self) -> &PublicJwk;

    /// Signs `message` (the JWS signing input) and returns the JWS-form signature.
    ///
    /// # Errors
    /// Whatever the key store reports, as [`CryptoError::Signer`].
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// Smart pointers to a signer are signers.
macro_rules! forward_signer {
    ($($ptr:ty),*) => {$(
        impl<S: Signer + ?Sized> Signer for $ptr {
            fn algorithm(&self) -> Algorithm {
                (**self).algorithm()
            }
            fn public_jwk(&self) -> &PublicJwk {
                (**self).public_jwk()
            }
            fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
                (**self).sign(message)
            }
        }
    )*};
}

forward_signer!(&S, Box<S>, Arc<S>);

/// A parsed, validated public key bound to one algorithm.
pub trait VerifyingKey: Send + Sync + Debug {
    /// The only algorithm this key verifies.
    fn algorithm(&self) -> Algorithm;

    /// The key as a JWK.
    fn jwk(&self) -> &PublicJwk;

    /// Verifies a JWS-form signature over `message`.
    ///
    /// # Errors
    /// `sig_malformed` for a signature of the wrong length, `invalid_signature` otherwise.
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()>;
}

/// A set of algorithm implementations.
pub trait CryptoProvider: Send + Sync + Debug {
    /// A short name for diagnostics and benchmarks.
    fn name(&self) -> &'static str;

    /// Whether this provider implements `alg`.
    fn supports(&self, alg: Algorithm) -> bool;

    /// Loads a public key for `alg`, validating it (on the curve, not the identity).
    ///
    /// # Errors
    /// `invalid_key`, `key_alg_mismatch` or `alg_unsupported`.
    fn verifying_key(&self, jwk: &PublicJwk, alg: Algorithm) -> Result<Arc<dyn VerifyingKey>>;

    /// Loads a software private key as a [`Signer`].
    ///
    /// # Errors
    /// `invalid_key` when `d` is not a valid scalar or does not match the public key.
    fn signer(&self, jwk: &PrivateJwk) -> Result<Arc<dyn Signer>>;

    /// Generates a fresh software key for `alg`.
    ///
    /// # Errors
    /// `random_failed` or `alg_unsupported`.
    fn generate(&self, alg: Algorithm, rng: &dyn RandomSource) -> Result<PrivateJwk>;

    /// Elliptic-curve Diffie-Hellman (RFC 7518 §4.6, NIST SP 800-56A): the shared secret `Z`
    /// (the x-coordinate) of `private` and `public`. `public` is validated as a point on
    /// `private`'s curve before any arithmetic (invalid-curve attacks, RFC 8725 §3.4);
    /// a point that is not is `invalid_epk`. P-256 is what HAIP requires and what the shipped
    /// providers implement.
    ///
    /// # Errors
    /// `invalid_epk`, `invalid_key`, `unsupported_key`, or `alg_unsupported` for a provider
    /// without key agreement (the default).
    fn ecdh(&self, private: &PrivateJwk, public: &PublicJwk) -> Result<Zeroizing<Vec<u8>>> {
        let _ = (private, public);
        Err(CryptoError::UnsupportedAlgorithm("ECDH-ES").into())
    }

    /// AES-GCM encryption (RFC 7518 §5.3) with a 96-bit `iv`: returns the ciphertext followed
    /// by the 128-bit tag.
    ///
    /// # Errors
    /// `alg_unsupported` for a provider without AES-GCM (the default); `invalid_key` for a
    /// key or IV of the wrong length.
    fn aead_seal(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let _ = (key, iv, aad, plaintext);
        Err(CryptoError::UnsupportedAlgorithm(enc.name()).into())
    }

    /// AES-GCM decryption of `ciphertext` with its 128-bit `tag`.
    ///
    /// # Errors
    /// `jwe_decrypt_failed` when the tag does not verify; otherwise as
    /// [`CryptoProvider::aead_seal`].
    fn aead_open(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let _ = (key, iv, aad, ciphertext, tag);
        Err(CryptoError::UnsupportedAlgorithm(enc.name()).into())
    }
}

/// The default provider of this build: RustCrypto when enabled, else aws-lc-rs.
#[must_use]
pub fn default_provider() -> &'static dyn CryptoProvider {
    #[cfg(feature = "rustcrypto")]
    {
        &rustcrypto::RustCrypto
    }
    #[cfg(all(not(feature = "rustcrypto"), feature = "aws-lc"))]
    {
        &aws_lc::AwsLc
    }
    #[cfg(not(any(feature = "rustcrypto", feature = "aws-lc")))]
    {
        &NoProvider
    }
}

/// Every provider compiled into this build (for tests and benchmarks).
#[must_use]
pub fn all_providers() -> Vec<&'static dyn CryptoProvider> {
    vec![
        #[cfg(feature = "rustcrypto")]
        &rustcrypto::RustCrypto,
        #[cfg(feature = "aws-lc")]
        &aws_lc::AwsLc,
    ]
}

/// A provider that supports nothing (builds without any crypto feature).
#[derive(Debug, Clone, Copy)]
pub struct NoProvider;

impl CryptoProvider for NoProvider {
    fn name(&self) -> &'static str {
        "none"
    }
    fn supports(&self, _alg: Algorithm) -> bool {
        false
    }
    fn verifying_key(&self, _jwk: &PublicJwk, alg: Algorithm) -> Result<Arc<dyn VerifyingKey>> {
        Err(CryptoError::UnsupportedAlgorithm(alg.name()).into())
    }
    fn signer(&self, jwk: &PrivateJwk) -> Result<Arc<dyn Signer>> {
        Err(CryptoError::UnsupportedAlgorithm(jwk.public().algorithm().name()).into())
    }
    fn generate(&self, alg: Algorithm, _rng: &dyn RandomSource) -> Result<PrivateJwk> {
        Err(CryptoError::UnsupportedAlgorithm(alg.name()).into())
    }
}

/// Checks the common preconditions of loading a verifying key.
pub(crate) fn check_key_for(jwk: &PublicJwk, alg: Algorithm) -> Result<()> {
    use crate::error::KeyError;
    if jwk.curve() != alg.curve() || jwk.algorithm() != alg {
        return Err(KeyError::AlgMismatch(format!(
            "a {} key cannot verify {}",
            jwk.curve().name(),
            alg.name()
        ))
        .into());
    }
    if !jwk.allows_op("verify") {
        return Err(KeyError::Invalid("key_ops does not allow \"verify\"".into()).into());
    }
    Ok(())
}

/// Checks a signature's length before any arithmetic (RFC 7518 §3.4).
pub(crate) fn check_sig_len(alg: Algorithm, signature: &[u8]) -> Result<()> {
    if signature.len() == alg.signature_len() {
        Ok(())
    } else {
        Err(CryptoError::SignatureMalformed("wrong signature length for the algorithm").into())
    }
}
