//! What the host app implements: its keystore (Secure Enclave, StrongBox, a KMS), optionally
//! its credential storage and its HTTP stack; and the adapters that make them credkit's
//! [`KeyManager`], [`CredentialStore`], [`HttpClient`] and [`Signer`].
//!
//! Keys stay in the host: credkit asks for public keys and signatures only. Hosts return
//! what their platform gives them, and the adapters convert:
//! - public keys as X.509 SubjectPublicKeyInfo DER (Android/Java `PublicKey.getEncoded()`),
//!   as an uncompressed SEC1 point `04‖x‖y` (iOS `SecKeyCopyExternalRepresentation`), as
//!   CryptoKit's `rawRepresentation` (P-256 `x‖y`, Ed25519 key bytes), or as a JWK (JSON);
//! - ECDSA signatures in ASN.1 DER (Android Keystore `SHA256withECDSA`, iOS
//!   `ecdsaSignatureMessageX962SHA256`) or in JWS form `r‖s`.
//!
//! Every signature the host returns is verified against the key's public key before credkit
//! uses it, so a misbehaving keystore is reported as `signer_failed`, never as a presentation
//! that a verifier rejects later.

use std::fmt;
use std::sync::Arc;

use credkit::crypto::{Signer, der_to_jws_signature};

use crate::provider;
use credkit::error::{CryptoError, FetchError, KeyError, WalletError};
use credkit::http::{FetchPolicy, HttpClient, HttpResponse, HttpsUrl};
use credkit::jose::{Algorithm, Curve, PublicJwk};
use credkit::wallet::{CredentialStore, KeyManager, StoredCredential};

use crate::error::CredkitError;

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 (what Secure Enclave and StrongBox support; HAIP's choice).
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// Ed25519.
    EdDsa,
}

impl From<KeyAlgorithm> for Algorithm {
    fn from(a: KeyAlgorithm) -> Self {
        match a {
            KeyAlgorithm::Es256 => Self::Es256,
            KeyAlgorithm::Es384 => Self::Es384,
            KeyAlgorithm::Es512 => Self::Es512,
            KeyAlgorithm::EdDsa => Self::EdDsa,
        }
    }
}

impl TryFrom<Algorithm> for KeyAlgorithm {
    type Error = credkit::Error;

    fn try_from(a: Algorithm) -> credkit::Result<Self> {
        Ok(match a {
            Algorithm::Es256 => Self::Es256,
            Algorithm::Es384 => Self::Es384,
            Algorithm::Es512 => Self::Es512,
            Algorithm::EdDsa => Self::EdDsa,
            other => return Err(CryptoError::UnsupportedAlgorithm(other.name()).into()),
        })
    }
}

/// A key the host created: its id in the host's keystore and its public key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostKey {
    /// The id the host uses for the key (an alias in Android Keystore, a tag in Keychain).
    pub key_id: String,
    /// The public key: SubjectPublicKeyInfo DER, an uncompressed SEC1 point, a CryptoKit raw
    /// representation, or JWK JSON (UTF-8).
    pub public_key: Vec<u8>,
}

/// The holder's keystore. The wallet creates one key per credential copy, asks for public
/// keys, signs Key Binding JWTs and deletes keys with their credential.
#[uniffi::export(with_foreign)]
pub trait HostKeyManager: Send + Sync {
    /// Creates a key for `algorithm`.
    ///
    /// # Errors
    /// `KeyUnavailable` when the platform cannot create one.
    fn create_key(&self, algorithm: KeyAlgorithm) -> Result<HostKey, CredkitError>;

    /// The public key of `key_id` (same forms as [`HostKey::public_key`]).
    ///
    /// # Errors
    /// `NotFound` for an unknown key.
    fn public_key(&self, key_id: String) -> Result<Vec<u8>, CredkitError>;

