//! The CLI's Token Status List contract: `status create/set/token/get`, `issue --status-uri
//! --status-idx` and `verify --check-status` against a Status List Token served by the shared
//! 127.0.0.1 HTTPS test server; exit 0 on success, 1 with one stderr line beginning with the
//! error code when the input is rejected, 2 for usage and I/O errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use credkit::jose::Jws;
use credkit::status_list::{DEFAULT_MAX_LIST_BYTES, StatusList};
use credkit::x509::certificates_to_pem;
use serde_json::Value;

// The HTTPS test server of the core crate's tests.
#[path = "../../core/tests/common/tls.rs"]
mod tls;

use tls::{Reply, Server};

// The CLI harness shared with vc.rs.
mod common;

use common::{Dir, keypair, ok, ok_json, read, rejected, run, usage};

/// Another key pair under the same `kid` as `public`, a key that impersonates it:
/// (private JWK file, public JWK file).
fn impostor(d: &Dir, name: &str, public: &str) -> (String, String) {
    let kid = serde_json::from_str::<Value>(&read(public)).unwrap()["kid"].clone();
    let (private, public) = keypair(d, name);
    let relabel = |file: &str, out: &str| {
        let mut jwk: Value = serde_json::from_str(&read(file)).unwrap();
        jwk["kid"] = kid.clone();
        d.write(out, &jwk.to_string())
    };
    (
        relabel(&private, &format!("{name}.kid.jwk")),
        relabel(&public, &format!("{name}.kid.pub.jwk")),
    )
}

/// 2026-01-01T00:00:00Z.
const NOW: &str = "1767225600";
const NOW_I: i64 = 1_767_225_600;
const LATER: &str = "1767225660";
const VCT: &str = "urn:example:t:1";

fn list_json(p: &str) -> serde_json::Map<String, Value> {
    serde_json::from_str(&read(p)).unwrap()
}

/// The list in a list file, decoded by the library.
fn decoded_list(p: &str) -> StatusList {
    StatusList::from_json(&list_json(p), DEFAULT_MAX_LIST_BYTES).unwrap()
}

/// The header and claims of a JWT.
fn jwt_parts(
    token: &str,
) -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    let jws = Jws::parse_compact(token.trim()).unwrap();
    (jws.header().clone(), jws.payload_json(16).unwrap())
}

// ---------------------------------------------------------------------------------------
// status create / set / get
// ---------------------------------------------------------------------------------------

