//! The issuer: signs SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc-18 §3, RFC 9901 §4) with a key
//! of its HSM or KMS, and keeps Token Status Lists for revocation
//! (draft-ietf-oauth-status-list-20).

use std::fmt;
use std::sync::{Arc, Mutex};

use credkit::crypto::Signer;

use crate::provider;
use credkit::jose::{PrivateJwk, PublicJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt_vc::{VcBuilder, Vct};
use credkit::status_list::{Bits, IssuerStatusList, Status};
use credkit::time::{Clock, SystemClock};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{CredkitError, Result};
use crate::guard;
use crate::host::{HostSigner, HostSignerAdapter, KeyAlgorithm};

/// Most decoy digests per `_sd` array (more only inflates the credential).
const MAX_DECOYS: u32 = 64;

/// What to issue.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssueRequest {
    /// The credential type (`vct`), e.g. `urn:eudi:pid:1`.
    pub vct: String,
    /// The subject's claims, a JSON object (text).
    pub claims_json: String,
    /// JSON Pointers of the claims to make selectively disclosable (e.g. `/given_name`,
    /// `/address/locality`, `/nationalities/0`).
    #[uniffi(default)]
    pub disclosable: Vec<String>,
    /// Makes every subject claim (and every member, recursively) selectively disclosable,
    /// as the EU PID rulebook asks; `disclosable` is then ignored.
    #[uniffi(default)]
    pub disclose_all: bool,
    /// The holder's public key (`cnf.jwk`) as JWK JSON, from the wallet's
    /// `create_holder_keys`. Without one the credential is not holder-bound.
    #[uniffi(default)]
    pub holder_jwk: Option<String>,
    /// `iat`; the current time when absent.
    #[uniffi(default)]
    pub issued_at: Option<i64>,
    /// `exp`, if any.
    #[uniffi(default)]
    pub expires_at: Option<i64>,
    /// The `status` reference: index into the list at `status_uri`.
    #[uniffi(default)]
    pub status_index: Option<u64>,
    /// The Status List Token's URI (`sub` of the list).
    #[uniffi(default)]
    pub status_uri: Option<String>,
    /// Decoy digests per `_sd` array (hides how many claims there are), at most 64.
    #[uniffi(default)]
    pub decoys: u32,
    /// The issuer's certificate chain (PEM, leaf first) for the `x5c` header.
    #[uniffi(default)]
    pub x5c_pem: Option<String>,
}

impl fmt::Debug for IssueRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueRequest")
            .field("vct", &self.vct)
            .field("disclosable", &self.disclosable)
            .finish_non_exhaustive()
    }
}

