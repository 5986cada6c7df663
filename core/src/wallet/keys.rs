//! Holder keys behind a [`KeyManager`]: the host app's Secure Enclave, StrongBox or KMS
//! creates and uses them; credkit only asks for public keys and signatures.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::crypto::{CryptoProvider, Signer, default_provider};
use crate::error::{Result, WalletError};
use crate::jose::{Algorithm, PrivateJwk, PublicJwk};
use crate::rand::RandomSource;

/// Creates, uses and deletes the wallet's holder keys.
///
/// Implementations keep private keys where the platform keeps them (Secure Enclave,
/// StrongBox, an HSM or KMS); signatures are returned in JWS form (`r || s` for ECDSA;
/// convert DER with [`crate::crypto::der_to_jws_signature`]).
pub trait KeyManager: Send + Sync + fmt::Debug {
    /// Creates a key for `alg` and returns its id and public key.
    ///
    /// # Errors
    /// `key_unavailable` when the platform cannot create one.
    fn create_key(&self, alg: Algorithm) -> Result<(String, PublicJwk)>;

    /// The public key of `id`.
    ///
    /// # Errors
    /// `not_found`.
    fn public_key(&self, id: &str) -> Result<PublicJwk>;

    /// Signs `message` with `id`.
    ///
    /// # Errors
    /// `not_found`, `key_unavailable` (user cancelled, hardware busy, ...).
    fn sign(&self, id: &str, message: &[u8]) -> Result<Vec<u8>>;

    /// Deletes `id` (deleting an unknown key is not an error).
    ///
    /// # Errors
    /// `key_unavailable`.
    fn delete_key(&self, id: &str) -> Result<()>;
}

/// A [`Signer`] for one key of a [`KeyManager`].
#[derive(Debug, Clone)]
pub struct ManagedKey {
    manager: Arc<dyn KeyManager>,
    id: String,
    public: PublicJwk,
}

impl ManagedKey {
    /// The signer for key `id`.
    ///
    /// # Errors
    /// As [`KeyManager::public_key`].
    pub fn new(manager: Arc<dyn KeyManager>, id: &str) -> Result<Self> {
        let public = manager.public_key(id)?;
        Ok(Self {
            manager,
            id: id.to_owned(),
            public,
        })
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Signer for ManagedKey {
    fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.manager.sign(&self.id, message)
    }
}

/// Software keys in memory, for tests and servers. Private keys are zeroized when dropped.
pub struct SoftwareKeyManager {
    provider: &'static dyn CryptoProvider,
    rng: Arc<dyn RandomSource>,
    keys: Mutex<HashMap<String, Arc<dyn Signer>>>,
}

impl fmt::Debug for SoftwareKeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.keys.lock().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("SoftwareKeyManager")
            .field("keys", &n)
            .finish()
    }
}

impl SoftwareKeyManager {
    /// An empty key manager drawing keys from `rng`.
    #[must_use]
    pub fn new(rng: Arc<dyn RandomSource>) -> Self {
        Self {
            provider: default_provider(),
            rng,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an existing private key under `id`.
    ///
    /// # Errors
    /// `invalid_key`.
    pub fn import(&self, id: &str, key: &PrivateJwk) -> Result<()> {
        let signer = self.provider.signer(key)?;
        self.lock()?.insert(id.to_owned(), signer);
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Signer>>>> {
        self.keys
            .lock()
            .map_err(|_| WalletError::KeyUnavailable("key table poisoned".into()).into())
    }

    fn signer(&self, id: &str) -> Result<Arc<dyn Signer>> {
        self.lock()?
            .get(id)
            .cloned()
            .ok_or_else(|| WalletError::NotFound(format!("key {id:?}")).into())
    }
}

impl KeyManager for SoftwareKeyManager {
    fn create_key(&self, alg: Algorithm) -> Result<(String, PublicJwk)> {
        let key = self.provider.generate(alg, &*self.rng)?;
        let id = crate::rand::id(&*self.rng)?;
        let public = key.public().clone();
        self.import(&id, &key)?;
        Ok((id, public))
    }

    fn public_key(&self, id: &str) -> Result<PublicJwk> {
        Ok(self.signer(id)?.public_jwk().clone())
    }

    fn sign(&self, id: &str, message: &[u8]) -> Result<Vec<u8>> {
        self.signer(id)?.sign(message)
    }

    fn delete_key(&self, id: &str) -> Result<()> {
        self.lock()?.remove(id);
        Ok(())
    }
}
