//! X.509 certificate chains in a JWS `x5c` header (RFC 7515 §4.1.6), validated to configured
//! trust anchors under RFC 5280 §6.
//!
//! Path building, signatures, validity, basicConstraints, path length, name constraints,
//! extended key usage and unknown critical extensions are checked by `rustls-webpki` (the
//! validator of rustls); certificate signatures go through credkit's own
//! [`CryptoProvider`], so no second crypto library is linked. `webpki` leaves keyUsage
//! alone, so this module checks `keyCertSign` on CAs and `digitalSignature` on the leaf
//! itself (with `x509-cert`).
//!
//! A certificate carried in the token is never a trust anchor: anchors come only from
//! [`TrustAnchors`] (ATTACKS X5C-01, X5C-02). Accepted certificate signatures: ECDSA P-256 /
//! SHA-256, P-384 / SHA-384, P-521 / SHA-512 and Ed25519; RSA and SHA-1 are refused
//! (X5C-08).

use std::fmt;

use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    TrustAnchor, UnixTime, alg_id,
};
use serde_json::Value;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::KeyUsage;

use crate::b64;
use crate::crypto::CryptoProvider;
use crate::error::{CertificateError, Result};
use crate::jose::{Algorithm, Curve, PublicJwk};

/// Most certificates accepted in one `x5c` (leaf included).
pub const MAX_CHAIN_LEN: usize = 5;
/// Largest accepted certificate in bytes of DER.
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// Certificates trusted as chain roots, from local configuration only.
#[derive(Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("count", &self.anchors.len())
            .finish()
    }
}

impl TrustAnchors {
    /// No anchors.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a DER-encoded certificate as an anchor.
    ///
    /// # Errors
    /// `certificate_invalid` when it does not parse.
    pub fn add_der(&mut self, der: &[u8]) -> Result<&mut Self> {
        let cert = CertificateDer::from(der);
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| CertificateError::Invalid(format!("trust anchor: {e}")))?
            .to_owned();
        self.anchors.push(anchor);
        Ok(self)
    }

    /// Adds every certificate of a PEM text.
    ///
    /// # Errors
    /// `certificate_invalid` for bad PEM or no certificate at all.
    pub fn add_pem(&mut self, pem: &str) -> Result<&mut Self> {
        let certs = certificates_from_pem(pem)?;
        for c in &certs {
            self.add_der(c)?;
        }
        Ok(self)
    }

    /// The number of anchors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// Decodes every `CERTIFICATE` block of a PEM text (RFC 7468), in order.
///
/// # Errors
/// `certificate_invalid` for malformed PEM or when there is no certificate.
pub fn certificates_from_pem(pem: &str) -> Result<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let end = after
            .find(END)
            .ok_or_else(|| CertificateError::Invalid("PEM block without END line".into()))?;
        let body: String = after
            .get(..end)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        out.push(b64::decode_std(&body, "PEM certificate")?);
        rest = after.get(end + END.len()..).unwrap_or_default();
    }
    if out.is_empty() {
        return Err(
            CertificateError::Invalid("no CERTIFICATE block in the PEM text".into()).into(),
        );
    }
    Ok(out)
}

/// Encodes DER certificates as PEM.
#[must_use]
pub fn certificates_to_pem(certs: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for c in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = b64::encode_std(c);
        for chunk in b.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Parses an `x5c` header value: a non-empty array of at most [`MAX_CHAIN_LEN`] strings of
/// standard, padded base64 DER (not base64url, no white space), each at most
/// [`MAX_CERT_LEN`] bytes.
///
/// # Errors
/// `certificate_invalid`.
pub fn parse_x5c(value: &Value) -> Result<Vec<Vec<u8>>> {
    let bad = |why: &str| CertificateError::Invalid(format!("x5c: {why}"));
    let Value::Array(items) = value else {
        return Err(bad("must be an array").into());
    };
    if items.is_empty() {
        return Err(bad("must not be empty").into());
    }
    if items.len() > MAX_CHAIN_LEN {
        return Err(bad("more than 5 certificates").into());
    }
    items
        .iter()
        .map(|i| {
            let s = i.as_str().ok_or_else(|| bad("entries must be strings"))?;
            if s.len() > MAX_CERT_LEN.div_ceil(3) * 4 {
                return Err(bad("a certificate is larger than 16 KiB").into());
            }
            b64::decode_std(s, "x5c")
                .map_err(|_| bad("entries must be standard base64 (RFC 7515 §4.1.6)").into())
        })
        .collect()
}

/// Extra requirements on a chain beyond RFC 5280.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainPolicy {
    /// An extended key usage OID (dotted) the leaf and every intermediate that has an EKU
    /// extension must list (e.g. a document-signer EKU); `None` accepts any EKU.
    pub required_eku: Option<String>,
}

