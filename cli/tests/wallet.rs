//! The CLI's wallet contract (`credkit wallet`): holder keys, adding issued SD-JWT VCs as
//! batches (verified with the same trust flags as `verify`), listing, DCQL queries,
//! presentations under one-time use and rotation, removal, and the store key; exit 0 on
//! success, 1 with one stderr line beginning with the error code when the input is rejected,
//! 2 for usage and I/O errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// The store key of the tests' wallets (64 hex characters).
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Another key.
const OTHER_KEY: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f";
/// 2026-01-01T00:00:00Z, "now" for issuance, the wallet and verification.
const NOW: &str = "1767225600";
const VCT: &str = "https://credentials.example.com/identity_credential";
const ISS: &str = "https://issuer.example.com";
const AUD: &str = "https://verifier.example.org";

// ---------------------------------------------------------------------------------------
// Running the binary (as in cli.rs), with the store key in CREDKIT_WALLET_KEY
// ---------------------------------------------------------------------------------------

fn run_with(args: &[&str], stdin: &str, key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credkit"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match key {
        Some(k) => cmd.env("CREDKIT_WALLET_KEY", k),
        None => cmd.env_remove("CREDKIT_WALLET_KEY"),
    };
    let mut child = cmd.spawn().unwrap();
    // A command that fails on its arguments exits without reading stdin: a broken pipe here
    // is expected, any other write error is not.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn run(args: &[&str], stdin: &str) -> Output {
    run_with(args, stdin, Some(KEY))
}

/// Asserts a rejection: exit 1 and one stderr line that begins with the error code.
fn rejected_out(out: &Output, args: &[&str], code: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.starts_with(code),
        "{args:?}: expected {code}, got {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn rejected(args: &[&str], code: &str) {
    rejected_out(&run(args, ""), args, code);
}

/// Asserts a usage or I/O error: exit 2.
fn usage_out(out: &Output, args: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
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

fn ok_json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args, "")).unwrap()
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("credkit-cli-wallet-{name}-{}", std::process::id()));
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
// Fixtures
// ---------------------------------------------------------------------------------------

/// A test's files: the issuer's key pair (from `credkit key generate`) and the wallet path.
struct Setup {
    d: Dir,
    issuer: String,
    issuer_pub: String,
    db: String,
}

impl Setup {
    fn new(name: &str) -> Self {
        let d = Dir::new(name);
        let issuer = d.write("issuer.jwk", &ok(&["key", "generate"], ""));
        let issuer_pub = d.write(
            "issuer.pub.jwk",
            &ok(
                &["key", "public"],
                &std::fs::read_to_string(&issuer).unwrap(),
            ),
        );
        let db = d.path("wallet.db");
        Self {
            d,
            issuer,
            issuer_pub,
            db,
        }
    }

