//! The `credkit-server` process harness shared by the role tests: start a role with
//! `--dev` on a fresh SQLite file, read its `listening on` line, call its HTTP API over
//! TLS with the dev CA, and stop it with SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use credkit::crypto::{Signer, default_provider};
use credkit::http::{FetchPolicy, Fetcher, UreqClient};
use credkit::jose::Algorithm;
use credkit::openid4vp::wallet::WalletPolicy;
use credkit::rand::OsRandom;
use credkit::sd_jwt::{KeyBindingPolicy, StaticIssuerKeys};
use credkit::sd_jwt_vc::{TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::wallet::{MemoryStore, SoftwareKeyManager, Wallet};
use credkit::x509::TrustAnchors;
use serde_json::{Value, json};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) dir: PathBuf,
    pub(crate) token: String,
}

impl Server {
    /// Starts `credkit-server ROLE --dev` on a fresh SQLite file; `files` are written into
    /// the test directory first (name, content) so that `extra` can name them as
    /// `{dir}/name`.
    pub(crate) fn start(role: &str, files: &[(&str, &str)], extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "credkit-server-test-{}",
            credkit::rand::id(&OsRandom).unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let extra: Vec<String> = extra
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_credkit-server"))
            .args([role, "--dev", "--dev-dir"])
            .arg(dir.join("dev"))
            .arg("--store")
            .arg(format!("sqlite:{}", dir.join("state.sqlite").display()))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--public-url",
                "https://localhost",
            ])
            .args(&extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on https://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let port = addr.rsplit(':').next().unwrap();
        let token = std::fs::read_to_string(dir.join("dev/admin-token")).unwrap();
        Self {
            child,
            url: format!("https://localhost:{port}"),
            dir,
            token,
        }
    }

    pub(crate) fn ca(&self) -> Vec<Vec<u8>> {
        credkit::x509::certificates_from_pem(
            &std::fs::read_to_string(self.dir.join("dev/ca.pem")).unwrap(),
        )
        .unwrap()
    }

    pub(crate) fn agent(&self) -> ureq::Agent {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots: Vec<Certificate<'static>> = self
            .ca()
            .iter()
            .map(|d| Certificate::from_der(d).to_owned())
            .collect();
        ureq::Agent::new_with_config(
            ureq::config::Config::builder()
                .http_status_as_error(false)
                .tls_config(
                    TlsConfig::builder()
                        .root_certs(RootCerts::Specific(Arc::new(roots)))
                        .build(),
                )
                .build(),
        )
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let agent = self.agent();
        let url = format!("{}{path}", self.url);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("POST", Some(b)) => {
                let mut r = agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(b.to_string()).unwrap()
            }
            _ => {
                let mut r = agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call().unwrap()
            }
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub(crate) fn fetcher(&self) -> Fetcher {
        Fetcher::with_policy(
            Arc::new(UreqClient::with_root_certificates(&self.ca())),
            credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
        )
    }

    pub(crate) fn wallet_policy(&self) -> WalletPolicy {
        let mut anchors = TrustAnchors::new();
        for c in self.ca() {
            anchors.add_der(&c).unwrap();
        }
        WalletPolicy::new(anchors).fetch_policy(credkit::http::danger::allow_internal_addresses(
            FetchPolicy::default(),
        ))
    }

    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Keys and certificates that several nodes of one deployment share (as `--dev` makes for
/// one): a CA, a TLS certificate for `localhost` / 127.0.0.1, a signing key (JWK) with its
/// certificate, and the management API token.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    tls_cert_pem: String,
    tls_key_pem: String,
    sign_jwk: String,
    sign_pem: String,
    pub(crate) token: String,
}

impl Pki {
    pub(crate) fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
            PKCS_ECDSA_P256_SHA256,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "credkit-server multinode test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = || {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut p =
                CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                    .unwrap();
            p.distinguished_name.push(DnType::CommonName, "localhost");
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            (p.signed_by(&key, &issuer).unwrap(), key)
        };
        let (tls_cert, tls_key) = leaf();
        let (sign_cert, sign_key) = leaf();
        // rcgen's P-256 PKCS#8: the RFC 5915 ECPrivateKey holds `version 1`, then the
        // 32-byte private scalar.
        let pkcs8 = sign_key.serialize_der();
        let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
        let at = pkcs8
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap()
            + marker.len();
        let d = &pkcs8[at..at + 32];
        let info = credkit::x509::leaf_info(sign_cert.der()).unwrap();
        let mut jwk = info.leaf_key.minimal_json();
        jwk.insert("d".into(), credkit::b64::encode_secret(d).into());
        Self {
            ca_pem: ca.pem(),
            tls_cert_pem: tls_cert.pem(),
            tls_key_pem: tls_key.serialize_pem(),
            sign_jwk: Value::Object(jwk).to_string(),
            sign_pem: sign_cert.pem(),
            token: credkit::rand::id(&OsRandom).unwrap(),
        }
    }
}