#[test]
fn create_set_get_round_trip_for_every_width() {
    let d = Dir::new("roundtrip");
    let (key, key_pub) = keypair(&d, "issuer");
    let uri = "https://status.example/lists/1";
    for (bits, fits, too_big) in [
        (
            1u8,
            &["VALID", "INVALID", "revoked", "0", "1"][..],
            "SUSPENDED",
        ),
        (2, &["VALID", "INVALID", "SUSPENDED", "3", "0x03"][..], "4"),
        (4, &["SUSPENDED", "0x0C", "15", "0x0F", "7"][..], "16"),
        (8, &["SUSPENDED", "0xAB", "255", "200", "0x80"][..], "256"),
    ] {
        let list = d.path(&format!("list{bits}.json"));
        // 20 entries: the byte array holds more for 1, 2 and 4 bits.
        let created = ok(
            &[
                "status",
                "create",
                "--bits",
                &bits.to_string(),
                "--size",
                "20",
                "--out",
                &list,
            ],
            "",
        );
        assert!(created.is_empty(), "{created}");
        let json = list_json(&list);
        assert_eq!(json["bits"], u64::from(bits));
        assert_eq!(json["size"], 20);
        assert!(json["lst"].as_str().unwrap().starts_with("eN"));
        let decoded = decoded_list(&list);
        assert_eq!(
            decoded.capacity(),
            (20usize).div_ceil(usize::from(8 / bits)) * usize::from(8 / bits)
        );
        assert!(decoded.as_bytes().iter().all(|b| *b == 0));

        // Set a few entries, each at its own index, then read them back.
        let mut expected = [0u8; 20];
        for (i, s) in fits.iter().enumerate() {
            let idx = 3 * i + 1;
            assert!(ok(&["status", "set", &list, &idx.to_string(), s], "").is_empty());
            expected[idx] = credkit::status_list::Status::parse(s).unwrap().value();
        }
        // The last index of the list.
        ok(&["status", "set", &list, "19", "1"], "");
        expected[19] = 1;
        let decoded = decoded_list(&list);
        for (i, v) in expected.iter().enumerate() {
            assert_eq!(decoded.get(i as u64).unwrap(), *v, "{bits} bits, index {i}");
        }

        // Refusals leave the file as it was.
        let before = read(&list);
        rejected(
            &["status", "set", &list, "20", "VALID"],
            "",
            "status_index_out_of_range",
        );
        rejected(
            &["status", "set", &list, "4000", "1"],
            "",
            "status_index_out_of_range",
        );
        if bits == 8 {
            // Every u8 fits; 256 is not a status at all.
            usage(&["status", "set", &list, "0", too_big], "");
        } else {
            rejected(
                &["status", "set", &list, "0", too_big],
                "",
                "status_list_invalid",
            );
        }
        usage(&["status", "set", &list, "0", "PENDING"], "");
        usage(&["status", "set", &list, "-1", "VALID"], "");
        assert_eq!(read(&list), before);

        // A token of the list: get reads the same values, verified or not.
        let token = d.write(
            &format!("token{bits}.jwt"),
            &ok(
                &[
                    "status", "token", "--key", &key, "--uri", uri, &list, "--now", NOW,
                ],
                "",
            ),
        );
        for (i, v) in expected.iter().enumerate() {
            let want = credkit::status_list::Status::from_value(*v).to_string();
            let idx = i.to_string();
            assert_eq!(ok(&["status", "get", &token, &idx], "").trim(), want);
            assert_eq!(
                ok(
                    &[
                        "status",
                        "get",
                        &token,
                        &idx,
                        "--issuer-key",
                        &key_pub,
                        "--now",
                        LATER
                    ],
                    ""
                )
                .trim(),
                want
            );
        }
        // Beyond the byte array.
        let capacity = decoded_list(&list).capacity().to_string();
        rejected(
            &["status", "get", &token, &capacity],
            "",
            "status_index_out_of_range",
        );
        rejected(
            &[
                "status",
                "get",
                &token,
                &capacity,
                "--issuer-key",
                &key_pub,
                "--now",
                LATER,
            ],
            "",
            "status_index_out_of_range",
        );
    }
    // Raw values print as hexadecimal, the registered ones by name.
    let token = d.path("token8.jwt");
    assert_eq!(ok(&["status", "get", &token, "4"], "").trim(), "0xAB");
    assert_eq!(ok(&["status", "get", &token, "1"], "").trim(), "SUSPENDED");
    assert_eq!(ok(&["status", "get", &token, "0"], "").trim(), "VALID");
    assert_eq!(ok(&["status", "get", &token, "19"], "").trim(), "INVALID");
    let token = d.path("token2.jwt");
    assert_eq!(ok(&["status", "get", &token, "10"], "").trim(), "0x03");
}

#[test]
fn the_lists_of_section_4_1() {
    let d = Dir::new("s41");
    // 1 bit: statuses at 0,3,4,5,7,8,9,13,15 = 0xB9 0xA3.
    let list = d.path("one.json");
    ok(
        &[
            "status", "create", "--bits", "1", "--size", "16", "--out", &list,
        ],
        "",
    );
    for i in [0, 3, 4, 5, 7, 8, 9, 13, 15] {
        ok(&["status", "set", &list, &i.to_string(), "INVALID"], "");
    }
    assert_eq!(list_json(&list)["lst"], "eNrbuRgAAhcBXQ");
    assert_eq!(decoded_list(&list).as_bytes(), [0xB9, 0xA3]);
    // 2 bits: [1,2,0,3,0,1,0,1,1,2,3,3] = 0xC9 0x44 0xF9.
    let list = d.path("two.json");
    ok(
        &[
            "status", "create", "--bits", "2", "--size", "12", "--out", &list,
        ],
        "",
    );
    for (i, v) in [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3].into_iter().enumerate() {
        ok(
            &["status", "set", &list, &i.to_string(), &v.to_string()],
            "",
        );
    }
    assert_eq!(list_json(&list)["lst"], "eNo76fITAAPfAgc");
    assert_eq!(decoded_list(&list).as_bytes(), [0xC9, 0x44, 0xF9]);
}