    /// Signs `message` with `key_id` (the hash is the algorithm's: SHA-256 for ES256), in
    /// DER or JWS form.
    ///
    /// # Errors
    /// `KeyUnavailable` (user cancelled, hardware busy), `NotFound`.
    fn sign(&self, key_id: String, message: Vec<u8>) -> Result<Vec<u8>, CredkitError>;

    /// Deletes `key_id`; deleting an unknown key is not an error.
    ///
    /// # Errors
    /// `KeyUnavailable`.
    fn delete_key(&self, key_id: String) -> Result<(), CredkitError>;
}

/// One signing key of the host (an issuer's HSM or KMS key).
#[uniffi::export(with_foreign)]
pub trait HostSigner: Send + Sync {
    /// The key's algorithm.
    fn algorithm(&self) -> KeyAlgorithm;

    /// The public key (same forms as [`HostKey::public_key`]).
    ///
    /// # Errors
    /// `KeyUnavailable`.
    fn public_key(&self) -> Result<Vec<u8>, CredkitError>;

    /// Signs `message`, in DER or JWS form.
    ///
    /// # Errors
    /// `KeyUnavailable`.
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, CredkitError>;
}

// DER prefixes of SubjectPublicKeyInfo for each curve (RFC 5480, RFC 8410), up to the key.
const SPKI_P256: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const SPKI_P384: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const SPKI_P521: &[u8] = &[
    0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
    0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00,
];
const SPKI_ED25519: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Reads a public key in any of the forms hosts return. The point is validated (on the
/// curve) and must suit `expected` when given.
///
/// # Errors
/// `invalid_key` for anything else.
pub(crate) fn public_key_from_host(
    bytes: &[u8],
    expected: Option<Algorithm>,
) -> credkit::Result<PublicJwk> {
    let jwk = if bytes.first() == Some(&b'{') {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| KeyError::Invalid("a JWK that is not UTF-8".into()))?;
        PublicJwk::parse(text)?
    } else {
        let (curve, point) = [
            (SPKI_P256, Curve::P256),
            (SPKI_P384, Curve::P384),
            (SPKI_P521, Curve::P521),
            (SPKI_ED25519, Curve::Ed25519),
        ]
        .iter()
        .find_map(|(prefix, curve)| bytes.strip_prefix(*prefix).map(|p| (*curve, p)))
        .map(|(curve, point)| (curve, point.to_vec()))
        .or_else(|| {
            // A bare SEC1 point: the curve follows from the length.
            let curve = match (bytes.first(), bytes.len()) {
                (Some(4), 65) => Curve::P256,
                (Some(4), 97) => Curve::P384,
                (Some(4), 133) => Curve::P521,
                _ => return None,
            };
            Some((curve, bytes.to_vec()))
        })
        .or_else(|| {
            // CryptoKit's `rawRepresentation`: x‖y for the NIST curves, the key bytes for
            // Ed25519. The lengths differ from every other form's.
            let curve = match bytes.len() {
                32 => Curve::Ed25519,
                64 => Curve::P256,
                96 => Curve::P384,
                132 => Curve::P521,
                _ => return None,
            };
            Some(if curve == Curve::Ed25519 {
                (curve, bytes.to_vec())
            } else {
                (curve, [&[4u8][..], bytes].concat())
            })
        })
        .ok_or_else(|| {
            KeyError::Invalid(
                "a public key that is neither SubjectPublicKeyInfo DER, an uncompressed SEC1 \
                 point, a CryptoKit raw key nor a JWK"
                    .into(),
            )
        })?;
        let n = curve.coordinate_len();
        let (x, y) = if curve == Curve::Ed25519 {
            (point.clone(), None)
        } else {
            match point.split_first() {
                Some((4, xy)) if xy.len() == 2 * n => {
                    let (x, y) = xy.split_at(n);
                    (x.to_vec(), Some(y.to_vec()))
                }
                _ => {
                    return Err(
                        KeyError::Invalid("not an uncompressed point of the curve".into()).into(),
                    );
                }
            }
        };
        PublicJwk::from_coordinates(curve, x, y)?
    };
    let alg = expected.unwrap_or_else(|| jwk.algorithm());
    // Validates the point (on the curve, not the identity) and the algorithm.
    provider().verifying_key(&jwk, alg)?;
    Ok(jwk)
}

