//! OpenID4VP 1.0 interop in both roles against an independent implementation: the
//! OpenWallet Foundation's TypeScript library `@openid4vc/openid4vp` (with `jose`,
//! `@sd-jwt/sd-jwt-vc` and `dcql`), installed from npm by this test with `npm ci` from the
//! pinned `interop/openid4vp/package-lock.json`.
//!
//! - A (credkit wallet → library verifier): `interop/openid4vp/verifier.mjs` serves a signed
//!   request by reference over HTTPS on 127.0.0.1 with the test's certificates; the credkit
//!   CLI (`wallet respond --yes`) answers it; the library side verifies the response and
//!   prints the disclosed claims, which must be exactly the one asked for.
//! - B (library wallet → credkit verifier): credkit's core [`Verifier`] behind the HTTPS test
//!   server of `respond.rs`; `interop/openid4vp/wallet.mjs` resolves the request, presents
//!   and posts; the credkit transaction must end `Verified` with exactly that claim.
//!
//! The tests skip (with a message) only when `node` or `npm` is not installed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credkit::crypto::default_provider;
use credkit::dcql::{CredentialQueryBuilder, DcqlQuery, DcqlQueryBuilder};
use credkit::jose::{Curve, PrivateJwk, PublicJwk};
use credkit::openid4vp::verifier::{
    MemoryTransactionStore, PresentationRequest, TransactionStatus, Verifier,
};
use credkit::openid4vp::{ClientIdPrefix, ResponseMode};
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
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const VCT: &str = "urn:eudi:pid:1";
const ISS: &str = "https://pid-provider.example";
/// The DNS names in the verifier's request-signing certificate (`localhost` for
/// `x509_san_dns`, whose response URI host must be the DNS name).
const VERIFIER_DNS: [&str; 2] = ["verifier.example", "localhost"];
/// What credkit's test verifier answers a processed response with.
const REDIRECT: &str = "https://127.0.0.1/done#code=xyz";
/// The most any one step (a Node run, the credkit wallet) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(45);

// ---------------------------------------------------------------------------------------
// The independent implementation: node + npm ci, once per test run
// ---------------------------------------------------------------------------------------

/// `Ok(Some(dir))` when the npm packages are installed, `Ok(None)` when node or npm is
/// missing (skip), `Err` when `npm ci` failed.
type Install = Result<Option<PathBuf>, String>;