/// A chain that validated: what the leaf says about its subject and its key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedChain {
    /// The leaf's public key.
    pub leaf_key: PublicJwk,
    /// The leaf's subject, RFC 4514-style.
    pub subject: String,
    /// dNSName entries of the leaf's subjectAltName.
    pub dns_names: Vec<String>,
    /// uniformResourceIdentifier entries of the leaf's subjectAltName.
    pub uris: Vec<String>,
    /// The certificates as received, leaf first.
    pub certificates: Vec<Vec<u8>>,
    /// Start of the time every certificate of `certificates` is valid (Unix seconds).
    pub valid_from: i64,
    /// End of the time every certificate of `certificates` is valid (Unix seconds).
    pub valid_until: i64,
}

impl fmt::Debug for ValidatedChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedChain")
            .field("subject", &self.subject)
            .field("dns_names", &self.dns_names)
            .field("uris", &self.uris)
            .field("certificates", &self.certificates.len())
            .finish_non_exhaustive()
    }
}

/// Validates `chain` (leaf first, then intermediates; a root in it is ignored) to `anchors`
/// at `now` (seconds since the epoch).
///
/// # Errors
/// `untrusted_chain`, `certificate_expired`, `certificate_not_yet_valid`,
/// `certificate_invalid`, `certificate_usage`.
pub fn validate_chain(
    chain: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: i64,
    policy: &ChainPolicy,
    provider: &'static dyn CryptoProvider,
) -> Result<ValidatedChain> {
    let (leaf, rest) = chain
        .split_first()
        .ok_or_else(|| CertificateError::Invalid("empty chain".into()))?;
    if chain.len() > MAX_CHAIN_LEN || chain.iter().any(|c| c.len() > MAX_CERT_LEN) {
        return Err(CertificateError::Invalid("chain or certificate too large".into()).into());
    }
    if anchors.is_empty() {
        return Err(
            CertificateError::UntrustedChain("no trust anchor is configured".into()).into(),
        );
    }
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = rest
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(map_webpki)?;
    let secs =
        u64::try_from(now).map_err(|_| CertificateError::Invalid("time before 1970".into()))?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let algs = Algs::new(provider);
    let sig_algs = algs.list();
    let eku = Eku(policy
        .required_eku
        .as_deref()
        .map(oid_content_bytes)
        .transpose()?);
    let path = ee
        .verify_for_usage(
            &sig_algs,
            &anchors.anchors,
            &intermediates,
            time,
            eku,
            None,
            None,
        )
        .map_err(map_webpki)?;
    for ca in path.intermediate_certificates() {
        check_key_usage(ca.der().as_ref(), KeyUsageNeed::CertSign)?;
    }
    check_key_usage(leaf, KeyUsageNeed::DigitalSignature)?;
    let dns_names = ee.valid_dns_names().map(str::to_owned).collect();
    let uris = ee.valid_uri_names().map(str::to_owned).collect();
    let cert = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| CertificateError::Invalid(format!("leaf: {e}")))?;
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject().to_string();
    let leaf_key = spki_to_jwk(tbs.subject_public_key_info())?;
    let (valid_from, valid_until) = validity_window(chain)?;
    Ok(ValidatedChain {
        leaf_key,
        subject,
        dns_names,
        uris,
        certificates: chain.to_vec(),
        valid_from,
        valid_until,
    })
}

/// The intersection of the validity periods of `chain`.
fn validity_window(chain: &[Vec<u8>]) -> Result<(i64, i64)> {
    let mut from = i64::MIN;
    let mut until = i64::MAX;
    for der in chain {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertificateError::Invalid(format!("certificate: {e}")))?;
        let v = cert.tbs_certificate().validity();
        let secs = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        from = from.max(secs(&v.not_before));
        until = until.min(secs(&v.not_after));
    }
    Ok((from, until))
}

/// Whether `der` is self-issued (subject equals issuer): a trust anchor or a self-signed
/// certificate, which HAIP 1.0 forbids in `x5c`. A certificate that does not parse counts
/// as self-issued, so that it is refused too.
#[must_use]
pub fn is_self_issued(der: &[u8]) -> bool {
    x509_cert::Certificate::from_der(der)
        .map(|c| c.tbs_certificate().subject() == c.tbs_certificate().issuer())
        .unwrap_or(true)
}

