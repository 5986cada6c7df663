//! TLS for the service (rustls with the ring provider, TLS 1.2 and 1.3, BCP 195 defaults)
//! and the throw-away certificates of `--dev`.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Failure, read};

/// The rustls configuration of a PEM chain and key.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Failure> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(read(cert)?.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::Usage(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_slice(read(key)?.as_bytes())
        .map_err(|e| Failure::Usage(format!("{}: {e}", key.display())))?;
    config(chain, key)
}

fn config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Start(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Failure::Usage(format!("TLS certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Throw-away material for `--dev`: a TLS certificate for `localhost` / 127.0.0.1 and a
/// request-signing chain (CA → leaf for `localhost`), all under one CA written to `dir`.
pub(crate) struct DevPki {
    /// The TLS configuration.
    pub(crate) tls: Arc<ServerConfig>,
    /// The request-signing key as a private JWK (JSON).
    pub(crate) signing_jwk: String,
    /// The request-signing chain, leaf only (PEM).
    pub(crate) x5c_pem: String,
}

pub(crate) fn dev_pki(dir: &Path) -> Result<DevPki, Failure> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256,
    };
    let bad = |e: rcgen::Error| Failure::Start(format!("--dev certificates: {e}"));
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(bad)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "credkit-server --dev CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(bad)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf = |usage: KeyUsagePurpose| -> Result<(rcgen::Certificate, KeyPair), Failure> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(bad)?;
        let mut p = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(bad)?;
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.key_usages = vec![usage];
        Ok((p.signed_by(&key, &issuer).map_err(bad)?, key))
    };
    let (tls_cert, tls_key) = leaf(KeyUsagePurpose::DigitalSignature)?;
    let (sign_cert, sign_key) = leaf(KeyUsagePurpose::DigitalSignature)?;
    std::fs::create_dir_all(dir).map_err(|e| Failure::Start(format!("{}: {e}", dir.display())))?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem())
        .map_err(|e| Failure::Start(format!("{}: {e}", ca_path.display())))?;
    tracing::info!(
        ca = %ca_path.display(),
        "--dev: throw-away CA for TLS and request signing (give it to the wallet as \
         --http-root and --verifier-trust-anchor)"
    );
    let tls = config(
        vec![tls_cert.der().clone()],
        PrivateKeyDer::try_from(tls_key.serialize_der())
            .map_err(|e| Failure::Start(format!("--dev TLS key: {e}")))?,
    )?;
    let d = p256_scalar(&sign_key.serialize_der())
        .ok_or_else(|| Failure::Start("--dev signing key".into()))?;
    let info = credkit::x509::leaf_info(sign_cert.der())?;
    let mut jwk = info.leaf_key.minimal_json();
    jwk.insert("d".into(), credkit::b64::encode_secret(&d).into());
    Ok(DevPki {
        tls,
        signing_jwk: serde_json::Value::Object(jwk).to_string(),
        x5c_pem: sign_cert.pem(),
    })
}

/// The private scalar of rcgen's P-256 PKCS#8 key: the RFC 5915 `ECPrivateKey` inside holds
/// `version 1` then the 32-byte `privateKey` OCTET STRING.
fn p256_scalar(pkcs8: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
    let at = pkcs8.windows(marker.len()).position(|w| w == marker)? + marker.len();
    pkcs8
        .get(at..at + 32)
        .map(|d| zeroize::Zeroizing::new(d.to_vec()))
}
