//! A small HTTPS server for integration tests: a rustls server on 127.0.0.1 with a test CA
//! made by rcgen, answering per-test routes. Shared by `core/tests/https.rs`,
//! `core/tests/did.rs` (did:web) and `cli/tests/vc.rs`; include it with
//! `#[path = "common/tls.rs"] mod tls;` (needs rcgen and rustls as dev-dependencies and
//! credkit's `http` feature).
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

use credkit::http::{FetchPolicy, Fetcher, UreqClient, danger};

/// One answer of the test server.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) delay: Duration,
}

impl Reply {
    pub(crate) fn bytes(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn json(v: &Value) -> Self {
        Self::bytes(serde_json::to_vec(v).unwrap())
    }

    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: b"error page that must not be used".to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn redirect(status: u16, location: &str) -> Self {
        let mut r = Self::status(status);
        r.headers.push(("Location".into(), location.into()));
        r
    }

    pub(crate) fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

pub(crate) type Route = dyn Fn(&str, u16) -> Reply + Send + Sync;

/// A test CA and a server certificate for 127.0.0.1 (IP SAN), signed by it.
pub(crate) struct Pki {
    pub(crate) ca_der: Vec<u8>,
    pub(crate) srv_der: Vec<u8>,
    pub(crate) srv_key_der: Vec<u8>,
}

pub(crate) fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "credkit test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let srv_key = rcgen::KeyPair::generate().unwrap();
    let srv = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    let srv_cert = srv.signed_by(&srv_key, &issuer).unwrap();
    Pki {
        ca_der: ca_cert.der().to_vec(),
        srv_der: srv_cert.der().to_vec(),
        srv_key_der: srv_key.serialize_der(),
    }
}

/// An HTTPS server on 127.0.0.1, a thread per connection, that answers `route(path, port)`
/// with HTTP/1.1, `Content-Length` and `Connection: close`. It lives until the test process
/// ends.
pub(crate) struct Server {
    pub(crate) port: u16,
    pub(crate) ca_der: Vec<u8>,
    pub(crate) requests: Arc<AtomicUsize>,
    pub(crate) paths: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(route: impl Fn(&str, u16) -> Reply + Send + Sync + 'static) -> Self {
        let pki = pki();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.srv_der.clone().into()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.srv_key_der.clone())),
        )
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let route: Arc<Route> = Arc::new(route);
        {
            let requests = requests.clone();
            let paths = paths.clone();
            std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    let Ok(tcp) = tcp else { continue };
                    let config = config.clone();
                    let route = route.clone();
                    let requests = requests.clone();
                    let paths = paths.clone();
                    std::thread::spawn(move || {
                        serve(tcp, &config, port, &*route, &requests, &paths);
                    });
                }
            });
        }
        Self {
            port,
            ca_der: pki.ca_der,
            requests,
            paths,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Requests answered so far (TLS handshakes that failed are not requests).
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.paths
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    /// A client trusting this server's CA only.
    pub(crate) fn client(&self) -> UreqClient {
        UreqClient::with_root_certificates(std::slice::from_ref(&self.ca_der))
    }

    /// A fetcher that may reach 127.0.0.1, with `policy` otherwise.
    pub(crate) fn fetcher_with(&self, policy: FetchPolicy) -> Fetcher {
        Fetcher::with_policy(
            Arc::new(self.client()),
            danger::allow_internal_addresses(policy),
        )
    }

    pub(crate) fn fetcher(&self) -> Fetcher {
        self.fetcher_with(FetchPolicy::default())
    }
}

pub(crate) fn serve(
    tcp: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    port: u16,
    route: &Route,
    requests: &AtomicUsize,
    paths: &Mutex<Vec<String>>,
) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let mut request = Vec::new();
    let mut chunk = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
        if request.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    requests.fetch_add(1, Ordering::SeqCst);
    paths.lock().unwrap().push(path.clone());
    let reply = route(&path, port);
    if !reply.delay.is_zero() {
        std::thread::sleep(reply.delay);
    }
    let mut head = format!(
        "HTTP/1.1 {} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
    stream.conn.send_close_notify();
    let _ = stream.flush();
}