/// What a (not validated) leaf certificate says: its key, subject and subjectAltNames. For
/// issuers checking their own configuration; verifiers use [`validate_chain`].
///
/// # Errors
/// `certificate_invalid`, or `certificate_usage` for an unsupported key type.
pub fn leaf_info(der: &[u8]) -> Result<ValidatedChain> {
    let cert_der = CertificateDer::from(der);
    let ee = webpki::EndEntityCert::try_from(&cert_der).map_err(map_webpki)?;
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| CertificateError::Invalid(format!("leaf: {e}")))?;
    let tbs = cert.tbs_certificate();
    let (valid_from, valid_until) = validity_window(std::slice::from_ref(&der.to_vec()))?;
    Ok(ValidatedChain {
        leaf_key: spki_to_jwk(tbs.subject_public_key_info())?,
        subject: tbs.subject().to_string(),
        dns_names: ee.valid_dns_names().map(str::to_owned).collect(),
        uris: ee.valid_uri_names().map(str::to_owned).collect(),
        certificates: vec![der.to_vec()],
        valid_from,
        valid_until,
    })
}

/// The Authority Key Identifiers of `chain`'s certificates, base64url: what DCQL
/// `trusted_authorities` of type `aki` names (OpenID4VP 1.0 §6.1.1). Certificates that do
/// not parse or carry no keyIdentifier contribute nothing.
#[must_use]
pub fn authority_key_ids(chain: &[Vec<u8>]) -> Vec<String> {
    use x509_cert::ext::pkix::AuthorityKeyIdentifier;
    chain
        .iter()
        .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
        .filter_map(|c| {
            c.tbs_certificate()
                .get_extension::<AuthorityKeyIdentifier>()
                .ok()
                .flatten()
                .and_then(|(_, aki)| aki.key_identifier)
                .map(|k| b64::encode(k.as_bytes()))
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyUsageNeed {
    CertSign,
    DigitalSignature,
}

fn check_key_usage(der: &[u8], need: KeyUsageNeed) -> Result<()> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| CertificateError::Invalid(format!("certificate: {e}")))?;
    let ku = cert
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .map_err(|e| CertificateError::Invalid(format!("keyUsage: {e}")))?;
    let Some((_, ku)) = ku else {
        // RFC 5280 §4.2.1.3: without the extension the key is not restricted.
        return Ok(());
    };
    let ok = match need {
        KeyUsageNeed::CertSign => ku.key_cert_sign(),
        KeyUsageNeed::DigitalSignature => ku.digital_signature(),
    };
    if ok {
        Ok(())
    } else {
        Err(CertificateError::Usage(match need {
            KeyUsageNeed::CertSign => "a CA certificate lacks the keyCertSign key usage".into(),
            KeyUsageNeed::DigitalSignature => {
                "the leaf certificate lacks the digitalSignature key usage".into()
            }
        })
        .into())
    }
}

fn spki_to_jwk(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<PublicJwk> {
    use x509_cert::der::asn1::ObjectIdentifier;
    const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
    let unsupported =
        || CertificateError::Usage("the leaf key is not EC P-256/384/521 or Ed25519".into());
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CertificateError::Invalid("leaf key bit string".into()))?;
    if spki.algorithm.oid == ED25519 {
        return PublicJwk::from_coordinates(Curve::Ed25519, key.to_vec(), None);
    }
    if spki.algorithm.oid != EC {
        return Err(unsupported().into());
    }
    let curve_oid = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(unsupported)?;
    let curve = match curve_oid {
        c if c == P256 => Curve::P256,
        c if c == P384 => Curve::P384,
        c if c == P521 => Curve::P521,
        _ => return Err(unsupported().into()),
    };
    sec1_to_jwk(curve, key).ok_or_else(|| CertificateError::Invalid("leaf EC point".into()).into())
}

/// An uncompressed SEC1 point as a JWK (compressed points are not accepted).
fn sec1_to_jwk(curve: Curve, point: &[u8]) -> Option<PublicJwk> {
    let n = curve.coordinate_len();
    let (tag, xy) = point.split_first()?;
    if *tag != 4 || xy.len() != 2 * n {
        return None;
    }
    let (x, y) = xy.split_at(n);
    PublicJwk::from_coordinates(curve, x.to_vec(), Some(y.to_vec())).ok()
}

/// The content octets of a dotted OID, as webpki compares them.
fn oid_content_bytes(dotted: &str) -> Result<Vec<u8>> {
    let oid = x509_cert::der::asn1::ObjectIdentifier::new(dotted)
        .map_err(|_| CertificateError::Invalid(format!("EKU {dotted:?} is not an OID")))?;
    Ok(oid.as_bytes().to_vec())
}

#[allow(deprecated)] // RequiredEkuNotFound is what the EKU validator above returns.
fn map_webpki(e: webpki::Error) -> crate::Error {
    use webpki::Error as W;
    let msg = e.to_string();
    match e {
        W::CertExpired { .. } => CertificateError::Expired(msg),
        W::CertNotValidYet { .. } | W::InvalidCertValidity => CertificateError::NotYetValid(msg),
        W::UnknownIssuer | W::InvalidSignatureForPublicKey => CertificateError::UntrustedChain(msg),
        W::CaUsedAsEndEntity
        | W::EndEntityUsedAsCa
        | W::PathLenConstraintViolated
        | W::MaximumPathDepthExceeded
        | W::UnsupportedCriticalExtension
        | W::EmptyEkuExtension
        | W::NameConstraintViolation
        | W::RequiredEkuNotFoundContext(_)
        | W::RequiredEkuNotFound
        | W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | W::UnsupportedCertVersion => CertificateError::Usage(msg),
        W::BadDer | W::BadDerTime | W::TrailingData(_) | W::ExtensionValueInvalid => {
            CertificateError::Invalid(msg)
        }
        _ => CertificateError::UntrustedChain(msg),
    }
    .into()
}

/// Accepts any EKU, or requires one OID where an EKU extension is present.
struct Eku(Option<Vec<u8>>);

impl webpki::ExtendedKeyUsageValidator for Eku {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let mut any = false;
        let mut found = false;
        for id in iter {
            let id = id?;
            any = true;
            if let Some(want) = &self.0
                && id == webpki::KeyPurposeId::new(want)
            {
                found = true;
            }
        }
        if self.0.is_none() || !any || found {
            Ok(())
        } else {
            // The context variant cannot be built outside webpki.
            #[allow(deprecated)]
            Err(webpki::Error::RequiredEkuNotFound)
        }
    }
}

