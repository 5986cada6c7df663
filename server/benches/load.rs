//! Load on loopback, end to end over HTTPS: complete OpenID4VP presentations (create, fetch
//! the request object with `wallet_nonce`, post the encrypted response, read the result) and
//! OpenID4VCI issuances (offer, token with DPoP and its nonce retry, `c_nonce`, one request
//! with a batch of 10 `jwt` proofs, notification), each with `WORKERS` concurrent clients
//! (credkit's blocking wallet over `UreqClient`); one instance on SQLite, then two
//! instances on one PostgreSQL. Reports operations per second, p50 / p99 latency, the CPU
//! time per operation of the service(s) and of the clients, and the share of that CPU spent
//! in ES256 signatures (the signature floor measured in the same run, times the signatures
//! each operation needs). A soak mode (`CREDKIT_SOAK=N`) runs N presentations and prints the
//! service's resident memory and open files as it goes.
//!
//! ```text
//! cargo bench -p credkit-server --bench load            # CREDKIT_LOAD_OPS=200 per scenario
//! CREDKIT_SOAK=20000 cargo bench -p credkit-server --bench load
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{Pki, Server, Services};
use credkit::crypto::{Signer, default_provider};
use credkit::http::{FetchPolicy, Fetcher, UreqClient};
use credkit::jose::Algorithm;
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions, run};
use credkit::openid4vp::wallet::WalletPolicy;
use credkit::rand::OsRandom;
use credkit::time::SystemClock;
use credkit::wallet::{KeyManager, SoftwareKeyManager};
use credkit::x509::TrustAnchors;
use serde_json::{Value, json};

const WORKERS: usize = 4;
/// ES256 signatures per presentation: request object and KB-JWT signed; request object,
/// issuer JWT and KB-JWT verified (ECDH of the JWE not counted).
const PRESENTATION_SIGNS: f64 = 2.0;
const PRESENTATION_VERIFIES: f64 = 3.0;
/// Per issuance of 10: 10 proofs + 10 credentials + 4 DPoP proofs (token twice, credential,
/// notification) signed; the same 10 + 10 + 4 verified (proofs and DPoP by the issuer,
/// credentials by the wallet before storing).
const ISSUANCE_SIGNS: f64 = 24.0;
const ISSUANCE_VERIFIES: f64 = 24.0;

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn floor() -> (f64, f64) {
    let p = default_provider();
    let key = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let signer = p.signer(&key).unwrap();
    let verifying = p.verifying_key(key.public(), Algorithm::Es256).unwrap();
    let msg = [7u8; 600];
    let n = 1000;
    for _ in 0..50 {
        let _ = signer.sign(&msg).unwrap();
    }
    let t = Instant::now();
    let mut sig = Vec::new();
    for _ in 0..n {
        sig = signer.sign(&msg).unwrap();
    }
    let sign = t.elapsed().as_secs_f64() / f64::from(n);
    let t = Instant::now();
    for _ in 0..n {
        verifying.verify(&msg, &sig).unwrap();
    }
    (sign, t.elapsed().as_secs_f64() / f64::from(n))
}

struct Report {
    name: String,
    ops: usize,
    wall: f64,
    latencies: Vec<f64>,
    server_cpu: f64,
    client_cpu: f64,
    sig_seconds_per_op: f64,
}

impl Report {
    fn print(&mut self) {
        self.latencies.sort_by(f64::total_cmp);
        let q =
            |p: f64| self.latencies[((self.latencies.len() - 1) as f64 * p).round() as usize] * 1e3;
        let per_op = (self.server_cpu + self.client_cpu) / self.ops as f64;
        println!(
            "| {} | {} | {:.1}/s | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.0} % |",
            self.name,
            self.ops,
            self.ops as f64 / self.wall,
            q(0.5),
            q(0.99),
            self.server_cpu * 1e3 / self.ops as f64,
            self.client_cpu * 1e3 / self.ops as f64,
            100.0 * self.sig_seconds_per_op / per_op,
        );
    }
}

fn fetcher(servers: &[&Server]) -> Fetcher {
    let roots: Vec<Vec<u8>> = servers.iter().flat_map(|s| s.ca()).collect();
    Fetcher::with_policy(
        Arc::new(UreqClient::with_root_certificates(&roots)),
        credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
    )
}