/// Turns a host signature into JWS form and checks it against `public`. A signature may be
/// DER or `r‖s`; when a byte string could be either (64 bytes starting with `0x30` for
/// P-256), both readings are tried and the one that verifies is kept.
fn check_host_signature(
    public: &PublicJwk,
    message: &[u8],
    signature: &[u8],
) -> credkit::Result<Vec<u8>> {
    let alg = public.algorithm();
    let key = provider().verifying_key(public, alg)?;
    let der = if signature.first() == Some(&0x30) {
        der_to_jws_signature(alg, signature).ok()
    } else {
        None
    };
    let raw = (signature.len() == alg.signature_len()).then(|| signature.to_vec());
    if der.is_none() && raw.is_none() {
        return Err(CryptoError::Signer("the host returned a malformed signature".into()).into());
    }
    der.into_iter()
        .chain(raw)
        .find(|jws| key.verify(message, jws).is_ok())
        .ok_or_else(|| {
            CryptoError::Signer(
                "the host's signature does not verify under the key's public key".into(),
            )
            .into()
        })
}

/// A host error as a core error of the key manager.
fn key_error(e: CredkitError) -> credkit::Error {
    match e {
        CredkitError::NotFound { detail, .. } => WalletError::NotFound(detail).into(),
        other => WalletError::KeyUnavailable(other.detail_unless("key_unavailable")).into(),
    }
}

/// [`HostKeyManager`] as credkit's [`KeyManager`].
pub(crate) struct HostKeys(pub(crate) Arc<dyn HostKeyManager>);

impl fmt::Debug for HostKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostKeys")
    }
}

impl KeyManager for HostKeys {
    fn create_key(&self, alg: Algorithm) -> credkit::Result<(String, PublicJwk)> {
        let key = self.0.create_key(alg.try_into()?).map_err(key_error)?;
        let public = public_key_from_host(&key.public_key, Some(alg))?;
        Ok((key.key_id, public))
    }

    fn public_key(&self, id: &str) -> credkit::Result<PublicJwk> {
        let bytes = self.0.public_key(id.to_owned()).map_err(key_error)?;
        public_key_from_host(&bytes, None)
    }

    fn sign(&self, id: &str, message: &[u8]) -> credkit::Result<Vec<u8>> {
        let public = self.public_key(id)?;
        let sig = self
            .0
            .sign(id.to_owned(), message.to_vec())
            .map_err(key_error)?;
        check_host_signature(&public, message, &sig)
    }

    fn delete_key(&self, id: &str) -> credkit::Result<()> {
        self.0.delete_key(id.to_owned()).map_err(key_error)
    }
}

/// [`HostSigner`] as credkit's [`Signer`]; the public key is read once.
pub(crate) struct HostSignerAdapter {
    host: Arc<dyn HostSigner>,
    public: PublicJwk,
}

impl fmt::Debug for HostSignerAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostSignerAdapter")
            .field("alg", &self.public.algorithm())
            .finish_non_exhaustive()
    }
}

impl HostSignerAdapter {
    pub(crate) fn new(host: Arc<dyn HostSigner>) -> credkit::Result<Self> {
        let alg = Algorithm::from(host.algorithm());
        let bytes = host.public_key().map_err(key_error)?;
        let public = public_key_from_host(&bytes, Some(alg))?;
        Ok(Self { host, public })
    }
}

impl Signer for HostSignerAdapter {
    fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> credkit::Result<Vec<u8>> {
        let sig = self.host.sign(message.to_vec()).map_err(key_error)?;
        check_host_signature(&self.public, message, &sig)
    }
}

