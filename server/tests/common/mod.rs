//! The `credkit-server` process harness shared by the role tests: start a role with
//! `--dev` on a fresh SQLite file, read its `listening on` line, call its HTTP API over
//! TLS with the dev CA, and stop it with SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use credkit::http::{FetchPolicy, Fetcher, UreqClient};
use credkit::openid4vp::wallet::WalletPolicy;
use credkit::rand::OsRandom;
use credkit::x509::TrustAnchors;
use serde_json::Value;

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
