//! credkit's core OpenID4VCI `Issuer` served over HTTPS on 127.0.0.1 inside the test process
//! (included from test files with `#[path]`, like `oid4vp_server.rs`): std `TcpListener` +
//! rustls, a thread per connection, HTTP/1.1 with Content-Length, `Connection: close`.
//! Every request is handed whole (method, path, query, every header as received, body) to
//! `Issuer::handle`, and its status, headers and body are written back. Bad input gets 400;
//! a server thread never panics. Also the test certificates and the store key it needs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit::crypto::default_provider;
use credkit::http::Method;
use credkit::jose::{Algorithm, PublicJwk};
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{
    Issuer, IssuerConfig, IssuerRequest, IssuerResponse, OfferGrant, OfferRequest,
    SdJwtVcConfiguration,
};
use credkit::rand::OsRandom;
use credkit::sd_jwt_vc::Vct;
use credkit::time::SystemClock;
use credkit::x509::certificates_to_pem;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Map, Value, json};

/// The store key of the tests' wallets (64 hex characters), for `CREDKIT_WALLET_KEY`.
pub(crate) const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub(crate) const VCT: &str = "urn:eudi:pid:1";

/// The PID claims every offer is made for.
pub(crate) fn pid_claims() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1964-08-12",
        "age_equal_or_over": {"18": true},
    }) else {
        unreachable!()
    };
    m
}

/// A fresh directory under the system temp dir (`credkit-cli-<name>-<pid>-<n>`).
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("credkit-cli-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A TLS server certificate for IP 127.0.0.1 (and localhost) under a fresh CA named
/// `ca_cn`: (CA PEM, leaf DER, leaf key).
pub(crate) fn tls_server(ca_cn: &str) -> (String, Vec<u8>, KeyPair) {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, ca_cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_der = p.self_signed(&ca_key).unwrap().der().to_vec();
    let ca = rcgen::Issuer::new(p, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (
        certificates_to_pem(std::slice::from_ref(&ca_der)),
        leaf.der().to_vec(),
        key,
    )
}

/// credkit's issuer behind HTTPS at `url` (also its Credential Issuer Identifier).
pub(crate) struct VciServer {
    pub url: String,
    /// The TLS CA (PEM file), for `--http-root` / `--ca`.
    pub ca_pem_path: PathBuf,
    /// The issuer's public JWK (file), for `--issuer-key`.
    pub issuer_key_path: PathBuf,
    /// Shares its state store with the served one (offers made here are served).
    pub issuer: Issuer,
    /// Every answered request: (path, status).
    pub log: Arc<Mutex<Vec<(String, u16)>>>,
    dir: PathBuf,
}

impl Drop for VciServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the issuer: configuration `pid` (vct `urn:eudi:pid:1`, scope `pid`), batches of
/// up to 3, DPoP nonces on, then `configure`.
pub(crate) fn start(configure: impl FnOnce(&mut IssuerConfig)) -> VciServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let dir = temp_dir("vci-server");

    let key = default_provider()
        .generate(Algorithm::Es256, &OsRandom)
        .unwrap();
    let signer = default_provider().signer(&key).unwrap();
    let issuer_key_path = dir.join("issuer.pub.jwk");
    std::fs::write(
        &issuer_key_path,
        Value::Object(signer.public_jwk().to_json()).to_string(),
    )
    .unwrap();
    let mut pid = SdJwtVcConfiguration::new("pid", Vct::new(VCT).unwrap(), "pid");
    // A display name gives the configuration `credential_metadata` (1.0-shaped metadata).
    pid.display_name = Some("PID".into());
    let mut config = IssuerConfig::new(&url, signer, vec![pid]).unwrap();
    config.batch_size = 3;
    config.dpop_nonces = true;
    configure(&mut config);
    let issuer = Issuer::new(
        config,
        Arc::new(MemoryStateStore::new()),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
    );

    let (ca_pem, cert_der, tls_key) = tls_server("credkit vci test TLS CA");
    let ca_pem_path = dir.join("tls-ca.pem");
    std::fs::write(&ca_pem_path, ca_pem).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert_der.into()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls_key.serialize_der())),
    )
    .unwrap();
    let tls = Arc::new(tls);
    let log = Arc::new(Mutex::new(Vec::new()));
    let (served, served_log) = (issuer.clone(), log.clone());
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let (tls, issuer, log) = (tls.clone(), served.clone(), served_log.clone());
            std::thread::spawn(move || serve_one(tcp, tls, &issuer, &log));
        }
    });
    VciServer {
        url,
        ca_pem_path,
        issuer_key_path,
        issuer,
        log,
        dir,
    }
}