/// One stored credential copy, as a host store keeps it. `sd_jwt` is the credential itself
/// (personal data): keep records encrypted at rest.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct CredentialRecord {
    /// The record's id (unique).
    pub id: String,
    /// The batch (the credential as the user sees it) this copy belongs to.
    pub batch: String,
    /// The credential type.
    pub vct: String,
    /// The issuer, when the credential names one.
    pub issuer: Option<String>,
    /// The issued SD-JWT VC exactly as received.
    pub sd_jwt: String,
    /// The holder key bound to this copy.
    pub key_id: String,
    /// How many times this copy was presented.
    pub presentations: u64,
    /// When the wallet accepted it (Unix seconds).
    pub added_at: i64,
}

impl fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("id", &self.id)
            .field("batch", &self.batch)
            .field("vct", &self.vct)
            .field("presentations", &self.presentations)
            .finish_non_exhaustive()
    }
}

impl From<&StoredCredential> for CredentialRecord {
    fn from(r: &StoredCredential) -> Self {
        Self {
            id: r.id.clone(),
            batch: r.batch.clone(),
            vct: r.vct.clone(),
            issuer: r.issuer.clone(),
            sd_jwt: r.sd_jwt.clone(),
            key_id: r.key_id.clone(),
            presentations: r.presentations,
            added_at: r.added_at,
        }
    }
}

impl From<CredentialRecord> for StoredCredential {
    fn from(r: CredentialRecord) -> Self {
        let mut s = StoredCredential::new(
            r.id, r.batch, r.vct, r.issuer, r.sd_jwt, r.key_id, r.added_at,
        );
        s.presentations = r.presentations;
        s
    }
}

/// Credential storage of the host app (its database, encrypted under a key of its
/// keystore). Each call must be atomic and durable: a crash never leaves half a call.
#[uniffi::export(with_foreign)]
pub trait HostCredentialStore: Send + Sync {
    /// Adds the records (all copies of one batch) in one transaction; fails if an id exists.
    ///
    /// # Errors
    /// `Storage`.
    fn insert(&self, records: Vec<CredentialRecord>) -> Result<(), CredkitError>;

    /// Every record.
    ///
    /// # Errors
    /// `Storage`.
    fn list(&self) -> Result<Vec<CredentialRecord>, CredkitError>;

    /// Replaces the record with the same id.
    ///
    /// # Errors
    /// `NotFound`, `Storage`.
    fn update(&self, record: CredentialRecord) -> Result<(), CredkitError>;

    /// Deletes every record of `batch`; returns how many there were.
    ///
    /// # Errors
    /// `Storage`.
    fn delete_batch(&self, batch: String) -> Result<u64, CredkitError>;
}

fn store_error(e: CredkitError) -> credkit::Error {
    match e {
        CredkitError::NotFound { detail, .. } => WalletError::NotFound(detail).into(),
        other => WalletError::Storage(other.detail_unless("storage_failed")).into(),
    }
}

/// [`HostCredentialStore`] as credkit's [`CredentialStore`].
pub(crate) struct HostStore(pub(crate) Arc<dyn HostCredentialStore>);

impl fmt::Debug for HostStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostStore")
    }
}

impl CredentialStore for HostStore {
    fn insert(&self, records: &[StoredCredential]) -> credkit::Result<()> {
        self.0
            .insert(records.iter().map(CredentialRecord::from).collect())
            .map_err(store_error)
    }

    fn list(&self) -> credkit::Result<Vec<StoredCredential>> {
        Ok(self
            .0
            .list()
            .map_err(store_error)?
            .into_iter()
            .map(StoredCredential::from)
            .collect())
    }

    fn update(&self, record: &StoredCredential) -> credkit::Result<()> {
        self.0.update(record.into()).map_err(store_error)
    }