#[test]
fn create_and_list_file_refusals() {
    let d = Dir::new("create");
    let list = d.path("list.json");
    for bits in ["0", "3", "5", "16"] {
        rejected(
            &[
                "status", "create", "--bits", bits, "--size", "8", "--out", &list,
            ],
            "",
            "status_list_invalid",
        );
    }
    assert!(!Path::new(&list).exists());
    rejected(
        &[
            "status", "create", "--bits", "1", "--size", "0", "--out", &list,
        ],
        "",
        "status_list_invalid",
    );
    rejected(
        &[
            "status",
            "create",
            "--bits",
            "8",
            "--size",
            "1000000000000",
            "--out",
            &list,
        ],
        "",
        "status_list_too_large",
    );
    usage(&["status", "create", "--bits", "1", "--out", &list], "");
    usage(
        &[
            "status", "create", "--bits", "1", "--size", "-3", "--out", &list,
        ],
        "",
    );
    // An unwritable destination and a missing list are I/O errors.
    usage(
        &[
            "status",
            "create",
            "--bits",
            "1",
            "--size",
            "8",
            "--out",
            &d.path("missing/list.json"),
        ],
        "",
    );
    usage(&["status", "set", &d.path("none.json"), "0", "1"], "");

    // An existing file is replaced.
    d.write("list.json", "not a list");
    ok(
        &[
            "status", "create", "--bits", "4", "--size", "8", "--out", &list,
        ],
        "",
    );
    assert_eq!(list_json(&list)["bits"], 4);

    // Other members (the allocated indices) are kept; a bad file is rejected.
    let mut json = list_json(&list);
    json.insert("allocated".into(), serde_json::json!([1, 5]));
    json.insert("note".into(), "kept".into());
    d.write("list.json", &Value::Object(json).to_string());
    ok(&["status", "set", &list, "5", "SUSPENDED"], "");
    let json = list_json(&list);
    assert_eq!(json["allocated"], serde_json::json!([1, 5]));
    assert_eq!(json["note"], "kept");
    assert_eq!(decoded_list(&list).get(5).unwrap(), 2);

    let broken = |name: &str, edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut json = list_json(&list);
        edit(&mut json);
        d.write(name, &Value::Object(json).to_string())
    };
    let no_size = broken("nosize.json", &|j| {
        j.remove("size");
    });
    rejected(
        &["status", "set", &no_size, "0", "1"],
        "",
        "status_list_invalid",
    );
    let too_big = broken("toobig.json", &|j| {
        j.insert("size".into(), 9.into());
    });
    rejected(
        &["status", "set", &too_big, "0", "1"],
        "",
        "status_list_invalid",
    );
    let bad_bits = broken("badbits.json", &|j| {
        j.insert("bits".into(), 3.into());
    });
    rejected(
        &["status", "set", &bad_bits, "0", "1"],
        "",
        "status_list_invalid",
    );
    let bad_lst = broken("badlst.json", &|j| {
        j.insert("lst".into(), "AAAA".into());
    });
    rejected(
        &["status", "set", &bad_lst, "0", "1"],
        "",
        "status_list_invalid",
    );
    let bad_alloc = broken("badalloc.json", &|j| {
        j.insert("allocated".into(), serde_json::json!([1, 8]));
    });
    rejected(
        &["status", "set", &bad_alloc, "0", "1"],
        "",
        "status_index_out_of_range",
    );
    let bad_alloc = broken("badalloc2.json", &|j| {
        j.insert("allocated".into(), serde_json::json!(["1"]));
    });
    rejected(
        &["status", "set", &bad_alloc, "0", "1"],
        "",
        "status_list_invalid",
    );
}

// ---------------------------------------------------------------------------------------
// status token / get
// ---------------------------------------------------------------------------------------

