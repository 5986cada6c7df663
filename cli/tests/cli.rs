//! The CLI contract: commands, outputs and exit codes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_credkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails on its arguments exits without reading stdin: a broken pipe here
    // is expected, any other write error is not.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Asserts a rejection: exit 1 and one stderr line that begins with the error code.
fn rejected(args: &[&str], stdin: &str, code: &str) {
    let out = run(args, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with(code), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn ok(args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("credkit-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path(p: &str) -> &Path {
    Path::new(p)
}

#[test]
fn full_flow_with_every_serialization_and_algorithm() {
    let d = Dir::new("flow");
    let claims = d.write(
        "claims.json",
        r#"{"iss":"https://issuer.example","iat":1700000000,"exp":4000000000,
            "given_name":"Erika","family_name":"Mustermann",
            "address":{"locality":"Berlin","country":"DE"},"nationalities":["DE","FR"]}"#,
    );
    for alg in ["ES256", "ES384", "ES512", "EdDSA"] {
        let issuer = d.write("issuer.jwk", &ok(&["key", "generate", "--alg", alg], ""));
        let issuer_pub = d.write(
            "issuer.pub.jwk",
            &ok(
                &["key", "public"],
                &std::fs::read_to_string(path(&issuer)).unwrap(),
            ),
        );
        assert!(
            !std::fs::read_to_string(path(&issuer_pub))
                .unwrap()
                .contains("\"d\"")
        );
        let holder = d.write("holder.jwk", &ok(&["key", "generate"], ""));
        let holder_pub = d.write(
            "holder.pub.jwk",
            &ok(
                &["key", "public"],
                &std::fs::read_to_string(path(&holder)).unwrap(),
            ),
        );
        for ser in ["compact", "flattened", "general"] {
            let cred = ok(
                &[
                    "issue",
                    "--key",
                    &issuer,
                    "--claims",
                    &claims,
                    "--sd",
                    "/given_name",
                    "--sd",
                    "/family_name",
                    "--sd",
                    "/address",
                    "--sd",
                    "/address/locality",
                    "--sd",
                    "/nationalities/1",
                    "--holder-key",
                    &holder_pub,
                    "--decoys",
                    "2",
                    "--serialization",
                    ser,
                ],
                "",
            );
            let cred_file = d.write("cred.sdjwt", &cred);
            let pres = ok(
                &[
                    "present",
                    "--credential",
                    &cred_file,
                    "--disclose",
                    "/address/locality",
                    "--holder-key",
                    &holder,
                    "--aud",
                    "https://verifier.example",
                    "--nonce",
                    "n1",
                    "--issuer-key",
                    &issuer_pub,
                ],
                "",
            );
            let out = ok(
                &[
                    "verify",
                    "--issuer-key",
                    &issuer_pub,
                    "--aud",
                    "https://verifier.example",
                    "--nonce",
                    "n1",
                    "--require-kb",
                ],
                &pres,
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["address"]["locality"], "Berlin", "{alg} {ser}");
            assert_eq!(v["address"]["country"], "DE");
            assert!(v.get("given_name").is_none());
            assert_eq!(v["nationalities"], serde_json::json!(["DE"]));

            // wrong nonce: rejected, exit 1, one line starting with the code
            rejected(
                &[
                    "verify",
                    "--issuer-key",
                    &issuer_pub,
                    "--aud",
                    "https://verifier.example",
                    "--nonce",
                    "other",
                    "--require-kb",
                ],
                &pres,
                "nonce_mismatch",
            );

            // decode shows every disclosure
            let decoded: serde_json::Value = serde_json::from_str(&ok(&["decode"], &cred)).unwrap();
            assert_eq!(decoded["disclosures"].as_array().unwrap().len(), 5);
        }
    }
}

#[test]
fn verify_without_kb_and_require_kb() {
    let d = Dir::new("nokb");
    let issuer = d.write("issuer.jwk", &ok(&["key", "generate"], ""));
    let claims = d.write("claims.json", r#"{"iss":"https://i.example","a":1,"b":2}"#);
    let cred = ok(
        &["issue", "--key", &issuer, "--claims", &claims, "--sd-all"],
        "",
    );
    let cred_file = d.write("cred", &cred);
    let pres = ok(
        &["present", "--credential", &cred_file, "--disclose", "/a"],
        "",
    );
    assert!(pres.trim_end().ends_with('~'));
    let out = ok(
        &["verify", "--issuer-key", &issuer, "--now", "1700000000"],
        &pres,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"iss": "https://i.example", "a": 1}));
    rejected(
        &[
            "verify",
            "--issuer-key",
            &issuer,
            "--require-kb",
            "--aud",
            "x",
            "--nonce",
            "y",
        ],
        &pres,
        "kb_required",
    );
    // an unknown pointer is refused
    rejected(
        &[
            "issue", "--key", &issuer, "--claims", &claims, "--sd", "/nope",
        ],
        "",
        "invalid_pointer",
    );
    // never-disclosable claim is refused at issuance
    rejected(
        &[
            "issue", "--key", &issuer, "--claims", &claims, "--sd", "/iss",
        ],
        "",
        "not_selectively_disclosable",
    );
}

#[test]
fn exit_codes_for_usage_and_io() {
    assert_eq!(run(&["verify"], "").status.code(), Some(2));
    assert_eq!(run(&["bogus"], "").status.code(), Some(2));
    assert_eq!(
        run(&["verify", "--issuer-key", "/nonexistent/key.jwk"], "x")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["key", "generate", "--alg", "HS256"], "")
            .status
            .code(),
        Some(2)
    );
    rejected(&["decode"], "not-a-token", "malformed_sd_jwt");
}