static INSTALL: Mutex<Option<Install>> = Mutex::new(None);

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The installed `interop/openid4vp` directory, or `None` (with a printed message) when the
/// test must be skipped. Panics when the install fails.
fn interop() -> Option<PathBuf> {
    let mut state = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = state.get_or_insert_with(|| {
        let missing: Vec<&str> = ["node", "npm"].into_iter().filter(|t| !has(t)).collect();
        if !missing.is_empty() {
            return Ok(None);
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../interop/openid4vp")
            .canonicalize()
            .map_err(|e| format!("interop/openid4vp: {e}"))?;
        let started = Instant::now();
        let out = Command::new("npm")
            .arg("ci")
            .arg("--prefix")
            .arg(&dir)
            .args(["--no-audit", "--no-fund", "--ignore-scripts"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci --prefix {} failed ({:?}):\n{}\n{}",
                dir.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!(
            "interop_openid4vp: npm ci took {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(Some(dir))
    });
    match result {
        Ok(Some(dir)) => Some(dir.clone()),
        Ok(None) => {
            println!(
                "SKIPPED: node and npm are needed for the OpenID4VP interop tests \
                 (@openid4vc/openid4vp from npm); install Node.js >= 20 with npm to run them"
            );
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A child process that is killed (by its handle) when the test ends early.
struct Running {
    child: Child,
    what: &'static str,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(what: &'static str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (tx, stdout) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        Self {
            child,
            what,
            stdout,
            stderr,
        }
    }

    /// The next stdout line, within [`STEP_TIMEOUT`].
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(STEP_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{}: no output line ({e}); stderr:\n{}",
                    self.what,
                    self.stderr()
                )
            }
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the stderr reader finish.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{}: timed out; stderr:\n{}", self.what, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the credkit binary, with the store key in CREDKIT_WALLET_KEY
// ---------------------------------------------------------------------------------------

fn credkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .env("CREDKIT_WALLET_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = credkit(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let text = ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "credkit-cli-interop-oid4vp-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
    fn write(&self, name: &str, text: &str) -> String {
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

/// Issuer key files: (private JWK path, public JWK path, public JWK).
fn issuer(d: &Dir) -> (String, String, PublicJwk) {
    let text = ok(&["key", "generate"]);
    let private = d.write("issuer.jwk", &text);
    let jwk = PrivateJwk::parse(&text).unwrap().public().clone();
    let public = d.write("issuer.pub.jwk", &Value::Object(jwk.to_json()).to_string());
    (private, public, jwk)
}

/// A PID bound to `holder` (given_name and age_equal_or_over/18 selectively disclosable).
fn issue_pid(d: &Dir, issuer_key: &str, holder: &str) -> String {
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

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn root_ca(cn: &str) -> Ca {
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
/// [`VERIFIER_DNS`] names, signed by `ca`.
fn verifier_leaf(ca: &Ca) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(Vec::from(VERIFIER_DNS.map(str::to_owned))).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "Test Verifier");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let der = p.signed_by(&key, &ca.issuer).unwrap().der().to_vec();
    (der, key)
}

/// A TLS server certificate for 127.0.0.1 and localhost under a fresh CA:
/// (CA PEM, certificate DER, key).
fn tls_server() -> (String, Vec<u8>, KeyPair) {
    let ca = root_ca("credkit interop test TLS CA");
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let p = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (
        certificates_to_pem(std::slice::from_ref(&ca.der)),
        cert.der().to_vec(),
        key,
    )
}

/// The rcgen P-256 key as a credkit private JWK (as in respond.rs).
fn private_jwk(key: &KeyPair) -> PrivateJwk {
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
// A: credkit wallet (CLI) -> @openid4vc/openid4vp verifier (verifier.mjs)
// ---------------------------------------------------------------------------------------

struct WalletSide {
    d: Dir,
    db: String,
    issuer_pub: String,
}

/// A credkit wallet set up through the CLI exactly as in respond.rs: one holder key, one
/// PID bound to it, verified with the issuer's key.
fn credkit_wallet(name: &str) -> WalletSide {
    let d = Dir::new(name);
    let (issuer_key, issuer_pub, _) = issuer(&d);
    let db = d.path("wallet.db");
    let keys = ok_json(&["wallet", "--db", &db, "keys", "--count", "1"]);
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    let holder = d.write("holder.jwk", &keys[0]["jwk"].to_string());
    let cred = issue_pid(&d, &issuer_key, &holder);
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
    WalletSide { d, db, issuer_pub }
}

/// Runs verifier.mjs with `extra` flags, answers its request with `credkit wallet respond
/// --yes [respond_flags]`, and returns (the request URL, credkit's output, the verifier's
/// result line).
fn credkit_to_library(
    name: &str,
    respond_flags: &[&str],
    extra: &[&str],
) -> Option<(String, Value, Value)> {
    let dir = interop()?;
    let started = Instant::now();
    let w = credkit_wallet(name);
    let ca = root_ca("credkit interop test verifier CA");
    let (leaf_der, leaf_key) = verifier_leaf(&ca);
    let anchor = w.d.write(
        "verifier-ca.pem",
        &certificates_to_pem(std::slice::from_ref(&ca.der)),
    );
    let signer_cert = w.d.write(
        "signer.pem",
        &certificates_to_pem(std::slice::from_ref(&leaf_der)),
    );
    let signer_key = w.d.write("signer.key", &leaf_key.serialize_pem());
    let (tls_ca, tls_der, tls_key) = tls_server();
    let http_root = w.d.write("tls-ca.pem", &tls_ca);
    let tls_cert = w.d.write(
        "tls.pem",
        &certificates_to_pem(std::slice::from_ref(&tls_der)),
    );
    let tls_key = w.d.write("tls.key", &tls_key.serialize_pem());

    let mut node = Running::spawn(
        "verifier.mjs",
        Command::new("node")
            .arg(dir.join("verifier.mjs"))
            .args(["--tls-cert", &tls_cert, "--tls-key", &tls_key])
            .args(["--signer-cert", &signer_cert, "--signer-key", &signer_key])
            .args(["--issuer-jwk", &w.issuer_pub, "--timeout", "40"])
            .args(extra),
    );
    let url = node.line();
    assert!(url.starts_with("openid4vp://?"), "{url}");

    let mut args = vec!["wallet", "--db", w.db.as_str(), "respond", "--yes"];
    args.extend_from_slice(respond_flags);
    args.extend_from_slice(&[
        "--http-root",
        &http_root,
        "--allow-internal-addresses",
        "--verifier-trust-anchor",
        &anchor,
        &url,
    ]);
    let out = credkit(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "credkit wallet respond failed: {}\nverifier.mjs stderr:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.stderr()
    );
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = node.line();
    let status = node.wait();
    assert!(
        status.success(),
        "verifier.mjs: {status}\n{}",
        node.stderr()
    );
    let result: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    println!(
        "{name}: {:.1} s; credkit: {sent}; verifier.mjs: {result}",
        started.elapsed().as_secs_f64()
    );
    Some((url, sent, result))
}

fn assert_library_verified(url: &str, sent: &Value, result: &Value, prefix: &str, mode: &str) {
    assert_eq!(sent["sent"], true, "{sent}");
    assert_eq!(sent["status"], 200, "{sent}");
    assert!(
        sent["redirect_uri"]
            .as_str()
            .is_some_and(|u| u.contains("/done?response_code=")),
        "the verifier's redirect_uri is printed: {sent}"
    );
    assert_eq!(result["verified"], true, "{result}");
    assert_eq!(result["response_mode"], mode, "{result}");
    let client_id = result["client_id"].as_str().unwrap();
    assert!(client_id.starts_with(&format!("{prefix}:")), "{result}");
    assert!(
        url.contains(&format!("client_id={}", client_id.replace(':', "%3A"))),
        "{url}"
    );
    assert_eq!(
        result["kb_aud"], client_id,
        "KB-JWT aud is the full client id: {result}"
    );
    assert_eq!(result["vct"], VCT, "{result}");
    assert_eq!(result["iss"], ISS, "{result}");
    assert_eq!(
        result["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "exactly the requested claim is disclosed: {result}"
    );
}

/// HAIP: x509_hash, signed request by reference (GET, as the library offers it),
/// direct_post.jwt with the library's ECDH-ES JWE; credkit in `--haip` mode.
#[test]
fn a_credkit_wallet_answers_the_library_verifier_direct_post_jwt_haip() {
    let Some((url, sent, result)) = credkit_to_library("a-jwt", &["--haip"], &[]) else {
        return;
    };
    assert!(!url.contains("request_uri_method"), "{url}");
    assert_library_verified(&url, &sent, &result, "x509_hash", "direct_post.jwt");
    assert_eq!(
        result["request_fetches"],
        json!([{"method": "GET", "wallet_nonce": false, "wallet_metadata": false}]),
        "without request_uri_method credkit fetches once by GET: {result}"
    );
    assert_eq!(result["encrypted"], true, "{result}");
    assert_eq!(
        result["jwe_enc"], "A256GCM",
        "HAIP: A256GCM when both are offered: {result}"
    );
}

/// x509_san_dns (response URI host = the DNS name), request_uri_method=post with
/// wallet_metadata and wallet_nonce, plain direct_post.
#[test]
fn a_credkit_wallet_answers_the_library_verifier_direct_post_san_dns_post() {
    let Some((url, sent, result)) = credkit_to_library(
        "a-plain",
        &[],
        &[
            "--response-mode",
            "direct_post",
            "--client-id-prefix",
            "x509_san_dns",
            "--public-host",
            "localhost",
            "--request-uri-method",
            "post",
        ],
    ) else {
        return;
    };
    assert!(url.contains("request_uri_method=post"), "{url}");
    assert_library_verified(&url, &sent, &result, "x509_san_dns", "direct_post");
    assert_eq!(
        result["request_fetches"],
        json!([{"method": "POST", "wallet_nonce": true, "wallet_metadata": true}]),
        "credkit POSTs wallet_metadata and wallet_nonce (§5.10): {result}"
    );
    assert_eq!(result["client_id"], "x509_san_dns:localhost", "{result}");
    assert_eq!(result["encrypted"], false, "{result}");
}

// ---------------------------------------------------------------------------------------
// B: @openid4vc/openid4vp wallet (wallet.mjs) -> credkit core Verifier over HTTPS
// (the server of respond.rs)
// ---------------------------------------------------------------------------------------

struct Request {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

struct Reply {
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

struct Server {
    port: u16,
    /// The TLS server's CA, PEM.
    ca_pem: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    listener: Option<TcpListener>,
}

impl Server {
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

    fn serve(&mut self, handler: Arc<Handler>) {
        let (ca_pem, cert_der, key) = tls_server();
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

    fn hits(&self, method: &str, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }

    fn requests(&self) -> Vec<(String, String)> {
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
fn form_value(body: &[u8], name: &str) -> Option<String> {
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

/// The verifier's HTTP side: request objects at `/request/<id>` (GET, or POST with
/// `wallet_nonce`), responses at `/response`; what each POST carried is kept in `posts`.
fn route(v: &Verifier, posts: &Mutex<Vec<(String, String)>>, r: &Request) -> Reply {
    let bad = || Reply::json(400, &json!({"error": "invalid_request"}));
    if let Some(id) = r.path.strip_prefix("/request/") {
        let nonce = match r.method.as_str() {
            "GET" => None,
            "POST" => {
                posts.lock().unwrap().push((
                    r.path.clone(),
                    String::from_utf8_lossy(&r.body).into_owned(),
                ));
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
        posts.lock().unwrap().push((
            r.path.clone(),
            String::from_utf8_lossy(&r.body).into_owned(),
        ));
        return match v.handle_response(r.content_type.as_deref(), &r.body) {
            Ok(_) => Reply::json(200, &json!({"redirect_uri": REDIRECT})),
            Err(_) => bad(),
        };
    }
    Reply::json(404, &json!({"error": "not_found"}))
}

fn over_18() -> DcqlQuery {
    DcqlQueryBuilder::new()
        .credential(
            CredentialQueryBuilder::sd_jwt_vc("pid", &[VCT]).claim(&["age_equal_or_over", "18"]),
        )
        .build()
        .unwrap()
}

/// credkit's verifier (x509_hash) behind the HTTPS server, a PID for wallet.mjs, and one
/// run of wallet.mjs against a fresh `mode` transaction.
fn library_to_credkit(name: &str, mode: ResponseMode) {
    let Some(dir) = interop() else {
        return;
    };
    let started = Instant::now();
    let d = Dir::new(name);
    let (issuer_key, _, issuer_jwk) = issuer(&d);
    let holder = d.write("holder.jwk", &ok(&["key", "generate"]));
    let cred = issue_pid(&d, &issuer_key, &holder);

    let ca = root_ca("credkit interop test verifier CA");
    let (leaf_der, leaf_key) = verifier_leaf(&ca);
    let anchor = d.write(
        "verifier-ca.pem",
        &certificates_to_pem(std::slice::from_ref(&ca.der)),
    );
    let signer = default_provider().signer(&private_jwk(&leaf_key)).unwrap();
    let issuer_keys = StaticIssuerKeys::single(&issuer_jwk, default_provider()).unwrap();
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
    let posts = Arc::new(Mutex::new(Vec::new()));
    let (v, p) = (verifier.clone(), posts.clone());
    server.serve(Arc::new(move |r: &Request| route(&v, &p, r)));
    let http_root = d.write("tls-ca.pem", &server.ca_pem);

    let created = verifier
        .create(&PresentationRequest::new(over_18()).response_mode(mode))
        .unwrap();
    let mut node = Running::spawn(
        "wallet.mjs",
        Command::new("node")
            .arg(dir.join("wallet.mjs"))
            .args(["--trust-anchor", &anchor, "--http-root", &http_root])
            .args(["--credential", &cred, "--holder-key", &holder])
            .arg(&created.authorization_request_uri),
    );
    let line = node.line();
    let status = node.wait();
    let tx = verifier.transaction(&created.transaction.id).unwrap();
    assert!(
        status.success(),
        "wallet.mjs: {status}: {line}\n{}\ntransaction: {tx:?}\nrequests: {:?}",
        node.stderr(),
        server.requests()
    );
    let out: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    println!(
        "{name}: {:.1} s; wallet.mjs: {out}",
        started.elapsed().as_secs_f64()
    );

    // The library answered the offered request_uri_method=post, once, with wallet_nonce
    // (credkit signs it into the request object and the library checks it there).
    let path = format!("/request/{}", created.transaction.id);
    assert_eq!(server.hits("POST", &path), 1, "{:?}", server.requests());
    assert_eq!(server.hits("GET", &path), 0, "{:?}", server.requests());
    let posted = posts.lock().unwrap().clone();
    let (_, body) = posted.iter().find(|(p, _)| *p == path).unwrap();
    assert!(
        form_value(body.as_bytes(), "wallet_nonce").is_some(),
        "{body}"
    );
    let metadata: Value =
        serde_json::from_str(&form_value(body.as_bytes(), "wallet_metadata").unwrap()).unwrap();
    assert!(
        metadata["vp_formats_supported"]["dc+sd-jwt"].is_object(),
        "{metadata}"
    );
    assert_eq!(
        server.hits("POST", "/response"),
        1,
        "{:?}",
        server.requests()
    );
    let (_, response) = posted.iter().find(|(p, _)| p == "/response").unwrap();
    match mode {
        ResponseMode::DirectPostJwt => {
            assert!(
                response.starts_with("response=") && !response.contains('&'),
                "direct_post.jwt posts response=<JWE> only: {response}"
            );
            assert_eq!(out["jwe"]["alg"], "ECDH-ES", "{out}");
            assert_eq!(out["jwe"]["kid"], created.transaction.id.as_str(), "{out}");
        }
        _ => assert!(
            form_value(response.as_bytes(), "vp_token").is_some(),
            "{response}"
        ),
    }

    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], json!({"redirect_uri": REDIRECT}), "{out}");
    assert_eq!(out["response_mode"], mode.name(), "{out}");
    assert_eq!(out["client_id"], verifier.client_id(), "{out}");
    assert_eq!(
        out["disclosed"],
        json!({"pid": [["age_equal_or_over", "18"]]}),
        "{out}"
    );

    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    let creds = tx.credentials.unwrap();
    assert_eq!(creds.as_object().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"].as_array().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"][0]["vct"], VCT, "{creds}");
    assert_eq!(creds["pid"][0]["issuer"], ISS, "{creds}");
    assert_eq!(
        creds["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "exactly the requested claim is disclosed: {creds}"
    );
}

#[test]
fn b_library_wallet_answers_the_credkit_verifier_direct_post_jwt() {
    library_to_credkit("b-jwt", ResponseMode::DirectPostJwt);
}

#[test]
fn b_library_wallet_answers_the_credkit_verifier_direct_post() {
    library_to_credkit("b-plain", ResponseMode::DirectPost);
}