#[test]
fn token_and_get_with_and_without_the_issuer_key() {
    let d = Dir::new("token");
    let (key, key_pub) = keypair(&d, "issuer");
    let uri = "https://status.example/lists/7";
    let list = d.path("list.json");
    ok(
        &[
            "status", "create", "--bits", "2", "--size", "16", "--out", &list,
        ],
        "",
    );
    ok(&["status", "set", &list, "3", "INVALID"], "");
    ok(&["status", "set", &list, "4", "SUSPENDED"], "");
    let token = ok(
        &[
            "status",
            "token",
            "--key",
            &key,
            "--uri",
            uri,
            &list,
            "--ttl",
            "300",
            "--exp",
            "3600",
            "--iss",
            "https://issuer.example",
            "--now",
            NOW,
        ],
        "",
    );
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["typ"], "statuslist+jwt");
    assert_eq!(header["alg"], "ES256");
    let kid = serde_json::from_str::<Value>(&read(&key_pub)).unwrap()["kid"].clone();
    assert_eq!(header["kid"], kid);
    assert_eq!(claims["sub"], uri);
    assert_eq!(claims["iss"], "https://issuer.example");
    assert_eq!(claims["iat"].as_i64(), Some(NOW_I));
    assert_eq!(claims["exp"].as_i64(), Some(NOW_I + 3600));
    assert_eq!(claims["ttl"], 300);
    assert_eq!(claims["status_list"]["bits"], 2);
    assert_eq!(claims["status_list"]["lst"], list_json(&list)["lst"]);
    let token = d.write("token.jwt", &token);

    // Decoded without verification, and verified (uri defaulting to the token's sub).
    assert_eq!(ok(&["status", "get", &token, "3"], "").trim(), "INVALID");
    assert_eq!(ok(&["status", "get", &token, "4"], "").trim(), "SUSPENDED");
    let verified = |idx: &str, extra: &[&str]| {
        let mut args = vec!["status", "get", &token, idx, "--issuer-key", &key_pub];
        args.extend_from_slice(extra);
        ok(&args, "").trim().to_owned()
    };
    assert_eq!(verified("3", &["--now", LATER]), "INVALID");
    assert_eq!(verified("4", &["--now", LATER, "--uri", uri]), "SUSPENDED");
    assert_eq!(verified("0", &["--now", LATER]), "VALID");

    // Another uri: refused whether verifying or not.
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--uri",
            "https://other.example/l",
        ],
        "",
        "status_list_sub_mismatch",
    );
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--uri",
            "https://other.example/l",
            "--issuer-key",
            &key_pub,
            "--now",
            LATER,
        ],
        "",
        "status_list_sub_mismatch",
    );
    // The wrong key: under the same kid the signature fails, under another kid no key matches.
    let (_, impostor) = impostor(&d, "impostor", &key_pub);
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--issuer-key",
            &impostor,
            "--now",
            LATER,
        ],
        "",
        "invalid_signature",
    );
    let (_, other_pub) = keypair(&d, "other");
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--issuer-key",
            &other_pub,
            "--now",
            LATER,
        ],
        "",
        "unknown_key",
    );
    // Expired (beyond the 60 s leeway) and not yet issued: refused when verifying only.
    let late = (NOW_I + 3600 + 61).to_string();
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--issuer-key",
            &key_pub,
            "--now",
            &late,
        ],
        "",
        "status_list_expired",
    );
    let early = (NOW_I - 61).to_string();
    rejected(
        &[
            "status",
            "get",
            &token,
            "3",
            "--issuer-key",
            &key_pub,
            "--now",
            &early,
        ],
        "",
        "status_list_token_invalid",
    );
    assert_eq!(
        ok(&["status", "get", &token, "3", "--now", &late], "").trim(),
        "INVALID"
    );

    // A tampered token: the list swapped for an all-VALID one.
    let text = read(&token);
    let (_, mut forged) = jwt_parts(&text);
    let mut parts: Vec<String> = text.trim().split('.').map(str::to_owned).collect();
    let fresh = d.path("fresh.json");
    ok(
        &[
            "status", "create", "--bits", "2", "--size", "16", "--out", &fresh,
        ],
        "",
    );
    forged["status_list"]["lst"] = list_json(&fresh)["lst"].clone();
    parts[1] = credkit::b64::encode(Value::Object(forged).to_string().as_bytes());
    let forged = d.write("forged.jwt", &parts.join("."));
    assert_eq!(ok(&["status", "get", &forged, "3"], "").trim(), "VALID");
    rejected(
        &[
            "status",
            "get",
            &forged,
            "3",
            "--issuer-key",
            &key_pub,
            "--now",
            LATER,
        ],
        "",
        "invalid_signature",
    );

    // Not a token; a token of another kind; a missing file.
    let junk = d.write("junk.jwt", "not a jwt");
    rejected(&["status", "get", &junk, "0"], "", "malformed_compact");
    rejected(
        &["status", "get", &junk, "0", "--issuer-key", &key_pub],
        "",
        "malformed_compact",
    );
    let vc = d.write(
        "vc.jwt",
        ok(
            &[
                "issue",
                "--key",
                &key,
                "--claims",
                &d.write("claims.json", r#"{"a":1}"#),
                "--now",
                NOW,
            ],
            "",
        )
        .trim()
        .trim_end_matches('~'),
    );
    rejected(
        &["status", "get", &vc, "0"],
        "",
        "status_list_token_invalid",
    );
    rejected(
        &[
            "status",
            "get",
            &vc,
            "0",
            "--issuer-key",
            &key_pub,
            "--uri",
            uri,
        ],
        "",
        "typ_mismatch",
    );
    usage(&["status", "get", &d.path("none.jwt"), "0"], "");

    // ttl must be positive; the key must be a private key.
    rejected(
        &[
            "status", "token", "--key", &key, "--uri", uri, &list, "--ttl", "0",
        ],
        "",
        "status_list_token_invalid",
    );
    rejected(
        &["status", "token", "--key", &key_pub, "--uri", uri, &list],
        "",
        "invalid_key",
    );
    usage(&["status", "token", "--key", &key, &list], "");
}

