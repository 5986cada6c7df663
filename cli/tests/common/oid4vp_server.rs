//! The OpenID4VP test rig shared by `respond.rs` and `interop_openid4vp.rs` (included from
//! each with `#[path]`, not from `common/mod.rs`): running the credkit binary, a credkit
//! wallet holding one PID, test certificates, and credkit's core verifier served over HTTPS
//! on 127.0.0.1 inside the test process (request objects at `/request/<id>` by GET or POST,
//! responses at `/response`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit::crypto::default_provider;
use credkit::dcql::{CredentialQueryBuilder, DcqlQuery, DcqlQueryBuilder};
use credkit::jose::{Curve, PrivateJwk, PublicJwk};
use credkit::openid4vp::ClientIdPrefix;
use credkit::openid4vp::verifier::{MemoryTransactionStore, Verifier};
use credkit::rand::OsRandom;
use credkit::sd_jwt::StaticIssuerKeys;
use credkit::sd_jwt_vc::TrustPolicy;
use credkit::x509::certificates_to_pem;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// The store key of the tests' wallets (64 hex characters).
pub(crate) const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub(crate) const VCT: &str = "urn:eudi:pid:1";
pub(crate) const ISS: &str = "https://pid-provider.example";
/// What the test verifier's response URI answers with when it is given a redirect URI.
pub(crate) const REDIRECT: &str = "https://127.0.0.1/done#code=xyz";

// ---------------------------------------------------------------------------------------
// Running the binary, with the store key in CREDKIT_WALLET_KEY
// ---------------------------------------------------------------------------------------

pub(crate) fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .env("CREDKIT_WALLET_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn ok_json(args: &[&str]) -> Value {
    let text = ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
}

/// A temporary directory `credkit-cli-<test>-<name>-<pid>`, removed on drop.
pub(crate) struct Dir(PathBuf);