/// Certificate signature algorithms implemented on a [`CryptoProvider`].
#[derive(Debug)]
struct Alg {
    provider: &'static dyn CryptoProvider,
    alg: Algorithm,
    pk: AlgorithmIdentifier,
    sig: AlgorithmIdentifier,
}

impl SignatureVerificationAlgorithm for Alg {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let curve = self.alg.curve();
        let jwk = if curve == Curve::Ed25519 {
            PublicJwk::from_coordinates(curve, public_key.to_vec(), None).ok()
        } else {
            sec1_to_jwk(curve, public_key)
        }
        .ok_or(InvalidSignature)?;
        let key = self
            .provider
            .verifying_key(&jwk, self.alg)
            .map_err(|_| InvalidSignature)?;
        let sig = if curve == Curve::Ed25519 {
            signature.to_vec()
        } else {
            crate::crypto::der_to_jws_signature(self.alg, signature)
                .map_err(|_| InvalidSignature)?
        };
        key.verify(message, &sig).map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.pk
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.sig
    }
}

struct Algs(Vec<Alg>);

impl Algs {
    fn new(provider: &'static dyn CryptoProvider) -> Self {
        let all = [
            (Algorithm::Es256, alg_id::ECDSA_P256, alg_id::ECDSA_SHA256),
            (Algorithm::Es384, alg_id::ECDSA_P384, alg_id::ECDSA_SHA384),
            (Algorithm::Es512, alg_id::ECDSA_P521, alg_id::ECDSA_SHA512),
            (Algorithm::EdDsa, alg_id::ED25519, alg_id::ED25519),
        ];
        Self(
            all.into_iter()
                .filter(|(a, _, _)| provider.supports(*a))
                .map(|(alg, pk, sig)| Alg {
                    provider,
                    alg,
                    pk,
                    sig,
                })
                .collect(),
        )
    }

    fn list(&self) -> Vec<&dyn SignatureVerificationAlgorithm> {
        self.0
            .iter()
            .map(|a| a as &dyn SignatureVerificationAlgorithm)
            .collect()
    }
}