#[test]
fn token_without_now_uses_the_clock() {
    let d = Dir::new("clock");
    let (key, key_pub) = keypair(&d, "issuer");
    let list = d.path("list.json");
    ok(
        &[
            "status", "create", "--bits", "1", "--size", "8", "--out", &list,
        ],
        "",
    );
    let token = ok(
        &[
            "status",
            "token",
            "--key",
            &key,
            "--uri",
            "https://status.example/l",
            &list,
        ],
        "",
    );
    let (_, claims) = jwt_parts(&token);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((claims["iat"].as_i64().unwrap() - now).abs() < 120);
    let token = d.write("token.jwt", &token);
    assert_eq!(
        ok(
            &["status", "get", &token, "7", "--issuer-key", &key_pub],
            ""
        )
        .trim(),
        "VALID"
    );
}

// ---------------------------------------------------------------------------------------
// issue --status-uri/--status-idx, verify --check-status over HTTPS
// ---------------------------------------------------------------------------------------

/// The test server, answering each path with the token currently stored for it.
struct StatusServer {
    server: Server,
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

impl StatusServer {
    fn start() -> Self {
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let served = tokens.clone();
        let server = Server::start(move |path, _| match served.lock().unwrap().get(path) {
            Some(t) => {
                let mut r = Reply::bytes(t.clone());
                r.headers = vec![("Content-Type".into(), "application/statuslist+jwt".into())];
                r
            }
            None => Reply::status(404),
        });
        Self { server, tokens }
    }