fn over_18() -> Value {
    json!({
        "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:eudi:pid:1"]},
            "claims": [{"path": ["age_equal_or_over", "18"]}]}]},
        "response_mode": "direct_post.jwt",
        "client_id_prefix": "x509_hash",
    })
}

/// One complete presentation on `node`; returns its latency.
fn present(
    node: &Server,
    f: &Fetcher,
    policy: &WalletPolicy,
    wallet: &credkit::wallet::Wallet,
) -> f64 {
    let t = Instant::now();
    let (status, created) = node.call(
        "POST",
        "/v1/presentations",
        Some(&node.token),
        Some(&over_18()),
    );
    assert_eq!(status, 201, "{created}");
    let request = policy
        .resolve(
            created["authorization_request_uri"].as_str().unwrap(),
            f,
            &OsRandom,
        )
        .unwrap();
    let choices = request.least_disclosure(wallet).unwrap();
    let sent = request
        .respond(wallet, &choices, &OsRandom)
        .unwrap()
        .send(f)
        .unwrap();
    assert_eq!(sent.status, 200);
    let (_, done) = node.call(
        "GET",
        &format!("/v1/presentations/{}", created["id"].as_str().unwrap()),
        Some(&node.token),
        None,
    );
    assert_eq!(done["status"], "verified", "{done}");
    t.elapsed().as_secs_f64()
}

fn presentations(name: &str, nodes: &[&Server], ops: usize, sig: (f64, f64)) -> Report {
    let per = ops.div_ceil(WORKERS);
    // Each worker holds `per` one-time copies from the issuer all nodes trust.
    let anchors = {
        let mut a = TrustAnchors::new();
        for c in nodes[0].ca() {
            a.add_der(&c).unwrap();
        }
        a
    };
    let holders: Vec<_> = (0..WORKERS).map(|_| shared_holder(per)).collect();
    let server_before: f64 = nodes.iter().map(|n| cpu_seconds(n.pid())).sum();
    let client_before = cpu_seconds(std::process::id());
    let t = Instant::now();
    let latencies: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = holders
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let node = nodes[i % nodes.len()];
                let anchors = anchors.clone();
                s.spawn(move || {
                    let f = fetcher(&[node]);
                    let policy = WalletPolicy::new(anchors).fetch_policy(
                        credkit::http::danger::allow_internal_addresses(FetchPolicy::default()),
                    );
                    (0..per)
                        .map(|_| present(node, &f, &policy, &h.wallet))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = t.elapsed().as_secs_f64();
    Report {
        name: name.to_owned(),
        ops: latencies.len(),
        wall,
        latencies,
        server_cpu: nodes.iter().map(|n| cpu_seconds(n.pid())).sum::<f64>() - server_before,
        client_cpu: cpu_seconds(std::process::id()) - client_before,
        sig_seconds_per_op: PRESENTATION_SIGNS * sig.0 + PRESENTATION_VERIFIES * sig.1,
    }
}

/// The issuer key every verifier node in this run trusts.
fn shared_issuer() -> &'static Arc<dyn Signer> {
    static KEY: std::sync::OnceLock<Arc<dyn Signer>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let p = default_provider();
        p.signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
            .unwrap()
    })
}

fn shared_holder(copies: usize) -> common::Holder {
    common::holder_of(shared_issuer().clone(), copies)
}