impl Server {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts one node of a deployment: `credkit-server ROLE` with `pki`'s keys and
    /// certificates, the public URL `public_url` (the load balancer's), and `extra` (after
    /// `{dir}` is replaced by the node's directory, where `files` are written first). Its
    /// `url` is the node's own address; its logs go to `{dir}/stderr.log`.
    pub(crate) fn start_node(
        role: &str,
        pki: &Pki,
        public_url: &str,
        files: &[(&str, &str)],
        extra: &[&str],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "credkit-server-node-{}",
            credkit::rand::id(&OsRandom).unwrap()
        ));
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        for (name, content) in [
            ("dev/ca.pem", pki.ca_pem.as_str()),
            ("tls.pem", &pki.tls_cert_pem),
            ("tls.key", &pki.tls_key_pem),
            ("signing.jwk", &pki.sign_jwk),
            ("signing.pem", &pki.sign_pem),
            ("admin-token", &pki.token),
        ]
        .into_iter()
        .chain(files.iter().copied())
        {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let extra: Vec<String> = extra
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_credkit-server"))
            .arg(role)
            .arg("--tls-cert")
            .arg(dir.join("tls.pem"))
            .arg("--tls-key")
            .arg(dir.join("tls.key"))
            .arg("--signing-key")
            .arg(dir.join("signing.jwk"))
            .arg("--x5c")
            .arg(dir.join("signing.pem"))
            .arg("--admin-token-file")
            .arg(dir.join("admin-token"))
            .args(["--listen", "127.0.0.1:0", "--public-url", public_url])
            .args(&extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on https://") else {
            let _ = child.kill();
            panic!(
                "{role} did not start ({line:?}): {}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        };
        let port = addr.rsplit(':').next().unwrap().to_owned();
        Self {
            child,
            url: format!("https://localhost:{port}"),
            dir,
            token: pki.token.clone(),
        }
    }

    /// The node's port.
    pub(crate) fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// What the node logged so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

/// A TCP load balancer on loopback, passing TLS through to the node it is pointed at: each
/// new connection goes to the node chosen last with [`Balancer::route_to`]. (A fresh
/// `Fetcher` after each choice keeps pooled connections from reaching the previous one.)
pub(crate) struct Balancer {
    pub(crate) port: u16,
    target: Arc<std::sync::atomic::AtomicU16>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Balancer {
    pub(crate) fn start() -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (target.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(node) =
                    std::net::TcpStream::connect(("127.0.0.1", t.load(Ordering::SeqCst)))
                else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), node.try_clone().unwrap()),
                    (node, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Self { port, target, stop }
    }

    /// New connections go to `node` from now on.
    pub(crate) fn route_to(&self, node: &Server) {
        self.target
            .store(node.port(), std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Says on the terminal (not captured by the test harness) why a test does nothing.
pub(crate) fn skip(why: &str) {
    note(&format!("SKIPPED: {why}"));
}

/// A line on the terminal, past the test harness's capture.
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// PostgreSQL and Redis for the multi-node tests: the machine's own when they answer on
/// their standard ports, else started here (a cluster via `pg_ctlcluster`, or a throw-away
/// one by `initdb` / `pg_ctl` in a temporary directory; `redis-server` on a free port
/// without persistence) and stopped on drop.
pub(crate) struct Services {
    /// A database this test may create databases from.
    pg: PgAt,
    pub(crate) redis_url: String,
    started_pg: Option<(PathBuf, PathBuf)>,
    started_redis: Option<Child>,
}

#[derive(Clone)]
struct PgAt {
    user: String,
    host: String,
    port: u16,
    db: String,
}

impl PgAt {
    fn url(&self, db: &str) -> String {
        format!(
            "postgres://{}@{}:{}/{db}?connect_timeout=5",
            self.user, self.host, self.port
        )
    }

    fn connect(&self) -> Option<postgres::Client> {
        postgres::Client::connect(&self.url(&self.db), postgres::NoTls).ok()
    }
}

fn find_pg(port: u16) -> Option<PgAt> {
    let mut users: Vec<String> = ["PGUSER", "USER"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .collect();
    users.extend(["postgres".to_owned(), "root".to_owned()]);
    for user in users {
        for db in ["test", "postgres"] {
            let at = PgAt {
                user: user.clone(),
                host: "127.0.0.1".into(),
                port,
                db: db.into(),
            };
            if at.connect().is_some() {
                return Some(at);
            }
        }
    }
    None
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as `postgres` when we are root (initdb and postgres refuse root).
fn as_postgres(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn pg_binaries() -> Option<(PathBuf, PathBuf)> {
    let mut dirs = vec![PathBuf::from("/usr/local/bin")];
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut v: Vec<PathBuf> = versions.flatten().map(|e| e.path().join("bin")).collect();
        v.sort();
        dirs.extend(v.into_iter().rev());
    }
    dirs.into_iter()
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .map(|d| (d.join("initdb"), d.join("pg_ctl")))
}

/// The port to look for a service on: `var` when set (to test the fall-backs), else the
/// standard one.
fn service_port(var: &str, standard: u16) -> u16 {
    std::env::var(var)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(standard)
}

impl Services {
    /// The services, or why there are none.
    pub(crate) fn start() -> Result<Self, String> {
        let pg_port = service_port("CREDKIT_TEST_PG_PORT", 5432);
        let redis_port = service_port("CREDKIT_TEST_REDIS_PORT", 6379);
        let mut started_pg = None;
        let pg = match find_pg(pg_port) {
            Some(at) => at,
            None => {
                // The machine's cluster, if it has one that is only down.
                if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
                    for v in versions.flatten() {
                        let v = v.file_name().to_string_lossy().into_owned();
                        run_quiet(Command::new("pg_ctlcluster").args([&v, "main", "start"]));
                    }
                }
                match find_pg(pg_port) {
                    Some(at) => at,
                    None => {
                        let (at, dir, pg_ctl) = start_own_pg()?;
                        note(&format!(
                            "PostgreSQL was not running: started one on port {}",
                            at.port
                        ));
                        started_pg = Some((dir, pg_ctl));
                        at
                    }
                }
            }
        };
        let mut started_redis = None;
        let standard = format!("redis://127.0.0.1:{redis_port}/");
        let redis_url = if redis_answers(&standard) {
            standard
        } else {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("Redis is not running and redis-server cannot start: {e}"))?;
            started_redis = Some(child);
            note(&format!(
                "Redis was not running: started redis-server on port {port}"
            ));
            let url = format!("redis://127.0.0.1:{port}/");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !redis_answers(&url) {
                if std::time::Instant::now() > deadline {
                    return Err("redis-server started but does not answer".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            url
        };
        Ok(Self {
            pg,
            redis_url,
            started_pg,
            started_redis,
        })
    }

    /// A new, empty database for one test, dropped with the value.
    pub(crate) fn database(&self) -> TestDb {
        let name = format!(
            "credkit_test_{}",
            credkit::rand::id(&OsRandom)
                .unwrap()
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let mut admin = self.pg.connect().unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        TestDb {
            url: self.pg.url(&name),
            at: self.pg.clone(),
            name,
        }
    }
}

fn redis_answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(mut c) = client.get_connection_with_timeout(std::time::Duration::from_secs(2)) else {
        return false;
    };
    redis::cmd("PING").query::<String>(&mut c).is_ok()
}

/// A throw-away cluster: `initdb` in a temporary directory, `pg_ctl start` on a free port.
fn start_own_pg() -> Result<(PgAt, PathBuf, PathBuf), String> {
    let (initdb, pg_ctl) = pg_binaries()
        .ok_or("PostgreSQL is not running and neither initdb nor pg_ctl is installed")?;
    let dir = std::env::temp_dir().join(format!(
        "credkit-test-pg-{}",
        credkit::rand::id(&OsRandom).unwrap()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if is_root() && !run_quiet(Command::new("chown").arg("postgres").arg(&dir)) {
        return Err("PostgreSQL is not running and there is no postgres user to run it".into());
    }
    let data = dir.join("data");
    if !run_quiet(as_postgres(&initdb).arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
    ])) {
        return Err(format!(
            "PostgreSQL is not running and {} failed",
            initdb.display()
        ));
    }
    let port = free_port();
    if !run_quiet(
        as_postgres(&pg_ctl)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -F",
                dir.display()
            ))
            .args(["-w", "start"]),
    ) {
        return Err(format!(
            "PostgreSQL is not running and {} start failed",
            pg_ctl.display()
        ));
    }
    let at = PgAt {
        user: "postgres".into(),
        host: "127.0.0.1".into(),
        port,
        db: "postgres".into(),
    };
    if at.connect().is_none() {
        return Err("the PostgreSQL started here does not answer".into());
    }
    Ok((at, data, pg_ctl))
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some((data, pg_ctl)) = &self.started_pg {
            run_quiet(as_postgres(pg_ctl).arg("-D").arg(data).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]));
            if let Some(dir) = data.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        if let Some(child) = &mut self.started_redis {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A database of its own for one test run (so that runs never collide), dropped at the end.
pub(crate) struct TestDb {
    pub(crate) url: String,
    at: PgAt,
    name: String,
}

impl TestDb {
    /// A connection to the test's database (to look at what the nodes stored).
    pub(crate) fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(mut admin) = self.at.connect() {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A wallet holding `copies` PIDs of a fresh test issuer (pinned by key).
pub(crate) struct Holder {
    pub(crate) issuer: Arc<dyn Signer>,
    pub(crate) wallet: Wallet,
}

pub(crate) fn holder(copies: usize) -> Holder {
    let p = default_provider();
    let issuer = p
        .signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
        .unwrap();
    holder_of(issuer, copies)
}

/// A wallet holding `copies` PIDs signed by `issuer`.
pub(crate) fn holder_of(issuer: Arc<dyn Signer>, copies: usize) -> Holder {
    let p = default_provider();
    let keys = StaticIssuerKeys::single(issuer.public_jwk(), p).unwrap();
    let vc = VcVerifier::builder(Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))))
        .key_binding(KeyBindingPolicy::Forbidden)
        .build()
        .unwrap();
    let wallet = Wallet::new(
        Arc::new(MemoryStore::new()),
        Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
        vc,
    );
    let keys = wallet.create_holder_keys(copies, Algorithm::Es256).unwrap();
    let claims = json!({"given_name": "Erika", "birthdate": "1964-08-12", "age_equal_or_over": {"18": true}});
    let issued: Vec<String> = keys
        .iter()
        .map(|(_, k)| {
            VcBuilder::new(
                Vct::new("urn:eudi:pid:1").unwrap(),
                claims.as_object().cloned().unwrap(),
            )
            .issuer("https://pid-provider.example")
            .holder_key(k.clone())
            .disclose("/given_name")
            .unwrap()
            .disclose("/birthdate")
            .unwrap()
            .disclose("/age_equal_or_over/18")
            .unwrap()
            .issue(&*issuer, &OsRandom)
            .unwrap()
            .to_string()
        })
        .collect();
    let refs: Vec<&str> = issued.iter().map(String::as_str).collect();
    let ids: Vec<String> = keys.into_iter().map(|(id, _)| id).collect();
    wallet.add(&refs, &ids).unwrap();
    Holder { issuer, wallet }
}
