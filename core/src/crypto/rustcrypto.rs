//! The RustCrypto provider: `p256`, `p384`, `p521` and `ed25519-dalek`. Pure Rust, no C, the
//! default everywhere (phones, servers, WebAssembly).
//!
//! ECDSA verification accepts high-S signatures (RFC 7518 does not require low-S and
//! Wycheproof lists them as valid); Ed25519 uses strict verification (rejects small-order
//! keys and non-canonical encodings).

use std::fmt;
use std::sync::Arc;

use p256::ecdsa::signature::{Signer as _, Verifier as _};

use crate::crypto::{CryptoProvider, Signer, VerifyingKey, check_key_for, check_sig_len};
use aes_gcm::aead::Aead as _;
use zeroize::Zeroizing;

use crate::error::{CryptoError, Error, JweError, KeyError, Result};
use crate::jose::jwe::ContentEncryption;
use crate::jose::{Algorithm, Curve, PrivateJwk, PublicJwk};
use crate::rand::RandomSource;

/// The RustCrypto provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

fn sec1(jwk: &PublicJwk) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + 2 * jwk.x().len());
    v.push(0x04);
    v.extend_from_slice(jwk.x());
    v.extend_from_slice(jwk.y().unwrap_or_default());
    v
}

fn invalid_point() -> Error {
    KeyError::Invalid("the public key is not a valid point on its curve".into()).into()
}

fn mismatched() -> Error {
    KeyError::Invalid("the private key does not match the public key".into()).into()
}

macro_rules! ecdsa_keys {
    ($verify:ident, $sign:ident, $krate:ident, $alg:expr) => {
        struct $verify {
            key: $krate::ecdsa::VerifyingKey,
            jwk: PublicJwk,
        }

        impl fmt::Debug for $verify {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($verify))
                    .field("jwk", &self.jwk)
                    .finish()
            }
        }

        impl $verify {
            fn load(jwk: &PublicJwk) -> Result<Self> {
                let key = $krate::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(jwk))
                    .map_err(|_| invalid_point())?;
                Ok(Self {
                    key,
                    jwk: jwk.clone(),
                })
            }
        }

        impl VerifyingKey for $verify {
            fn algorithm(&self) -> Algorithm {
                $alg
            }
            fn jwk(&self) -> &PublicJwk {
                &self.jwk
            }
            fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
                check_sig_len($alg, signature)?;
                // r or s out of range (0, >= n) fails here: the signature cannot be valid.
                let sig = $krate::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| Error::InvalidSignature)?;
                self.key
                    .verify(message, &sig)
                    .map_err(|_| Error::InvalidSignature)
            }
        }

        struct $sign {
            key: $krate::ecdsa::SigningKey,
            jwk: PublicJwk,
        }

        impl $sign {
            fn load(jwk: &PrivateJwk) -> Result<Self> {
                let key = $krate::ecdsa::SigningKey::from_slice(jwk.d()).map_err(|_| {
                    Error::from(KeyError::Invalid(
                        "\"d\" is not a valid private scalar".into(),
                    ))
                })?;
                let public = key.verifying_key().to_sec1_bytes();
                if *public != *sec1(jwk.public()) {
                    return Err(mismatched());
                }
                Ok(Self {
                    key,
                    jwk: jwk.public().clone(),
                })
            }
        }

        impl Signer for $sign {
            fn algorithm(&self) -> Algorithm {
                $alg
            }
            fn public_jwk(&self) -> &PublicJwk {
                &self.jwk
            }
            fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
                let sig: $krate::ecdsa::Signature = self
                    .key
                    .try_sign(message)
                    .map_err(|_| CryptoError::Signer("ECDSA signing failed".into()))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    };
}

ecdsa_keys!(P256Verify, P256Sign, p256, Algorithm::Es256);
ecdsa_keys!(P384Verify, P384Sign, p384, Algorithm::Es384);
ecdsa_keys!(P521Verify, P521Sign, p521, Algorithm::Es512);

struct Ed25519Verify {
    key: ed25519_dalek::VerifyingKey,
    jwk: PublicJwk,
}

impl fmt::Debug for Ed25519Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Verify")
            .field("jwk", &self.jwk)
            .finish()
    }
}

impl VerifyingKey for Ed25519Verify {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDsa
    }
    fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        check_sig_len(Algorithm::EdDsa, signature)?;
        let sig =
            ed25519_dalek::Signature::from_slice(signature).map_err(|_| Error::InvalidSignature)?;
        self.key
            .verify_strict(message, &sig)
            .map_err(|_| Error::InvalidSignature)
    }
}

struct Ed25519Sign {
    key: ed25519_dalek::SigningKey,
    jwk: PublicJwk,
}

impl Signer for Ed25519Sign {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDsa
    }
    fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key.sign(message).to_bytes().to_vec())
    }
}