impl Dir {
    pub(crate) fn new(test: &str, name: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("credkit-cli-{test}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// The credkit wallet: one holder key, one PID bound to it
// ---------------------------------------------------------------------------------------

/// Issuer key files: (private JWK path, public JWK path, public JWK).
pub(crate) fn issuer(d: &Dir) -> (String, String, PublicJwk) {
    let text = ok(&["key", "generate"]);
    let private = d.write("issuer.jwk", &text);
    let jwk = PrivateJwk::parse(&text).unwrap().public().clone();
    let public = d.write("issuer.pub.jwk", &Value::Object(jwk.to_json()).to_string());
    (private, public, jwk)
}

/// A PID bound to `holder` (given_name and age_equal_or_over/18 selectively disclosable).
pub(crate) fn issue_pid(d: &Dir, issuer_key: &str, holder: &str) -> String {
    let claims = d.write(
        "claims.json",
        &json!({"given_name": "Erika", "age_equal_or_over": {"18": true}}).to_string(),
    );
    let cred = ok(&[
        "issue",
        "--key",
        issuer_key,
        "--claims",
        &claims,
        "--vct",
        VCT,
        "--iss",
        ISS,
        "--sd",
        "/given_name",
        "--sd",
        "/age_equal_or_over/18",
        "--holder-key",
        holder,
    ]);
    d.write("pid.sd-jwt", cred.trim())
}

/// A credkit wallet in `d`, set up through the CLI: one holder key, one PID bound to it
/// ([`issue_pid`]), verified with the issuer's key. Returns (the wallet's database path,
/// the issuer's public JWK path, the issuer's public JWK).
pub(crate) fn credkit_wallet(d: &Dir) -> (String, String, PublicJwk) {
    let (issuer_key, issuer_pub, issuer_jwk) = issuer(d);
    let db = d.path("wallet.db");
    let keys = ok_json(&["wallet", "--db", &db, "keys", "--count", "1"]);
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    let holder = d.write("holder.jwk", &keys[0]["jwk"].to_string());
    let cred = issue_pid(d, &issuer_key, &holder);
    let batch = ok(&[
        "wallet",
        "--db",
        &db,
        "add",
        "--key-id",
        &key_id,
        "--issuer-key",
        &issuer_pub,
        &cred,
    ]);
    assert!(!batch.trim().is_empty());
    (db, issuer_pub, issuer_jwk)
}

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

pub(crate) struct Ca {
    pub(crate) der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

pub(crate) fn root_ca(cn: &str) -> Ca {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let der = p.self_signed(&key).unwrap().der().to_vec();
    Ca {
        der,
        issuer: Issuer::new(p, key),
    }
}

/// The verifier's request-signing certificate: P-256, not a CA, digitalSignature, the
/// dNSNames `dns`, signed by `ca`.
pub(crate) fn verifier_leaf(ca: &Ca, dns: &[&str]) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let names: Vec<String> = dns.iter().map(|n| (*n).to_owned()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "Test Verifier");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let der = p.signed_by(&key, &ca.issuer).unwrap().der().to_vec();
    (der, key)
}

/// A TLS server certificate for 127.0.0.1 and localhost under a fresh CA named `ca_cn`:
/// (CA PEM, certificate DER, key).
pub(crate) fn tls_server(ca_cn: &str) -> (String, Vec<u8>, KeyPair) {
    let ca = root_ca(ca_cn);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let p = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (
        certificates_to_pem(std::slice::from_ref(&ca.der)),
        cert.der().to_vec(),
        key,
    )
}

/// The rcgen P-256 key as a credkit private JWK: the point from `public_key_raw`, the scalar
/// from ring's PKCS#8 (the OCTET STRING at bytes 34..68), as in vc.rs.
pub(crate) fn private_jwk(key: &KeyPair) -> PrivateJwk {
    let raw = key.public_key_raw();
    assert_eq!((raw.len(), raw[0]), (65, 4));
    let public =
        PublicJwk::from_coordinates(Curve::P256, raw[1..33].to_vec(), Some(raw[33..].to_vec()))
            .unwrap();
    let pkcs8 = key.serialize_der();
    assert_eq!(pkcs8[34..36], [0x04, 0x20]);
    PrivateJwk::from_parts(public, pkcs8[36..68].to_vec().into()).unwrap()
}

// ---------------------------------------------------------------------------------------
// The HTTPS server: one thread per connection, HTTP/1.1 with Content-Length, Connection:
// close; every request is logged as (method, path).
// ---------------------------------------------------------------------------------------

pub(crate) struct Request {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

pub(crate) struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

pub(crate) struct Server {
    port: u16,
    /// The TLS server's CA, PEM (for `--http-root`).
    ca_pem: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    listener: Option<TcpListener>,
}

impl Server {
    /// Binds 127.0.0.1 (the port is known before the verifier is built); [`Server::serve`]
    /// starts answering.
    fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self {
            port: listener.local_addr().unwrap().port(),
            ca_pem: String::new(),
            log: Arc::new(Mutex::new(Vec::new())),
            listener: Some(listener),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Serves TLS with a [`tls_server`] certificate under a fresh CA named `tls_ca_cn`.
    fn serve(&mut self, tls_ca_cn: &str, handler: Arc<Handler>) {
        let (ca_pem, cert_der, key) = tls_server(tls_ca_cn);
        self.ca_pem = ca_pem;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert_der.into()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        let config = Arc::new(config);
        let listener = self.listener.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let config = config.clone();
                let handler = handler.clone();
                let log = log.clone();
                std::thread::spawn(move || serve_one(tcp, &config, &*handler, &log));
            }
        });
    }

    /// How many requests came with `method` to `path`.
    pub(crate) fn hits(&self, method: &str, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }

    pub(crate) fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap().clone()
    }
}

fn serve_one(
    tcp: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    handler: &Handler,
    log: &Mutex<Vec<(String, String)>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
        if data.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or("/").to_owned();
    let mut content_length = 0usize;
    let mut content_type = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_owned());
            }
        }
    }
    let mut body = data[head_end..].to_vec();
    while body.len() < content_length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
        if body.len() > 1024 * 1024 {
            return;
        }
    }
    body.truncate(content_length);
    log.lock().unwrap().push((method.clone(), path.clone()));
    let reply = handler(&Request {
        method,
        path,
        content_type,
        body,
    });
    let head = format!(
        "HTTP/1.1 {} Test\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
pub(crate) fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// credkit's verifier behind the HTTPS server
// ---------------------------------------------------------------------------------------

/// What each POST to the verifier carried: (path, body).
pub(crate) type Posts = Mutex<Vec<(String, String)>>;

/// The verifier's HTTP side: request objects at `/request/<id>` (GET, or POST with
/// `wallet_nonce`), responses at `/response`, answered with `{}` or, given `redirect_uri`,
/// `{"redirect_uri": redirect_uri}`; given `posts`, what each POST carried is kept there.
fn route(v: &Verifier, redirect_uri: Option<&str>, posts: Option<&Posts>, r: &Request) -> Reply {
    let bad = || Reply::json(400, &json!({"error": "invalid_request"}));
    let keep = || {
        if let Some(posts) = posts {
            posts.lock().unwrap().push((
                r.path.clone(),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
    };
    if let Some(id) = r.path.strip_prefix("/request/") {
        let nonce = match r.method.as_str() {
            "GET" => None,
            "POST" => {
                keep();
                form_value(&r.body, "wallet_nonce")
            }
            _ => return bad(),
        };
        return match v.request_object(id, nonce.as_deref()) {
            Ok(jwt) => Reply {
                status: 200,
                content_type: "application/oauth-authz-req+jwt",
                body: jwt.into_bytes(),
            },
            Err(_) => bad(),
        };
    }
    if r.path == "/response" && r.method == "POST" {
        keep();
        return match v.handle_response(r.content_type.as_deref(), &r.body) {
            Ok(_) => match redirect_uri {
                None => Reply::json(200, &json!({})),
                Some(uri) => Reply::json(200, &json!({"redirect_uri": uri})),
            },
            Err(_) => bad(),
        };
    }
    Reply::json(404, &json!({"error": "not_found"}))
}

pub(crate) fn over_18() -> DcqlQuery {
    DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &[VCT]).claim(&["age_equal_or_over", "18"]),
        )
        .build()
        .unwrap()
}

/// credkit's verifier served by [`https_verifier`].
pub(crate) struct HttpsVerifier {
    /// The verifier's request-signing CA (PEM file) for `--verifier-trust-anchor`.
    pub(crate) anchor: String,
    /// The TLS CA (PEM file) for `--http-root`.
    pub(crate) http_root: String,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) server: Server,
}

/// credkit's core verifier behind the HTTPS server ([`route`] with `redirect_uri` and
/// `posts`): x509_hash, signing with a [`verifier_leaf`] for `dns` under its own CA
/// ("credkit `label` test verifier CA"), trusting `issuer_jwk`; the TLS CA is "credkit
/// `label` test TLS CA". The two CA PEM files are written to `d`.
pub(crate) fn https_verifier(
    d: &Dir,
    label: &str,
    dns: &[&str],
    issuer_jwk: &PublicJwk,
    redirect_uri: Option<&'static str>,
    posts: Option<Arc<Posts>>,
) -> HttpsVerifier {
    let ca = root_ca(&format!("credkit {label} test verifier CA"));
    let (leaf_der, leaf_key) = verifier_leaf(&ca, dns);
    let anchor = d.write(
        "verifier-ca.pem",
        &certificates_to_pem(std::slice::from_ref(&ca.der)),
    );
    let signer = default_provider().signer(&private_jwk(&leaf_key)).unwrap();
    let issuer_keys = StaticIssuerKeys::single(issuer_jwk, default_provider()).unwrap();
    let trust = Arc::new(TrustPolicy::new().otherwise(Arc::new(issuer_keys)));
    let mut server = Server::bind();
    let verifier = Arc::new(
        Verifier::new(
            ClientIdPrefix::X509Hash,
            signer,
            vec![leaf_der],
            None,
            &server.url("/response"),
            &server.url("/request"),
            trust,
            Arc::new(MemoryTransactionStore::new()),
            Arc::new(OsRandom),
        )
        .unwrap(),
    );
    let v = verifier.clone();
    server.serve(
        &format!("credkit {label} test TLS CA"),
        Arc::new(move |r: &Request| route(&v, redirect_uri, posts.as_deref(), r)),
    );
    let http_root = d.write("tls-ca.pem", &server.ca_pem);
    HttpsVerifier {
        anchor,
        http_root,
        verifier,
        server,
    }
}