    fn delete_batch(&self, batch: &str) -> credkit::Result<usize> {
        let n = self.0.delete_batch(batch.to_owned()).map_err(store_error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// One `GET` request credkit asks the host to perform.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// The `https:` URL (already checked: no userinfo, no fragment, no internal address
    /// literal).
    pub url: String,
    /// The `Accept` header to send, if any.
    pub accept: Option<String>,
    /// Read at most this many body bytes plus one.
    pub max_bytes: u64,
    /// Give up after this many milliseconds, connection included.
    pub timeout_ms: u64,
}

/// The host's response.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpReply {
    /// The status code; redirects and errors are responses, not exceptions.
    pub status: u16,
    /// The body (at most `max_bytes + 1` bytes).
    pub body: Vec<u8>,
    /// The `Location` header, if any.
    #[uniffi(default)]
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    #[uniffi(default)]
    pub content_type: Option<String>,
    /// The `Cache-Control` header, if any.
    #[uniffi(default)]
    pub cache_control: Option<String>,
    /// Other headers OpenID4VCI reads (`DPoP-Nonce`, `WWW-Authenticate`,
    /// `OAuth-Client-Attestation-Challenge`); a stack may return all of them.
    #[uniffi(default)]
    pub headers: Vec<crate::openid4vp::HttpHeader>,
    /// The URL the response came from, when the HTTP stack reports it (OkHttp
    /// `response.request.url`, `URLResponse.url`). A response from another URL than the
    /// request's means the stack followed a redirect on its own, which bypasses credkit's
    /// check of every redirect target: it is refused.
    #[uniffi(default)]
    pub final_url: Option<String>,
}

impl fmt::Debug for HttpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpReply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The app's own HTTP stack (its proxy settings, certificate pinning, user agent), used for
/// issuer metadata, type metadata and status lists.
///
/// The implementation must:
/// - send exactly one `GET` and **not follow redirects** (OkHttp `followRedirects(false)`,
///   a `URLSessionTaskDelegate` that refuses them); credkit follows them itself, checking
///   each target. Report [`HttpReply::final_url`] so that a stack that followed one anyway
///   is caught;
/// - refuse to connect when the host name resolves to an internal address: filter resolved
///   addresses with [`is_public_address`] (an OkHttp `Dns`; on servers, the resolver hook of
///   the client). credkit checks address literals in URLs itself;
/// - give up after `timeout_ms` and read at most `max_bytes + 1` body bytes.
#[uniffi::export(with_foreign)]
pub trait HostHttpClient: Send + Sync {
    /// Performs the request.
    ///
    /// # Errors
    /// `Network` when no response arrived.
    fn get(&self, request: HttpRequest) -> Result<HttpReply, CredkitError>;
}

/// [`HostHttpClient`] as credkit's [`HttpClient`].
pub(crate) struct HostHttp(pub(crate) Arc<dyn HostHttpClient>);

impl fmt::Debug for HostHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostHttp")
    }
}

impl HttpClient for HostHttp {
    fn get(&self, url: &HttpsUrl, policy: &FetchPolicy) -> credkit::Result<HttpResponse> {
        let reply = self
            .0
            .get(HttpRequest {
                url: url.as_str().to_owned(),
                accept: policy.accept.clone(),
                max_bytes: u64::try_from(policy.max_bytes).unwrap_or(u64::MAX),
                timeout_ms: u64::try_from(policy.timeout.as_millis()).unwrap_or(u64::MAX),
            })
            .map_err(|e| FetchError::Transport(e.detail_unless("fetch_failed")))?;
        if reply
            .final_url
            .as_deref()
            .is_some_and(|u| u != url.as_str())
        {
            return Err(FetchError::Forbidden(
                "the host's HTTP stack followed a redirect itself; disable redirects".into(),
            )
            .into());
        }
        // The body bound is ours to keep, whatever the host read.
        let mut body = reply.body;
        body.truncate(policy.max_bytes.saturating_add(1));
        let mut response = HttpResponse::new(reply.status, body);
        if let Some(l) = reply.location {
            response = response.with_location(l);
        }
        if let Some(c) = reply.content_type {
            response = response.with_content_type(c);
        }
        if let Some(c) = reply.cache_control {
            response = response.with_cache_control(c);
        }
        Ok(response)
    }
}