impl VciServer {
    /// A PID offer: pre-authorized (with a 6-digit Transaction Code when `tx_code`) or,
    /// with `authorization_code`, an authorization code offer with `issuer_state`; by
    /// reference when `by_reference`. Returns (the offer URI, the Transaction Code).
    pub(crate) fn offer(
        &self,
        tx_code: bool,
        authorization_code: bool,
        by_reference: bool,
    ) -> (String, Option<String>) {
        let grant = if authorization_code {
            OfferGrant::AuthorizationCode
        } else {
            OfferGrant::PreAuthorized {
                tx_code_digits: tx_code.then_some(6),
                tx_code_description: tx_code.then(|| "sent by e-mail".to_owned()),
            }
        };
        let mut request = OfferRequest::new(vec!["pid".into()], pid_claims(), grant);
        if by_reference {
            request = request.by_reference();
        }
        let o = self.issuer.create_offer(&request).unwrap();
        (o.uri, o.tx_code.map(|c| c.expose().to_owned()))
    }

    /// The issuer's public key.
    pub(crate) fn issuer_jwk(&self) -> PublicJwk {
        self.issuer.config().signer.public_jwk().clone()
    }

    /// How many requests to `path` were answered with `status`.
    pub(crate) fn hits(&self, path: &str, status: u16) -> usize {
        self.requests()
            .iter()
            .filter(|(p, s)| p == path && *s == status)
            .count()
    }

    pub(crate) fn requests(&self) -> Vec<(String, u16)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// One request read off `stream`: (method, target, headers, body), or `Err(())` for
/// input to answer 400, or `Ok(None)` when the connection ended first.
type Parsed = Result<Option<(String, String, Vec<(String, String)>, Vec<u8>)>, ()>;

fn read_request(stream: &mut impl Read) -> Parsed {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if data.len() > 64 * 1024 {
            return Err(());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => data.extend_from_slice(chunk.get(..n).ok_or(())?),
        }
    };
    let head = std::str::from_utf8(data.get(..head_end).ok_or(())?).map_err(|_| ())?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Err(());
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(());
    }
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(())?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().map_err(|_| ())?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(()); // only Content-Length bodies
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    if content_length > 1024 * 1024 {
        return Err(());
    }
    let mut body = data.get(head_end..).ok_or(())?.to_vec();
    while body.len() < content_length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => body.extend_from_slice(chunk.get(..n).ok_or(())?),
        }
    }
    body.truncate(content_length);
    Ok(Some((method.to_owned(), target.to_owned(), headers, body)))
}

fn serve_one(
    tcp: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    issuer: &Issuer,
    log: &Mutex<Vec<(String, u16)>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // (status, headers, body)
    type Answer = (u16, Vec<(String, String)>, Vec<u8>);
    let bad = || -> Answer {
        let ct = ("Content-Type".to_owned(), "application/json".to_owned());
        (400, vec![ct], br#"{"error":"invalid_request"}"#.to_vec())
    };
    let (path, (status, headers, body)) = match read_request(&mut stream) {
        Ok(None) => return,
        Err(()) => (String::new(), bad()),
        Ok(Some((method, target, headers, body))) => {
            let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
            let method = match method.as_str() {
                "GET" => Some(Method::Get),
                "POST" => Some(Method::Post),
                _ => None,
            };
            let answer = method.map_or_else(bad, |m| {
                let r: IssuerResponse =
                    issuer.handle(&IssuerRequest::new(m, path, query, &headers, &body));
                (r.status, r.headers, r.body)
            });
            (path.to_owned(), answer)
        }
    };
    if let Ok(mut l) = log.lock() {
        l.push((path, status));
    }
    let mut head = format!("HTTP/1.1 {status} Test\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 204 && status >= 200 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}