    /// `credkit wallet --db DB [extra...] rest...`.
    fn wallet<'a>(&'a self, extra: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["wallet", "--db", self.db.as_str(), "--now", NOW];
        v.extend_from_slice(extra);
        v.extend_from_slice(rest);
        v
    }

    /// `wallet keys --count n`: the key ids and the files holding the public JWKs.
    fn keys(&self, n: usize) -> Vec<(String, String)> {
        let count = n.to_string();
        let out = ok_json(&self.wallet(&[], &["keys", "--count", &count]));
        let keys = out.as_array().unwrap();
        assert_eq!(keys.len(), n);
        keys.iter()
            .map(|k| {
                let id = k["id"].as_str().unwrap().to_owned();
                let jwk = k["jwk"].as_object().unwrap();
                assert!(jwk.get("d").is_none(), "a private key was printed");
                let file = self
                    .d
                    .write(&format!("holder-{id}.jwk"), &k["jwk"].to_string());
                (id, file)
            })
            .collect()
    }

    /// Issues an SD-JWT VC (every claim selectively disclosable) bound to `holder_jwk`.
    fn issue(&self, name: &str, holder_jwk: &str) -> String {
        let claims = self.d.write(
            "claims.json",
            &json!({"given_name": "Alice", "family_name": "Smith", "age_over_18": true})
                .to_string(),
        );
        let cred = ok(
            &[
                "issue",
                "--key",
                &self.issuer,
                "--claims",
                &claims,
                "--vct",
                VCT,
                "--iss",
                ISS,
                "--sd-all",
                "--holder-key",
                holder_jwk,
                "--now",
                NOW,
            ],
            "",
        );
        self.d.write(name, &cred)
    }

    /// Two holder keys, two copies issued to them, added as one batch: the batch id.
    fn batch_of_two(&self) -> String {
        let keys = self.keys(2);
        let c0 = self.issue("cred0.sd-jwt", &keys[0].1);
        let c1 = self.issue("cred1.sd-jwt", &keys[1].1);
        let out = ok(
            &self.wallet(
                &[],
                &[
                    "add",
                    "--key-id",
                    &keys[0].0,
                    "--key-id",
                    &keys[1].0,
                    "--issuer-key",
                    &self.issuer_pub,
                    &c0,
                    &c1,
                ],
            ),
            "",
        );
        let batch = out.trim().to_owned();
        assert!(!batch.is_empty() && !batch.contains(char::is_whitespace));
        batch
    }

    fn dcql(&self, query: &Value) -> String {
        self.d.write("query.json", &query.to_string())
    }

    /// Verifies a presentation as a relying party would: the issuer's key, a KB-JWT for AUD
    /// and `nonce`. Returns the disclosed claims.
    fn verify(&self, presentation: &str, nonce: &str) -> Value {
        let out = ok(
            &[
                "verify",
                "--issuer-key",
                &self.issuer_pub,
                "--require-kb",
                "--aud",
                AUD,
                "--nonce",
                nonce,
                "--now",
                NOW,
            ],
            presentation,
        );
        serde_json::from_str(&out).unwrap()
    }
}

/// The query of a verifier that asks for the given name of an identity credential.
fn given_name_query() -> Value {
    json!({
        "credentials": [{
            "id": "pid",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]},
            "claims": [{"path": ["given_name"]}]
        }]
    })
}

// ---------------------------------------------------------------------------------------
// The wallet flow
// ---------------------------------------------------------------------------------------