/// An issuer signing credentials with one key.
#[derive(uniffi::Object)]
pub struct Issuer {
    issuer: String,
    signer: Arc<dyn Signer>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Issuer {
    /// An issuer `issuer` (its `iss`) signing with a key of the host (HSM, KMS).
    ///
    /// # Errors
    /// `Malformed` / `Unsupported` when the host's public key is unusable.
    #[uniffi::constructor]
    pub fn new(issuer: String, signer: Arc<dyn HostSigner>) -> Result<Arc<Self>> {
        guard(|| {
            Ok(Arc::new(Self {
                issuer,
                signer: Arc::new(HostSignerAdapter::new(signer)?),
                clock: Arc::new(SystemClock),
            }))
        })
    }

    /// An issuer signing with a software key given as a private JWK (servers and tests; keep
    /// production keys in an HSM and use [`Issuer::new`]).
    ///
    /// # Errors
    /// `Malformed` for an invalid key.
    #[uniffi::constructor]
    pub fn with_private_jwk(issuer: String, private_jwk: String) -> Result<Arc<Self>> {
        guard(|| {
            let private_jwk = Zeroizing::new(private_jwk);
            let key = PrivateJwk::parse(&private_jwk)?;
            Ok(Arc::new(Self {
                issuer,
                signer: provider().signer(&key)?,
                clock: Arc::new(SystemClock),
            }))
        })
    }

    /// An OpenID4VCI Credential Issuer (with its own authorization server) at
    /// `issuer` (its Credential Issuer Identifier, `https`), signing with this issuer's key
    /// and offering one SD-JWT VC configuration `configuration_id` of type `vct`. Serve its
    /// `crate::openid4vci::CredentialIssuerService::handle` at that URL.
    ///
    /// # Errors
    /// `Malformed` for an invalid identifier or type.
    pub fn openid4vci_service(
        &self,
        configuration_id: String,
        vct: String,
        batch_size: u32,
    ) -> Result<Arc<crate::openid4vci::CredentialIssuerService>> {
        guard(|| {
            crate::openid4vci::CredentialIssuerService::build(
                &self.issuer,
                self.signer.clone(),
                &configuration_id,
                &vct,
                batch_size,
            )
        })
    }

    /// The issuer's public key as JWK JSON (to pin, or to publish in issuer metadata).
    pub fn public_jwk(&self) -> Result<String> {
        guard(|| Ok(Value::Object(self.signer.public_jwk().to_json()).to_string()))
    }

    /// Issues a credential: an SD-JWT VC (`typ` `dc+sd-jwt`) in compact serialization.
    ///
    /// # Errors
    /// `InvalidInput` for invalid claims, pointers or type; `KeyUnavailable` when the host
    /// cannot sign.
    pub fn issue(&self, request: IssueRequest) -> Result<String> {
        guard(|| {
            let claims: Map<String, Value> = match crate::parse_json(&request.claims_json, "claims")
            {
                Ok(Value::Object(m)) => m,
                _ => return Err(CredkitError::invalid_input("claims must be a JSON object")),
            };
            if request.decoys > MAX_DECOYS {
                return Err(CredkitError::invalid_input(format!(
                    "at most {MAX_DECOYS} decoys per array"
                )));
            }
            let mut b = VcBuilder::new(Vct::new(request.vct)?, claims)
                .issuer(self.issuer.clone())
                .issued_at(request.issued_at.unwrap_or_else(|| self.clock.now()))
                .decoys(usize::try_from(request.decoys).unwrap_or(usize::MAX));
            if let Some(exp) = request.expires_at {
                b = b.expires_at(exp);
            }
            if let Some(jwk) = &request.holder_jwk {
                b = b.holder_key(PublicJwk::parse(jwk)?);
            }
            match (request.status_index, &request.status_uri) {
                (Some(idx), Some(uri)) => {
                    b = b.status(credkit::status_list::status_claim(idx, uri))
                }
                (None, None) => {}
                _ => {
                    return Err(CredkitError::invalid_input(
                        "status_index and status_uri go together",
                    ));
                }
            }
            if let Some(pem) = &request.x5c_pem {
                b = b.x5c(credkit::x509::certificates_from_pem(pem)?);
            }
            if request.disclose_all {
                b = b.disclose_all_claims();
            } else {
                for p in &request.disclosable {
                    b = b.disclose(p)?;
                }
            }
            Ok(b.issue(&*self.signer, &OsRandom)?.to_string())
        })
    }

    /// A status list restored from its saved [`StatusListState`].
    ///
    /// # Errors
    /// `Malformed` for an inconsistent state.
    pub fn restore_status_list(self: Arc<Self>, state: StatusListState) -> Result<Arc<StatusList>> {
        guard(|| {
            let bits = Bits::new(u64::from(state.bits))?;
            let list = credkit::status_list::StatusList::from_bytes(bits, state.list);
            let allocator =
                credkit::status_list::IndexAllocator::with_allocated(state.size, state.allocated)?;
            let list = IssuerStatusList::from_parts(state.uri, list, allocator)?;
            Ok(Arc::new(StatusList {
                issuer: self.clone(),
                list: Mutex::new(list),
            }))
        })
    }

    /// A new Token Status List at `uri` with `bits` per entry (1, 2, 4 or 8) and room for
    /// `capacity` credentials, signed by this issuer.
    ///
    /// # Errors
    /// `InvalidInput` for unsupported `bits` or an empty list.
    pub fn new_status_list(
        self: Arc<Self>,
        uri: String,
        bits: u8,
        capacity: u64,
    ) -> Result<Arc<StatusList>> {
        guard(|| {
            let list = IssuerStatusList::new(uri, Bits::new(u64::from(bits))?, capacity)?;
            Ok(Arc::new(StatusList {
                issuer: self.clone(),
                list: Mutex::new(list),
            }))
        })
    }
}

/// What an issuer persists of a [`StatusList`] between restarts: without it, indices would
/// be handed out again and revoking one credential would revoke another.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusListState {
    /// The list's URI.
    pub uri: String,
    /// Bits per entry.
    pub bits: u8,
    /// Entries in the list (capacity of the allocator).
    pub size: u64,
    /// The uncompressed list bytes.
    pub list: Vec<u8>,
    /// The indices handed out so far.
    pub allocated: Vec<u64>,
}