    fn publish(&self, path: &str, token: &str) {
        self.tokens
            .lock()
            .unwrap()
            .insert(path.to_owned(), token.trim().to_owned());
    }
}

#[test]
fn issue_and_verify_with_check_status() {
    let d = Dir::new("check");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = d.write(
        "claims.json",
        r#"{"given_name":"Erika","family_name":"Mustermann"}"#,
    );
    let srv = StatusServer::start();
    let ca = d.write(
        "ca.pem",
        &certificates_to_pem(std::slice::from_ref(&srv.server.ca_der)),
    );
    let uri = srv.server.url("/lists/1");
    let list = d.path("list.json");
    ok(
        &[
            "status", "create", "--bits", "2", "--size", "16", "--out", &list,
        ],
        "",
    );
    // Sign the list as it is now and publish it at /lists/1.
    let publish = |path: &str, sub: &str, extra: &[&str]| {
        let mut args = vec![
            "status", "token", "--key", &key, "--uri", sub, &list, "--now", NOW, "--exp", "3600",
            "--ttl", "300",
        ];
        args.extend_from_slice(extra);
        srv.publish(path, &ok(&args, ""));
    };
    publish("/lists/1", &uri, &[]);

    let issue = |idx: &str, extra: &[&str]| {
        let mut args = vec![
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--iss",
            "https://issuer.example",
            "--sd-all",
            "--now",
            NOW,
            "--status-uri",
            &uri,
            "--status-idx",
            idx,
        ];
        args.extend_from_slice(extra);
        ok(&args, "")
    };
    let vc = issue("5", &[]);
    // The reference is in the payload, never selectively disclosable.
    let decoded = ok_json(&["decode"], &vc);
    assert_eq!(decoded["payload"]["status"]["status_list"]["idx"], 5);
    assert_eq!(decoded["payload"]["status"]["status_list"]["uri"], uri);
    assert!(
        decoded["disclosures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["name"] != "status")
    );

    let verify = [
        "verify",
        "--issuer-key",
        &key_pub,
        "--check-status",
        "--http-root",
        &ca,
        "--allow-internal-addresses",
        "--now",
        LATER,
    ];
    let before = srv.server.requests();
    let v = ok_json(&verify, &vc);
    assert_eq!(v["given_name"], "Erika");
    assert_eq!(v["status"]["status_list"]["idx"], 5);
    assert_eq!(srv.server.hits("/lists/1"), 1);
    assert_eq!(srv.server.requests(), before + 1);

    // Revoked, suspended, an application-specific value, then VALID again.
    for (status, code) in [
        ("INVALID", Some("credential_revoked")),
        ("SUSPENDED", Some("credential_suspended")),
        ("3", Some("credential_status_unknown")),
        ("VALID", None),
    ] {
        ok(&["status", "set", &list, "5", status], "");
        publish("/lists/1", &uri, &[]);
        match code {
            Some(code) => rejected(&verify, &vc, code),
            None => {
                ok_json(&verify, &vc);
            }
        }
    }
    // Without --check-status the status is not looked at, and nothing is fetched.
    ok(&["status", "set", &list, "5", "INVALID"], "");
    publish("/lists/1", &uri, &[]);
    let before = srv.server.requests();
    ok_json(&["verify", "--issuer-key", &key_pub, "--now", LATER], &vc);
    assert_eq!(srv.server.requests(), before);
    rejected(&verify, &vc, "credential_revoked");
    // --check-status with --display also checks.
    rejected(
        &[
            "verify",
            "--issuer-key",
            &key_pub,
            "--check-status",
            "--display",
            "--type-metadata",
            &d.write(
                "tm.json",
                &serde_json::json!({"vct": VCT, "name": "T"}).to_string(),
            ),
            "--http-root",
            &ca,
            "--allow-internal-addresses",
            "--now",
            LATER,
        ],
        &vc,
        "credential_revoked",
    );
    ok(&["status", "set", &list, "5", "VALID"], "");
    publish("/lists/1", &uri, &[]);

    // An index beyond the list.
    let beyond = issue("16", &[]);
    rejected(&verify, &beyond, "status_index_out_of_range");

    // Loopback is refused without --allow-internal-addresses.
    let guarded: Vec<&str> = verify
        .iter()
        .copied()
        .filter(|a| *a != "--allow-internal-addresses")
        .collect();
    rejected(&guarded, &vc, "url_forbidden");

    // A credential without a status reference passes, and causes no fetch.
    let plain_vc = ok(
        &[
            "issue", "--key", &key, "--claims", &claims, "--vct", VCT, "--now", NOW,
        ],
        "",
    );
    let before = srv.server.requests();
    assert_eq!(ok_json(&verify, &plain_vc)["family_name"], "Mustermann");
    assert_eq!(srv.server.requests(), before);

    // A credential that does not verify is rejected before any fetch.
    let (_, other_pub) = keypair(&d, "other");
    let mut forged_verify = verify.to_vec();
    forged_verify[2] = &other_pub;
    let before = srv.server.requests();
    rejected(&forged_verify, &vc, "unknown_key");
    assert_eq!(srv.server.requests(), before);

    // The token must be the issuer's, for this uri, and fresh.
    let (other_key, _) = keypair(&d, "other2");
    srv.publish(
        "/lists/1",
        &ok(
            &[
                "status", "token", "--key", &other_key, "--uri", &uri, &list, "--now", NOW,
            ],
            "",
        ),
    );
    rejected(&verify, &vc, "unknown_key");
    let (impostor_key, _) = impostor(&d, "impostor", &key_pub);
    srv.publish(
        "/lists/1",
        &ok(
            &[
                "status",
                "token",
                "--key",
                &impostor_key,
                "--uri",
                &uri,
                &list,
                "--now",
                NOW,
            ],
            "",
        ),
    );
    rejected(&verify, &vc, "invalid_signature");
    publish("/lists/1", &srv.server.url("/lists/2"), &[]);
    rejected(&verify, &vc, "status_list_sub_mismatch");
    publish("/lists/1", &uri, &["--iss", "https://someone.example"]);
    rejected(&verify, &vc, "issuer_mismatch");
    publish("/lists/1", &uri, &["--iss", "https://issuer.example"]);
    ok_json(&verify, &vc);
    let expired: Vec<String> = verify
        .iter()
        .map(|a| {
            if *a == LATER {
                (NOW_I + 3600 + 61).to_string()
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let expired: Vec<&str> = expired.iter().map(String::as_str).collect();
    // (The credential has no exp, so only the token is out of date.)
    rejected(&expired, &vc, "status_list_expired");
    // Not a token; nothing published.
    srv.publish("/lists/1", "not a token");
    rejected(&verify, &vc, "malformed_compact");
    srv.tokens.lock().unwrap().remove("/lists/1");
    rejected(&verify, &vc, "http_status");
}

#[test]
fn issue_status_flags() {
    let d = Dir::new("issue");
    let (key, key_pub) = keypair(&d, "issuer");
    let claims = d.write("claims.json", r#"{"name":"Erika"}"#);
    let uri = "https://status.example/lists/1";
    // Plain SD-JWT: the claim is added to the claims.
    let sd = ok(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--status-uri",
            uri,
            "--status-idx",
            "42",
        ],
        "",
    );
    let decoded = ok_json(&["decode"], &sd);
    assert_eq!(
        decoded["payload"]["status"],
        serde_json::json!({"status_list": {"idx": 42, "uri": uri}})
    );
    let v = ok_json(&["verify", "--issuer-key", &key_pub], &sd);
    assert_eq!(v["status"]["status_list"]["idx"], 42);
    // Both flags or neither.
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--status-uri",
            uri,
        ],
        "",
    );
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--status-idx",
            "1",
        ],
        "",
    );
    usage(
        &[
            "issue",
            "--key",
            &key,
            "--claims",
            &claims,
            "--status-uri",
            uri,
            "--status-idx",
            "-1",
        ],
        "",
    );
    // A status claim in the claims as well.
    let with_status = d.write(
        "with-status.json",
        r#"{"name":"Erika","status":{"status_list":{"idx":1,"uri":"https://x.example"}}}"#,
    );
    for extra in [&[][..], &["--vct", VCT][..]] {
        let mut args = vec![
            "issue",
            "--key",
            &key,
            "--claims",
            &with_status,
            "--status-uri",
            uri,
            "--status-idx",
            "1",
        ];
        args.extend_from_slice(extra);
        rejected(&args, "", "invalid_claims");
    }
    // --check-status selects the SD-JWT VC rules: a plain SD-JWT is not a VC.
    assert_eq!(
        run(&["verify", "--issuer-key", &key_pub, "--check-status"], &sd)
            .status
            .code(),
        Some(1)
    );
}