fn ed25519_array(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| KeyError::Invalid("Ed25519 keys are 32 bytes".into()).into())
}

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn supports(&self, _alg: Algorithm) -> bool {
        true
    }

    fn verifying_key(&self, jwk: &PublicJwk, alg: Algorithm) -> Result<Arc<dyn VerifyingKey>> {
        check_key_for(jwk, alg)?;
        Ok(match alg {
            Algorithm::Es256 => Arc::new(P256Verify::load(jwk)?),
            Algorithm::Es384 => Arc::new(P384Verify::load(jwk)?),
            Algorithm::Es512 => Arc::new(P521Verify::load(jwk)?),
            Algorithm::EdDsa => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&ed25519_array(jwk.x())?)
                    .map_err(|_| invalid_point())?;
                if key.is_weak() {
                    return Err(invalid_point());
                }
                Arc::new(Ed25519Verify {
                    key,
                    jwk: jwk.clone(),
                })
            }
        })
    }

    fn signer(&self, jwk: &PrivateJwk) -> Result<Arc<dyn Signer>> {
        Ok(match jwk.public().curve() {
            Curve::P256 => Arc::new(P256Sign::load(jwk)?),
            Curve::P384 => Arc::new(P384Sign::load(jwk)?),
            Curve::P521 => Arc::new(P521Sign::load(jwk)?),
            Curve::Ed25519 => {
                let mut seed = Zeroizing::new(ed25519_array(jwk.d())?);
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                zeroize::Zeroize::zeroize(&mut *seed);
                if key.verifying_key().as_bytes() != jwk.public().x() {
                    return Err(mismatched());
                }
                Arc::new(Ed25519Sign {
                    key,
                    jwk: jwk.public().clone(),
                })
            }
        })
    }

    fn generate(&self, alg: Algorithm, rng: &dyn RandomSource) -> Result<PrivateJwk> {
        let curve = alg.curve();
        for _ in 0..64 {
            let mut d = Zeroizing::new(crate::rand::bytes(rng, curve.coordinate_len())?);
            if curve == Curve::P521 {
                // 521 bits: only the lowest bit of the first byte may be set.
                if let Some(first) = d.first_mut() {
                    *first &= 0x01;
                }
            }
            let public = match curve {
                Curve::P256 => p256::ecdsa::SigningKey::from_slice(&d)
                    .ok()
                    .map(|k| k.verifying_key().to_sec1_bytes()),
                Curve::P384 => p384::ecdsa::SigningKey::from_slice(&d)
                    .ok()
                    .map(|k| k.verifying_key().to_sec1_bytes()),
                Curve::P521 => p521::ecdsa::SigningKey::from_slice(&d)
                    .ok()
                    .map(|k| k.verifying_key().to_sec1_bytes()),
                Curve::Ed25519 => {
                    let key = ed25519_dalek::SigningKey::from_bytes(&ed25519_array(&d)?);
                    let x = key.verifying_key().to_bytes().to_vec();
                    return PrivateJwk::from_parts(PublicJwk::from_coordinates(curve, x, None)?, d);
                }
            };
            // from_slice refuses zero and values >= n; draw again (vanishingly rare).
            let Some(public) = public else { continue };
            let n = curve.coordinate_len();
            let x = public.get(1..=n).ok_or_else(invalid_point)?.to_vec();
            let y = public.get(1 + n..).ok_or_else(invalid_point)?.to_vec();
            return PrivateJwk::from_parts(PublicJwk::from_coordinates(curve, x, Some(y))?, d);
        }
        Err(CryptoError::Random.into())
    }

    fn ecdh(&self, private: &PrivateJwk, public: &PublicJwk) -> Result<Zeroizing<Vec<u8>>> {
        if private.public().curve() != Curve::P256 {
            return Err(KeyError::Unsupported("ECDH is implemented for P-256 keys".into()).into());
        }
        if public.curve() != Curve::P256 {
            return Err(JweError::InvalidEpk("the public key is not on P-256".into()).into());
        }
        // from_sec1_bytes checks that the point is on the curve and not the identity.
        let peer = p256::PublicKey::from_sec1_bytes(&sec1(public))
            .map_err(|_| JweError::InvalidEpk("the point is not on P-256".into()))?;
        let secret = p256::SecretKey::from_slice(private.d()).map_err(|_| {
            Error::from(KeyError::Invalid(
                "\"d\" is not a valid private scalar".into(),
            ))
        })?;
        let shared = secret.diffie_hellman(&peer);
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }

    fn aead_seal(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let payload = aes_gcm::aead::Payload {
            msg: plaintext,
            aad,
        };
        let nonce = gcm_nonce(iv)?;
        let out = match enc {
            ContentEncryption::A128Gcm => {
                gcm_cipher::<aes_gcm::Aes128Gcm>(key)?.encrypt(nonce, payload)
            }
            ContentEncryption::A256Gcm => {
                gcm_cipher::<aes_gcm::Aes256Gcm>(key)?.encrypt(nonce, payload)
            }
        };
        out.map_err(|_| CryptoError::Signer("AES-GCM encryption failed".into()).into())
    }

    fn aead_open(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if tag.len() != 16 {
            return Err(JweError::DecryptFailed.into());
        }
        let mut buffer = Zeroizing::new(Vec::with_capacity(ciphertext.len() + 16));
        buffer.extend_from_slice(ciphertext);
        buffer.extend_from_slice(tag);
        let payload = aes_gcm::aead::Payload {
            msg: buffer.as_slice(),
            aad,
        };
        let nonce = gcm_nonce(iv)?;
        let out = match enc {
            ContentEncryption::A128Gcm => {
                gcm_cipher::<aes_gcm::Aes128Gcm>(key)?.decrypt(nonce, payload)
            }
            ContentEncryption::A256Gcm => {
                gcm_cipher::<aes_gcm::Aes256Gcm>(key)?.decrypt(nonce, payload)
            }
        };
        out.map(Zeroizing::new)
            .map_err(|_| JweError::DecryptFailed.into())
    }
}

fn gcm_cipher<C: aes_gcm::KeyInit>(key: &[u8]) -> Result<C> {
    C::new_from_slice(key)
        .map_err(|_| KeyError::Invalid("wrong content encryption key length".into()).into())
}

fn gcm_nonce(iv: &[u8]) -> Result<&aes_gcm::Nonce<aes_gcm::aead::consts::U12>> {
    iv.try_into()
        .map_err(|_| KeyError::Invalid("an AES-GCM IV is 96 bits".into()).into())
}