impl fmt::Debug for StatusListState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusListState")
            .field("uri", &self.uri)
            .field("size", &self.size)
            .field("allocated", &self.allocated.len())
            .finish_non_exhaustive()
    }
}

/// The status of one credential in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialStatus {
    /// Valid.
    Valid,
    /// Revoked (permanent).
    Revoked,
    /// Suspended (temporary).
    Suspended,
}

/// An issuer's Token Status List: random, never reused indices; revocation and suspension;
/// signed Status List Tokens to publish.
#[derive(uniffi::Object)]
pub struct StatusList {
    issuer: Arc<Issuer>,
    list: Mutex<IssuerStatusList>,
}

impl fmt::Debug for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusList").finish_non_exhaustive()
    }
}

impl StatusList {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, IssuerStatusList>> {
        self.list
            .lock()
            .map_err(|_| CredkitError::panic("the status list was poisoned by an earlier panic"))
    }
}

#[uniffi::export]
impl StatusList {
    /// The list's URI.
    pub fn uri(&self) -> Result<String> {
        guard(|| Ok(self.lock()?.uri().to_owned()))
    }

    /// Allocates an index for a new credential (random, never reused): pass it with the
    /// list's URI in [`IssueRequest::status_index`].
    ///
    /// # Errors
    /// `InvalidInput` when the list is full.
    pub fn allocate(&self) -> Result<u64> {
        guard(|| Ok(self.lock()?.allocate(&OsRandom)?.0))
    }

    /// Sets the status of entry `index`.
    ///
    /// # Errors
    /// `InvalidInput` for an index outside the list.
    pub fn set(&self, index: u64, status: CredentialStatus) -> Result<()> {
        guard(|| {
            let status = match status {
                CredentialStatus::Valid => Status::Valid,
                CredentialStatus::Revoked => Status::Invalid,
                CredentialStatus::Suspended => Status::Suspended,
            };
            Ok(self.lock()?.set(index, status)?)
        })
    }

    /// The state to persist after each change (see [`StatusListState`]).
    pub fn state(&self) -> Result<StatusListState> {
        guard(|| {
            let l = self.lock()?;
            Ok(StatusListState {
                uri: l.uri().to_owned(),
                bits: l.list().bits().get(),
                size: l.allocator().size(),
                list: l.list().as_bytes().to_vec(),
                allocated: l.allocator().allocated().collect(),
            })
        })
    }

    /// The signed Status List Token (JWT) to publish at the list's URI, cacheable for
    /// `ttl_seconds` and expiring after `validity_seconds`.
    ///
    /// # Errors
    /// `KeyUnavailable` when the issuer's key cannot sign.
    pub fn token(&self, ttl_seconds: u64, validity_seconds: u64) -> Result<String> {
        guard(|| {
            let now = self.issuer.clock.now();
            Ok(self
                .lock()?
                .sign_jwt(now, ttl_seconds, validity_seconds, &*self.issuer.signer)?)
        })
    }
}

/// Generates a software private key (JWK JSON) for servers and tests. Mobile wallets keep
/// their keys in the platform keystore instead.
///
/// # Errors
/// `Unsupported` for an algorithm this build lacks.
#[uniffi::export]
pub fn generate_private_jwk(algorithm: KeyAlgorithm) -> Result<String> {
    guard(|| {
        let key = provider().generate(algorithm.into(), &OsRandom)?;
        // Moves the text out of its zeroizing buffer without another copy.
        let mut text = key.to_json_string();
        Ok(std::mem::take(&mut *text))
    })
}