fn issuances(name: &str, nodes: &[&Server], ops: usize, sig: (f64, f64)) -> Report {
    let per = ops.div_ceil(WORKERS);
    let server_before: f64 = nodes.iter().map(|n| cpu_seconds(n.pid())).sum();
    let client_before = cpu_seconds(std::process::id());
    let t = Instant::now();
    let latencies: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|i| {
                let node = nodes[i % nodes.len()];
                s.spawn(move || {
                    let f = fetcher(&[node]);
                    let keys: Arc<dyn KeyManager> = Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom)));
                    (0..per)
                        .map(|_| {
                            let t = Instant::now();
                            let body = json!({"claims": {"given_name": "Erika", "age_equal_or_over": {"18": true}}});
                            let (status, created) = node.call("POST", "/v1/offers", Some(&node.token), Some(&body));
                            assert_eq!(status, 201, "{created}");
                            let mut options = IssuanceOptions::default();
                            options.count = 10;
                            let mut flow = Issuance::from_offer_uri(created["credential_offer_uri"].as_str().unwrap(), options).unwrap();
                            let env = Env::new(&keys, None, &SystemClock, &OsRandom);
                            let issued = run(&mut flow, &f, &env, &mut |_| panic!(), &mut |_| {}).unwrap();
                            assert_eq!(issued.credentials.len(), 10);
                            // The wallet verifies each credential before storing (one verify per copy).
                            let trust = credkit::sd_jwt_vc::X5cTrust::new({
                                let mut a = TrustAnchors::new();
                                for c in node.ca() {
                                    a.add_der(&c).unwrap();
                                }
                                a
                            });
                            let check = credkit::sd_jwt_vc::VcVerifier::builder(Arc::new(credkit::sd_jwt_vc::TrustPolicy::new().otherwise(Arc::new(trust))))
                                .key_binding(credkit::sd_jwt::KeyBindingPolicy::Forbidden)
                                .build()
                                .unwrap();
                            for c in &issued.credentials {
                                check.receive(c).unwrap();
                            }
                            for n in flow.notification("credential_accepted", &env).unwrap() {
                                f.send(&n).unwrap();
                            }
                            for id in &issued.key_ids {
                                let _ = keys.delete_key(id);
                            }
                            t.elapsed().as_secs_f64()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = t.elapsed().as_secs_f64();
    Report {
        name: name.to_owned(),
        ops: latencies.len(),
        wall,
        latencies,
        server_cpu: nodes.iter().map(|n| cpu_seconds(n.pid())).sum::<f64>() - server_before,
        client_cpu: cpu_seconds(std::process::id()) - client_before,
        sig_seconds_per_op: ISSUANCE_SIGNS * sig.0 + ISSUANCE_VERIFIES * sig.1,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let ops: usize = std::env::var("CREDKIT_LOAD_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let sig = floor();
    println!(
        "ES256 floor in this run: sign {:.1} µs, verify {:.1} µs",
        sig.0 * 1e6,
        sig.1 * 1e6
    );
    let issuer_key = Value::Object(shared_issuer().public_jwk().to_json()).to_string();
    let files = [("issuer.pub.jwk", issuer_key.as_str())];
    let verifier_extra = ["--issuer-key", "{dir}/issuer.pub.jwk"];

    if let Some(n) = std::env::var("CREDKIT_SOAK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let v = Server::start("verifier", &files, &verifier_extra);
        println!("soak: {n} presentations, {WORKERS} clients");
        let step = (n / 10).max(1);
        let mut done = 0;
        while done < n {
            let r = presentations("soak", &[&v], step, sig);
            done += r.ops;
            println!(
                "after {done}: rss {} KiB, open files {}",
                rss_kib(v.pid()),
                open_files(v.pid())
            );
        }
        return;
    }

    println!(
        "| scenario | operations | throughput | p50 | p99 | service CPU/op | client CPU/op | ES256 share of CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    {
        let v = Server::start("verifier", &files, &verifier_extra);
        presentations("presentations, 1 instance, SQLite", &[&v], ops, sig).print();
        let i = Server::start("issuer", &[], &[]);
        issuances("issuances of 10, 1 instance, SQLite", &[&i], ops / 10, sig).print();
    }
    match Services::start() {
        Ok(services) => {
            let pki = Pki::generate();
            let db = services.database();
            let store = db.url.clone();
            let extra_v = [
                "--issuer-key",
                "{dir}/issuer.pub.jwk",
                "--store",
                store.as_str(),
            ];
            let a = Server::start_node("verifier", &pki, "https://localhost", &files, &extra_v);
            let b = Server::start_node("verifier", &pki, "https://localhost", &files, &extra_v);
            presentations(
                "presentations, 2 instances, PostgreSQL",
                &[&a, &b],
                ops,
                sig,
            )
            .print();
            drop((a, b));
            let db = services.database();
            let store = db.url.clone();
            let extra_i = ["--store", store.as_str()];
            let a = Server::start_node("issuer", &pki, "https://localhost", &[], &extra_i);
            let b = Server::start_node("issuer", &pki, "https://localhost", &[], &extra_i);
            issuances(
                "issuances of 10, 2 instances, PostgreSQL",
                &[&a, &b],
                ops / 10,
                sig,
            )
            .print();
        }
        Err(why) => println!("(PostgreSQL scenarios skipped: {why})"),
    }
}
