//! The CLI's OpenID4VP contract (`credkit wallet respond`) against a real verifier: credkit's
//! core verifier served over HTTPS on 127.0.0.1 inside the test process (request objects at
//! `/request/<id>` by GET or POST, responses at `/response`). Without `--yes` the command
//! prints the authenticated verifier identity and the consent candidates and sends nothing;
//! with `--yes` it sends the least-disclosure answer (`direct_post.jwt` by default, also
//! `direct_post`) and prints the verifier's answer; a refused request (untrusted verifier,
//! mismatching client id, internal address) exits 1 with one stderr line beginning with the
//! error code and sends nothing; usage errors exit 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit::crypto::default_provider;
use credkit::dcql::{CredentialQueryBuilder, DcqlQuery, DcqlQueryBuilder};
use credkit::jose::{Curve, PrivateJwk, PublicJwk};
use credkit::openid4vp::verifier::{
    CreatedPresentation, MemoryTransactionStore, PresentationRequest, TransactionStatus, Verifier,
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
/// The DNS name in the verifier's request-signing certificate.
const VERIFIER_DNS: &str = "verifier.example";
/// What the test verifier's response URI answers with `--yes` in [`Redirect::Yes`] mode.
const REDIRECT: &str = "https://127.0.0.1/done#code=xyz";

// ---------------------------------------------------------------------------------------
// Running the binary, with the store key in CREDKIT_WALLET_KEY
// ---------------------------------------------------------------------------------------

fn run(args: &[&str]) -> Output {
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

fn ok(args: &[&str]) -> String {
    let out = run(args);
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

/// Asserts a rejection: exit 1, nothing on stdout and exactly one stderr line that begins
/// with `code: `.
fn assert_rejected(out: &Output, code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected {code}, got: {err}");
    assert!(
        err.starts_with(&format!("{code}: ")),
        "expected {code}, got {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        out.stdout.is_empty(),
        "output on a rejection: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("credkit-cli-respond-{name}-{}", std::process::id()));
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

/// The verifier's request-signing certificate: P-256, not a CA, digitalSignature, dNSName
/// [`VERIFIER_DNS`], signed by `ca`.
fn verifier_leaf(ca: &Ca) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(vec![VERIFIER_DNS.to_owned()]).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "Test Verifier");
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let der = p.signed_by(&key, &ca.issuer).unwrap().der().to_vec();
    (der, key)
}

/// The rcgen P-256 key as a credkit private JWK: the point from `public_key_raw`, the scalar
/// from ring's PKCS#8 (the OCTET STRING at bytes 34..68), as in vc.rs.
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
// The HTTPS server: one thread per connection, HTTP/1.1 with Content-Length, Connection:
// close; every request is logged as (method, path).
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

    fn serve(&mut self, handler: Arc<Handler>) {
        let ca = root_ca("credkit respond test TLS CA");
        let srv_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let srv = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let srv_cert = srv.signed_by(&srv_key, &ca.issuer).unwrap();
        self.ca_pem = certificates_to_pem(std::slice::from_ref(&ca.der));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![srv_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(srv_key.serialize_der())),
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

// ---------------------------------------------------------------------------------------
// The rig: a verifier behind the HTTPS server and a wallet holding one PID
// ---------------------------------------------------------------------------------------

/// What the response URI answers to a processed response.
#[derive(Clone, Copy)]
enum Redirect {
    /// `{}`.
    No,
    /// `{"redirect_uri": REDIRECT}`.
    Yes,
}

struct Rig {
    d: Dir,
    db: String,
    /// The TLS CA (PEM file) for `--http-root`.
    http_root: String,
    /// The verifier's request-signing CA (PEM file) for `--verifier-trust-anchor`.
    anchor: String,
    verifier: Arc<Verifier>,
    server: Server,
}

impl Rig {
    fn new(name: &str, redirect: Redirect) -> Self {
        let d = Dir::new(name);
        // The wallet: one holder key, one PID bound to it (given_name and
        // age_equal_or_over/18 selectively disclosable), verified with the issuer's key.
        let issuer_text = ok(&["key", "generate"]);
        let issuer = d.write("issuer.jwk", &issuer_text);
        let issuer_jwk = PrivateJwk::parse(&issuer_text).unwrap().public().clone();
        let issuer_pub = d.write(
            "issuer.pub.jwk",
            &Value::Object(issuer_jwk.to_json()).to_string(),
        );
        let db = d.path("wallet.db");
        let keys = ok_json(&["wallet", "--db", &db, "keys", "--count", "1"]);
        let key_id = keys[0]["id"].as_str().unwrap().to_owned();
        let holder = d.write("holder.jwk", &keys[0]["jwk"].to_string());
        let claims = d.write(
            "claims.json",
            &json!({"given_name": "Erika", "age_equal_or_over": {"18": true}}).to_string(),
        );
        let cred = ok(&[
            "issue",
            "--key",
            &issuer,
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
            &holder,
        ]);
        let cred = d.write("pid.sd-jwt", cred.trim());
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

        // The verifier: x509_hash, signing with a leaf under its own CA, trusting the issuer.
        let ca = root_ca("credkit respond test verifier CA");
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
        let v = verifier.clone();
        server.serve(Arc::new(move |r: &Request| route(&v, redirect, r)));
        let http_root = d.write("tls-ca.pem", &server.ca_pem);
        Self {
            d,
            db,
            http_root,
            anchor,
            verifier,
            server,
        }
    }

    fn create(&self, mode: ResponseMode) -> CreatedPresentation {
        self.verifier
            .create(&PresentationRequest::new(over_18()).response_mode(mode))
            .unwrap()
    }

    /// `credkit wallet --db DB respond [extra...] --http-root CA --allow-internal-addresses
    /// --verifier-trust-anchor ANCHOR URI`.
    fn respond(&self, extra: &[&str], uri: &str) -> Output {
        self.respond_with(extra, &self.anchor, true, uri)
    }

    fn respond_with(&self, extra: &[&str], anchor: &str, internal: bool, uri: &str) -> Output {
        let mut args = vec!["wallet", "--db", self.db.as_str(), "respond"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--http-root", self.http_root.as_str()]);
        if internal {
            args.push("--allow-internal-addresses");
        }
        args.extend_from_slice(&["--verifier-trust-anchor", anchor, uri]);
        run(&args)
    }

    fn status(&self, created: &CreatedPresentation) -> TransactionStatus {
        self.verifier
            .transaction(&created.transaction.id)
            .unwrap()
            .status
    }

    fn posts_to_response(&self) -> usize {
        self.server.hits("POST", "/response")
    }
}

/// The verifier's HTTP side: request objects at `/request/<id>` (GET, or POST with
/// `wallet_nonce`), responses at `/response`.
fn route(v: &Verifier, redirect: Redirect, r: &Request) -> Reply {
    let bad = || Reply::json(400, &json!({"error": "invalid_request"}));
    if let Some(id) = r.path.strip_prefix("/request/") {
        let nonce = match r.method.as_str() {
            "GET" => None,
            "POST" => form_value(&r.body, "wallet_nonce"),
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
        return match v.handle_response(r.content_type.as_deref(), &r.body) {
            Ok(_) => match redirect {
                Redirect::No => Reply::json(200, &json!({})),
                Redirect::Yes => Reply::json(200, &json!({"redirect_uri": REDIRECT})),
            },
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

fn stdout_json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "respond failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The request object was fetched once, by POST (the verifier offers
/// `request_uri_method=post`).
fn fetched_by_post(rig: &Rig, created: &CreatedPresentation) {
    let path = format!("/request/{}", created.transaction.id);
    assert_eq!(
        rig.server.hits("POST", &path),
        1,
        "{:?}",
        rig.server.requests()
    );
    assert_eq!(
        rig.server.hits("GET", &path),
        0,
        "{:?}",
        rig.server.requests()
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn without_yes_prints_the_consent_summary_and_sends_nothing() {
    let rig = Rig::new("consent", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let v = stdout_json(&rig.respond(&[], &created.authorization_request_uri));
    let who = &v["verifier"];
    assert_eq!(who["authenticated"], true, "{v}");
    assert_eq!(who["client_id"], rig.verifier.client_id(), "{v}");
    assert_eq!(who["client_id_prefix"], "x509_hash", "{v}");
    assert_eq!(who["dns_names"], json!([VERIFIER_DNS]), "{v}");
    assert!(
        who["certificate_subject"]
            .as_str()
            .is_some_and(|s| s.contains("Test Verifier")),
        "{v}"
    );
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{v}");
    let pid = &candidates[0];
    assert_eq!(pid["query_id"], "pid", "{v}");
    assert_eq!(pid["required"], true, "{v}");
    assert_eq!(pid["multiple"], false, "{v}");
    let held = pid["candidates"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{v}");
    assert_eq!(held[0]["vct"], VCT, "{v}");
    assert_eq!(held[0]["issuer"], ISS, "{v}");
    assert_eq!(held[0]["remaining"], 1, "{v}");
    assert_eq!(held[0]["disclose"], json!(["/age_equal_or_over/18"]), "{v}");
    assert_eq!(
        held[0]["revealed"],
        json!({"/age_equal_or_over/18": true}),
        "exactly the one claim: {v}"
    );
    // Nothing was sent: no POST to the response URI, the transaction still waits.
    fetched_by_post(&rig, &created);
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
    // And nothing was spent: the consent summary can be shown again.
    let again = stdout_json(&rig.respond(&[], &created.authorization_request_uri));
    assert_eq!(again["candidates"][0]["candidates"][0]["remaining"], 1);
    assert_eq!(rig.posts_to_response(), 0);
}

#[test]
fn yes_sends_the_least_disclosure_answer_direct_post_jwt() {
    let rig = Rig::new("yes-jwt", Redirect::Yes);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(
        v,
        json!({"sent": true, "status": 200, "redirect_uri": REDIRECT}),
        "{v}"
    );
    fetched_by_post(&rig, &created);
    assert_eq!(rig.posts_to_response(), 1, "{:?}", rig.server.requests());
    let tx = rig.verifier.transaction(&created.transaction.id).unwrap();
    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    let creds = tx.credentials.unwrap();
    assert_eq!(creds.as_object().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"].as_array().unwrap().len(), 1, "{creds}");
    assert_eq!(creds["pid"][0]["vct"], VCT, "{creds}");
    assert_eq!(creds["pid"][0]["issuer"], ISS, "{creds}");
    assert_eq!(
        creds["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}}),
        "only the requested claim is disclosed: {creds}"
    );
}

#[test]
fn yes_sends_direct_post_and_prints_a_null_redirect_uri() {
    let rig = Rig::new("yes-plain", Redirect::No);
    let created = rig.create(ResponseMode::DirectPost);
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(
        v,
        json!({"sent": true, "status": 200, "redirect_uri": null}),
        "{v}"
    );
    assert_eq!(rig.posts_to_response(), 1, "{:?}", rig.server.requests());
    let tx = rig.verifier.transaction(&created.transaction.id).unwrap();
    assert_eq!(tx.status, TransactionStatus::Verified, "{:?}", tx.error);
    assert_eq!(
        tx.credentials.unwrap()["pid"][0]["claims"],
        json!({"age_equal_or_over": {"18": true}})
    );
}

#[test]
fn an_untrusted_verifier_is_refused_and_nothing_is_sent() {
    let rig = Rig::new("untrusted", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let other = rig.d.write(
        "other-ca.pem",
        &certificates_to_pem(&[root_ca("Unrelated CA").der]),
    );
    for extra in [&[][..], &["--yes"][..]] {
        let out = rig.respond_with(extra, &other, true, &created.authorization_request_uri);
        assert_rejected(&out, "untrusted_verifier");
    }
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
    // The wallet still holds its copy: a trusted run afterwards works.
    let v = stdout_json(&rig.respond(&["--yes"], &created.authorization_request_uri));
    assert_eq!(v["sent"], true, "{v}");
    assert_eq!(rig.status(&created), TransactionStatus::Verified);
}

#[test]
fn an_invalid_request_is_refused_and_nothing_is_sent() {
    let rig = Rig::new("invalid", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    // The outer client_id is not the request object's.
    let client_id = rig.verifier.client_id().replace(':', "%3A");
    let uri = &created.authorization_request_uri;
    assert!(uri.contains(&client_id), "{uri}");
    let forged = uri.replace(
        &client_id,
        "x509_hash%3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert_rejected(&rig.respond(&["--yes"], &forged), "client_id_mismatch");
    assert_eq!(rig.posts_to_response(), 0, "{:?}", rig.server.requests());
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
}

#[test]
fn internal_addresses_are_refused_without_the_flag() {
    let rig = Rig::new("ssrf", Redirect::No);
    let created = rig.create(ResponseMode::DirectPostJwt);
    let out = rig.respond_with(
        &["--yes"],
        &rig.anchor,
        false,
        &created.authorization_request_uri,
    );
    assert_rejected(&out, "url_forbidden");
    assert!(
        rig.server.requests().is_empty(),
        "{:?}",
        rig.server.requests()
    );
    assert_eq!(rig.status(&created), TransactionStatus::Pending);
}

#[test]
fn usage_errors_exit_2() {
    let d = Dir::new("usage");
    let db = d.path("wallet.db");
    ok_json(&["wallet", "--db", &db, "keys", "--count", "1"]);
    for args in [
        vec!["wallet", "--db", db.as_str(), "respond"],
        vec!["wallet", "--db", db.as_str(), "respond", "--yes"],
        vec![
            "wallet",
            "--db",
            db.as_str(),
            "respond",
            "--no-such-flag",
            "openid4vp://?client_id=x",
        ],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