#[test]
fn keys_issue_add_list_query_present_verify_exhaust() {
    let s = Setup::new("flow");
    let batch = s.batch_of_two();

    // list: one credential, two unused copies.
    let list = ok_json(&s.wallet(&[], &["list"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let held = &list[0];
    assert_eq!(held["batch"], batch.as_str());
    assert_eq!(held["vct"], VCT);
    assert_eq!(held["issuer"], ISS);
    assert_eq!(held["copies"], 2);
    assert_eq!(held["unused"], 2);
    assert_eq!(held["claims"]["given_name"], "Alice");
    assert_eq!(held["claims"]["family_name"], "Smith");
    assert!(
        held["disclosable"]
            .as_array()
            .unwrap()
            .contains(&json!("/given_name"))
    );

    // query: the consent summary.
    let query = s.dcql(&given_name_query());
    let answers = ok_json(&s.wallet(&[], &["query", "--dcql", &query]));
    assert_eq!(
        answers,
        json!([{
            "query_id": "pid",
            "required": true,
            "multiple": false,
            "candidates": [{
                "batch": batch,
                "vct": VCT,
                "issuer": ISS,
                "remaining": 2,
                "disclose": ["/given_name"],
                "revealed": {"/given_name": "Alice"}
            }]
        }])
    );

    // present --dcql: an OpenID4VP vp_token; the presentation verifies and discloses only
    // the claim asked for.
    let vp = ok_json(&s.wallet(
        &[],
        &["present", "--aud", AUD, "--nonce", "n-1", "--dcql", &query],
    ));
    let vp = vp.as_object().unwrap();
    assert_eq!(vp.len(), 1);
    let presentations = vp["pid"].as_array().unwrap();
    assert_eq!(presentations.len(), 1);
    let first = presentations[0].as_str().unwrap();
    let claims = s.verify(first, "n-1");
    assert_eq!(claims["given_name"], "Alice");
    assert!(claims.get("family_name").is_none(), "{claims}");
    assert!(claims.get("age_over_18").is_none(), "{claims}");
    assert_eq!(claims["vct"], VCT);
    assert_eq!(claims["iss"], ISS);
    // Bound to the wallet's nonce: another nonce is rejected.
    let args = [
        "verify",
        "--issuer-key",
        s.issuer_pub.as_str(),
        "--require-kb",
        "--aud",
        AUD,
        "--nonce",
        "other",
        "--now",
        NOW,
    ];
    assert_eq!(run(&args, first).status.code(), Some(1));

    let list = ok_json(&s.wallet(&[], &["list"]));
    assert_eq!(list[0]["unused"], 1);
    assert_eq!(list[0]["copies"], 2);

    // present --batch: the second copy, with the chosen disclosures.
    let second = ok(
        &s.wallet(
            &[],
            &[
                "present",
                "--aud",
                AUD,
                "--nonce",
                "n-2",
                "--batch",
                &batch,
                "--disclose",
                "/family_name",
                "--disclose",
                "/age_over_18",
            ],
        ),
        "",
    );
    let second = second.trim();
    let claims = s.verify(second, "n-2");
    assert_eq!(claims["family_name"], "Smith");
    assert_eq!(claims["age_over_18"], true);
    assert!(claims.get("given_name").is_none(), "{claims}");
    // Two copies, two holder keys: the presentations are not linked by cnf.
    let cnf = |p: &str| ok_json_stdin(&["decode"], p)["payload"]["cnf"].clone();
    assert_ne!(cnf(first), cnf(second));

    // One-time use: both copies are spent.
    let list = ok_json(&s.wallet(&[], &["list"]));
    assert_eq!(list[0]["unused"], 0);
    rejected(
        &s.wallet(
            &[],
            &["present", "--aud", AUD, "--nonce", "n-3", "--batch", &batch],
        ),
        "credential_exhausted",
    );
    // An exhausted credential answers no query.
    rejected(
        &s.wallet(&[], &["query", "--dcql", &query]),
        "dcql_unsatisfiable",
    );
    rejected(
        &s.wallet(
            &[],
            &["present", "--aud", AUD, "--nonce", "n-3", "--dcql", &query],
        ),
        "dcql_unsatisfiable",
    );

    // Under rotation the same credential keeps answering.
    let answers = ok_json(&s.wallet(&["--policy", "rotate"], &["query", "--dcql", &query]));
    assert_eq!(answers[0]["candidates"][0]["remaining"], 2);
    let again = ok(
        &s.wallet(
            &["--policy", "rotate"],
            &[
                "present",
                "--aud",
                AUD,
                "--nonce",
                "n-4",
                "--batch",
                &batch,
                "--disclose",
                "/given_name",
            ],
        ),
        "",
    );
    assert_eq!(s.verify(again.trim(), "n-4")["given_name"], "Alice");

    // remove: the credential and its keys are gone.
    assert_eq!(ok(&s.wallet(&[], &["remove", &batch]), ""), "");
    assert_eq!(ok_json(&s.wallet(&[], &["list"])), json!([]));
    rejected(&s.wallet(&[], &["remove", &batch]), "not_found");
    rejected(
        &s.wallet(
            &[],
            &["present", "--aud", AUD, "--nonce", "n-5", "--batch", &batch],
        ),
        "not_found",
    );
}

fn ok_json_stdin(args: &[&str], stdin: &str) -> Value {
    serde_json::from_str(&ok(args, stdin)).unwrap()
}

#[test]
fn rotation_never_exhausts() {
    let s = Setup::new("rotate");
    let batch = s.batch_of_two();
    let query = s.dcql(&given_name_query());
    let mut cnfs = Vec::new();
    for i in 0..5 {
        let nonce = format!("r-{i}");
        let vp = ok_json(&s.wallet(
            &["--policy", "rotate"],
            &["present", "--aud", AUD, "--nonce", &nonce, "--dcql", &query],
        ));
        let p = vp["pid"][0].as_str().unwrap().to_owned();
        let claims = s.verify(&p, &nonce);
        assert_eq!(claims["given_name"], "Alice");
        assert!(claims.get("family_name").is_none());
        cnfs.push(claims["cnf"].clone());
    }
    // The copies are used in turn.
    assert_ne!(cnfs[0], cnfs[1]);
    assert_eq!(cnfs[0], cnfs[2]);
    // Every copy has been used, so none is unused, yet rotation still answers.
    let list = ok_json(&s.wallet(&["--policy", "rotate"], &["list"]));
    assert_eq!(list[0]["unused"], 0);
    assert_eq!(list[0]["copies"], 2);
    ok(
        &s.wallet(
            &["--policy", "rotate"],
            &["present", "--aud", AUD, "--nonce", "r-5", "--batch", &batch],
        ),
        "",
    );
    // The one-time policy, on the same store, sees the batch exhausted.
    rejected(
        &s.wallet(
            &[],
            &["present", "--aud", AUD, "--nonce", "r-6", "--batch", &batch],
        ),
        "credential_exhausted",
    );
}

#[test]
fn dcql_answers_several_queries_and_rejects_what_cannot_be_answered() {
    let s = Setup::new("dcql");
    let batch = s.batch_of_two();
    // Two queries of the same credential: the two copies answer them, each with its own key.
    let two = s.dcql(&json!({
        "credentials": [
            {"id": "name", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
             "claims": [{"path": ["given_name"]}]},
            {"id": "age", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
             "claims": [{"path": ["age_over_18"], "values": [true]}]}
        ]
    }));
    let answers = ok_json(&s.wallet(&[], &["query", "--dcql", &two]));
    assert_eq!(answers[1]["query_id"], "age");
    assert_eq!(
        answers[1]["candidates"][0]["revealed"],
        json!({"/age_over_18": true})
    );
    let vp = ok_json(&s.wallet(
        &[],
        &["present", "--aud", AUD, "--nonce", "d-1", "--dcql", &two],
    ));
    let name = s.verify(vp["name"][0].as_str().unwrap(), "d-1");
    let age = s.verify(vp["age"][0].as_str().unwrap(), "d-1");
    assert_eq!(name["given_name"], "Alice");
    assert!(name.get("age_over_18").is_none());
    assert_eq!(age["age_over_18"], true);
    assert!(age.get("given_name").is_none());
    assert_ne!(name["cnf"], age["cnf"]);
    let list = ok_json(&s.wallet(&[], &["list"]));
    assert_eq!(list[0]["unused"], 0);

    // A fresh batch of one copy cannot answer two queries under one-time use: nothing is
    // presented and the copy is not spent.
    let keys = s.keys(1);
    let c = s.issue("single.sd-jwt", &keys[0].1);
    let single = ok(
        &s.wallet(
            &[],
            &[
                "add",
                "--key-id",
                &keys[0].0,
                "--issuer-key",
                &s.issuer_pub,
                &c,
            ],
        ),
        "",
    );
    let single = single.trim();
    assert_ne!(single, batch);
    rejected(
        &s.wallet(
            &[],
            &["present", "--aud", AUD, "--nonce", "d-2", "--dcql", &two],
        ),
        "credential_exhausted",
    );
    let list = ok_json(&s.wallet(&[], &["list"]));
    let fresh = list
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["batch"] == single)
        .unwrap();
    assert_eq!(fresh["unused"], 1);
    // Under rotation a copy may answer both.
    let vp = ok_json(&s.wallet(
        &["--policy", "rotate"],
        &["present", "--aud", AUD, "--nonce", "d-2", "--dcql", &two],
    ));
    assert_eq!(
        s.verify(vp["name"][0].as_str().unwrap(), "d-2")["given_name"],
        "Alice"
    );
    assert_eq!(
        s.verify(vp["age"][0].as_str().unwrap(), "d-2")["age_over_18"],
        true
    );

    // No held credential of the type asked for.
    let other = s.dcql(&json!({
        "credentials": [{"id": "x", "format": "dc+sd-jwt",
                         "meta": {"vct_values": ["https://other.example/type"]}}]
    }));
    rejected(
        &s.wallet(&[], &["query", "--dcql", &other]),
        "dcql_unsatisfiable",
    );
    // An invalid query, and a file that is not JSON.
    let invalid = s.dcql(&json!({"credentials": []}));
    rejected(
        &s.wallet(&[], &["query", "--dcql", &invalid]),
        "dcql_invalid",
    );
    let garbage = s.d.write("garbage.json", "{not json");
    rejected(
        &s.wallet(
            &[],
            &[
                "present", "--aud", AUD, "--nonce", "d-3", "--dcql", &garbage,
            ],
        ),
        "dcql_invalid",
    );
}

// ---------------------------------------------------------------------------------------
// Adding: only verified credentials bound to the wallet's keys
// ---------------------------------------------------------------------------------------

#[test]
fn add_rejects_foreign_keys_untrusted_issuers_and_plain_sd_jwts() {
    let s = Setup::new("add");
    let keys = s.keys(2);
    let add = |extra: &[&str], files: &[&str]| {
        let mut args = vec!["add", "--key-id", keys[0].0.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(files);
        run(&s.wallet(&[], &args), "")
    };

    // Bound to a key the wallet does not hold.
    let foreign = s.d.write("foreign.jwk", &ok(&["key", "generate"], ""));
    let c = s.issue("foreign.sd-jwt", &foreign);
    let out = add(&["--issuer-key", &s.issuer_pub], &[&c]);
    rejected_out(&out, &["add foreign"], "holder_key_unknown");
    // Bound to a wallet key, but not one named with --key-id.
    let c = s.issue("other-key.sd-jwt", &keys[1].1);
    let out = add(&["--issuer-key", &s.issuer_pub], &[&c]);
    rejected_out(&out, &["add other key"], "holder_key_unknown");

    // Signed by another issuer than the trusted one.
    let good = s.issue("good.sd-jwt", &keys[0].1);
    let other_issuer = s.d.write("other.jwk", &ok(&["key", "generate"], ""));
    let out = add(&["--issuer-key", &other_issuer], &[&good]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("invalid_signature") || err.starts_with("unknown_key"),
        "{err}"
    );

    // A plain SD-JWT (typ sd-jwt) is not an SD-JWT VC.
    let claims = s.d.write("plain.json", r#"{"given_name": "Alice"}"#);
    let plain = s.d.write(
        "plain.sd-jwt",
        &ok(
            &[
                "issue",
                "--key",
                &s.issuer,
                "--claims",
                &claims,
                "--sd-all",
                "--holder-key",
                &keys[0].1,
            ],
            "",
        ),
    );
    let out = add(&["--issuer-key", &s.issuer_pub], &[&plain]);
    rejected_out(&out, &["add plain"], "typ_mismatch");

    // A type the wallet was told not to accept.
    let out = add(
        &[
            "--issuer-key",
            &s.issuer_pub,
            "--expect-vct",
            "https://other.example/type",
        ],
        &[&good],
    );
    assert_eq!(out.status.code(), Some(1));

    // Nothing was stored by the rejected adds.
    assert_eq!(ok_json(&s.wallet(&[], &["list"])), json!([]));

    // The trust flags are those of `verify`: one mechanism, chosen by configuration.
    let ca = s.d.write("ca.pem", "");
    let out = add(
        &["--issuer-key", &s.issuer_pub, "--trust-anchor", &ca],
        &[&good],
    );
    usage_out(&out, &["two mechanisms"]);
    // No trust at all: a usage error.
    let out = add(&[], &[&good]);
    usage_out(&out, &["no trust"]);

    // The good one goes in.
    let out = add(&["--issuer-key", &s.issuer_pub], &[&good]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = ok_json(&s.wallet(&[], &["list"]));
    assert_eq!(list[0]["copies"], 1);
}

// ---------------------------------------------------------------------------------------
// The store key
// ---------------------------------------------------------------------------------------

#[test]
fn the_store_key_guards_the_wallet() {
    let s = Setup::new("key");
    s.batch_of_two();
    let list = s.wallet(&[], &["list"]);

    // A wrong key: rejected, nothing decrypted.
    rejected_out(
        &run_with(&list, "", Some(OTHER_KEY)),
        &list,
        "storage_decrypt_failed",
    );
    // No key, a short key, a key that is not hex: usage errors.
    let err = usage_out(&run_with(&list, "", None), &list);
    assert!(err.contains("CREDKIT_WALLET_KEY"), "{err}");
    usage_out(&run_with(&list, "", Some(&KEY[..62])), &list);
    let not_hex = format!("{}zz", &KEY[..62]);
    usage_out(&run_with(&list, "", Some(&not_hex)), &list);

    // --key-file and --key-env name other sources of the same key.
    let key_file = s.d.write("store.key", &format!("{KEY}\n"));
    let mut args = vec![
        "wallet",
        "--db",
        s.db.as_str(),
        "--key-file",
        &key_file,
        "list",
    ];
    let out = run_with(&args, "", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["copies"], 2);
    let short_file = s.d.write("short.key", &KEY[..32]);
    args[4] = &short_file;
    usage_out(&run_with(&args, "", None), &args);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credkit"));
    let out = cmd
        .args([
            "wallet",
            "--db",
            s.db.as_str(),
            "--key-env",
            "MY_WALLET_KEY",
            "list",
        ])
        .env_remove("CREDKIT_WALLET_KEY")
        .env("MY_WALLET_KEY", KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The database is encrypted: no claim value appears in the file.
    let bytes = std::fs::read(&s.db).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("Alice") && !text.contains("Smith"));

    // A wallet that does not exist is only created by `keys`.
    let missing = s.d.path("missing.db");
    let args = ["wallet", "--db", missing.as_str(), "list"];
    usage_out(&run(&args, ""), &args);
    assert!(!std::path::Path::new(&missing).exists());
    // A directory that does not exist: an I/O error.
    let nowhere = s.d.path("no/such/dir/wallet.db");
    let args = ["wallet", "--db", nowhere.as_str(), "keys", "--count", "1"];
    usage_out(&run(&args, ""), &args);
}

#[test]
fn usage_errors() {
    let s = Setup::new("usage");
    s.keys(1);
    for args in [
        // --batch or --dcql, not both, not neither.
        s.wallet(&[], &["present", "--aud", AUD, "--nonce", "n"]),
        s.wallet(
            &[],
            &[
                "present", "--aud", AUD, "--nonce", "n", "--batch", "b", "--dcql", "q.json",
            ],
        ),
        // --disclose needs --batch.
        s.wallet(
            &[],
            &[
                "present",
                "--aud",
                AUD,
                "--nonce",
                "n",
                "--dcql",
                "q.json",
                "--disclose",
                "/x",
            ],
        ),
        s.wallet(&[], &["keys", "--count", "0"]),
        s.wallet(&[], &["keys", "--count", "1", "--alg", "RS256"]),
        s.wallet(&["--policy", "sometimes"], &["list"]),
        // The query file does not exist.
        s.wallet(&[], &["query", "--dcql", "/nonexistent/q.json"]),
        // add needs key ids and files.
        s.wallet(&[], &["add", "--issuer-key", "k.jwk", "c.sd-jwt"]),
        s.wallet(&[], &["add", "--key-id", "x", "--issuer-key", "k.jwk"]),
    ] {
        usage_out(&run(&args, ""), &args);
    }
}