/// Whether `ip` (IPv4 or IPv6 text) is a public address that credkit may fetch documents
/// from: not loopback, private, link-local, shared, documentation, multicast or otherwise
/// special (RFC 6890), including IPv4 embedded in IPv6. For the host's DNS filter.
#[uniffi::export]
pub fn is_public_address(ip: String) -> bool {
    ip.parse()
        .is_ok_and(|ip: std::net::IpAddr| credkit::http::is_public_ip(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit::crypto::default_provider;
    use credkit::rand::OsRandom;

    fn p256() -> credkit::jose::PrivateJwk {
        default_provider()
            .generate(Algorithm::Es256, &OsRandom)
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn public_keys_in_every_host_form() {
        let key = p256();
        let public = key.public();
        let (x, y) = (public.x(), public.y().unwrap_or_default());
        let sec1 = [&[4u8][..], x, y].concat();
        let spki = [SPKI_P256, &sec1].concat();
        let jwk = serde_json::Value::Object(public.to_json()).to_string();
        for form in [&sec1, &spki, &jwk.into_bytes()] {
            let got = public_key_from_host(form, Some(Algorithm::Es256));
            assert_eq!(
                got.ok().map(|k| k.minimal_json()),
                Some(public.minimal_json())
            );
        }
        // Wrong lengths, compressed points, off-curve points, unknown prefixes.
        let mut off_curve = sec1.clone();
        if let Some(last) = off_curve.last_mut() {
            *last ^= 1;
        }
        let compressed = [&[2u8][..], x].concat();
        for bad in [
            &sec1[..64],
            &compressed[..],
            &off_curve[..],
            &spki[1..],
            b"{}",
        ] {
            assert!(public_key_from_host(bad, None).is_err());
        }
        // A P-256 key offered for ES384.
        assert!(public_key_from_host(&sec1, Some(Algorithm::Es384)).is_err());
        // CryptoKit's raw x‖y.
        let raw = [x, y].concat();
        let got = public_key_from_host(&raw, None);
        assert_eq!(
            got.ok().map(|k| k.minimal_json()),
            Some(public.minimal_json())
        );
        assert!(public_key_from_host(&raw, Some(Algorithm::Es384)).is_err());
    }

    #[test]
    fn host_signatures_in_der_or_jws_form_are_checked() {
        let key = p256();
        let signer = default_provider()
            .signer(&key)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let msg = b"signing input";
        let jws = signer.sign(msg).unwrap_or_else(|e| unreachable!("{e}"));
        let (r, s) = jws.split_at(32);
        let der = der_encode(r, s);
        assert_eq!(
            check_host_signature(key.public(), msg, &jws).ok(),
            Some(jws.clone())
        );
        assert_eq!(
            check_host_signature(key.public(), msg, &der).ok(),
            Some(jws.clone())
        );
        let e = check_host_signature(key.public(), b"other", &der);
        assert_eq!(e.err().map(|e| e.code()), Some("signer_failed"));
        let e = check_host_signature(key.public(), msg, &der[..der.len() - 1]);
        assert_eq!(e.err().map(|e| e.code()), Some("signer_failed"));
    }

    #[test]
    fn public_addresses_for_the_host_dns_filter() {
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(is_public_address(ip.into()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "::ffff:10.0.0.1",
            "x",
        ] {
            assert!(!is_public_address(ip.into()), "{ip}");
        }
    }

    fn der_encode(r: &[u8], s: &[u8]) -> Vec<u8> {
        fn int(v: &[u8]) -> Vec<u8> {
            let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
            if v.first().is_some_and(|b| b & 0x80 != 0) {
                v.insert(0, 0);
            }
            let mut out = vec![2, u8::try_from(v.len()).unwrap_or(0)];
            out.extend(v);
            out
        }
        let body = [int(r), int(s)].concat();
        let mut out = vec![0x30, u8::try_from(body.len()).unwrap_or(0)];
        out.extend(body);
        out
    }
}
