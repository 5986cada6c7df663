//! SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-18): the spec's examples through the VC layer with
//! exact processed payloads, and every format rule of §2.2 / §2.4 both ways (issuer refuses,
//! verifier rejects with the documented error code). ATTACKS.md rows VC-01, VC-02, CLM-06.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::sync::Arc;

use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::jose::{Algorithm, PublicJwk, UnsignedJws};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{Disclosure, KeyBindingPolicy, SdJwtBuilder, StaticIssuerKeys};
use credkit::sd_jwt_vc::pid::{DisclosedPid, PID_VCT, Pid, PlaceOfBirth};
use credkit::sd_jwt_vc::{DC_SD_JWT_TYP, IssuerBinding, TrustPolicy, VcBuilder, VcVerifier, Vct};
use credkit::time::FixedClock;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_760_000_000;
const AUD: &str = "https://verifier.example";
const NONCE: &str = "n-0S6_WzA2Mj";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/sd-jwt-vc")
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

struct Keys {
    issuer: Arc<dyn Signer>,
    holder: Arc<dyn Signer>,
}

fn keys() -> Keys {
    let p = default_provider();
    Keys {
        issuer: p
            .signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
            .unwrap(),
        holder: p
            .signer(&p.generate(Algorithm::Es256, &OsRandom).unwrap())
            .unwrap(),
    }
}

fn verifier_for(issuer: &PublicJwk, kb: KeyBindingPolicy) -> VcVerifier {
    let keys = StaticIssuerKeys::single(issuer, default_provider()).unwrap();
    VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
        Arc::new(FixedClock(NOW)),
    )
    .key_binding(kb)
    .build()
    .unwrap()
}

fn required() -> KeyBindingPolicy {
    KeyBindingPolicy::Required {
        audience: AUD.into(),
        nonce: NONCE.into(),
    }
}

fn base_claims() -> Map<String, Value> {
    obj(json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "address": {"locality": "Berlin", "country": "DE"}
    }))
}

/// Signs an arbitrary payload as an issuer JWT and appends `disclosures` (attack crafting).
fn craft(
    signer: &dyn Signer,
    typ: Option<&str>,
    payload: &Value,
    disclosures: &[Disclosure],
) -> String {
    let mut header = Map::new();
    if let Some(t) = typ {
        header.insert("typ".into(), t.into());
    }
    let jws = UnsignedJws::new(signer.algorithm(), header, payload.to_string().as_bytes())
        .sign(signer)
        .unwrap();
    let mut s = format!("{}~", jws.as_compact());
    for d in disclosures {
        s.push_str(d.as_str());
        s.push('~');
    }
    s
}

fn disclosure(name: &str, value: Value) -> Disclosure {
    Disclosure::new("c2FsdHNhbHRzYWx0".into(), Some(name.into()), value).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The draft's examples (test-vectors/sd-jwt-vc, -18 and the editor's copy after it).

#[test]
fn spec_examples_verify_to_the_exact_payload() {
    let mut seen = 0;
    for entry in std::fs::read_dir(vectors()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let jwk = PublicJwk::from_json(case["issuer_public_jwks"][0].as_object().unwrap()).unwrap();
        let p = &case["presentation"];
        let kb = p.get("kb_jwt_payload");
        let now = kb.map_or_else(
            || {
                p["issuer_jwt_payload"]["iat"]
                    .as_i64()
                    .unwrap_or(1_683_000_000)
            },
            |kb| kb["iat"].as_i64().unwrap(),
        );
        let policy = match kb {
            Some(kb) => KeyBindingPolicy::Required {
                audience: kb["aud"].as_str().unwrap().into(),
                nonce: kb["nonce"].as_str().unwrap().into(),
            },
            None => credkit::sd_jwt::danger::key_binding_optional(),
        };
        let build = |accept: Option<&[&str]>| {
            let mut b = VcVerifier::builder_with_clock(
                Arc::new(TrustPolicy::new().otherwise(Arc::new(
                    StaticIssuerKeys::single(&jwk, default_provider()).unwrap(),
                ))),
                Arc::new(FixedClock(now)),
            )
            .key_binding(policy.clone())
            .sd_jwt(|b| b.kb_max_age(u64::MAX / 4));
            if let Some(a) = accept {
                b = b.accept_vcts(a);
            }
            b.build().unwrap()
        };
        let verifier = build(None);
        let vct = p["expected_processed_payload"]["vct"].as_str().unwrap();

        // The wallet side: the issuance is a valid SD-JWT VC.
        if let Some(issued) = case.get("issuance").and_then(|i| i["compact"].as_str()) {
            let received = verifier
                .receive(issued)
                .unwrap_or_else(|e| panic!("{name}: issuance rejected: {e}"));
            assert_eq!(received.verified.vct.as_str(), vct, "{name}");
            assert_eq!(received.verified.binding, IssuerBinding::Static);
        }

        // The verifier side: exact processed payload.
        let verified = verifier
            .verify(p["compact"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: presentation rejected: {e}"));
        let mut expected = p["expected_processed_payload"].as_object().unwrap().clone();
        let mut got = verified.claims().clone();
        // `cnf` stays in both; compare the whole objects.
        expected.sort_keys();
        got.sort_keys();
        assert_eq!(Value::Object(got), Value::Object(expected), "{name}");
        assert_eq!(verified.vct.as_str(), vct);
        assert_eq!(
            verified.issuer.as_deref(),
            p["expected_processed_payload"]["iss"].as_str()
        );

        // Only accepted types pass.
        let picky = build(Some(&["urn:example:other:1"]));
        let err = picky.verify(p["compact"].as_str().unwrap()).unwrap_err();
        assert_eq!(err.code(), "vct_not_accepted", "{name}");
        seen += 1;
    }
    assert_eq!(seen, 6, "every SD-JWT VC example is exercised");
}

// ---------------------------------------------------------------------------------------------
// Issue → receive → present → verify.

#[test]
fn round_trip_with_key_binding() {
    let k = keys();
    let vc = VcBuilder::new(
        Vct::new("https://credentials.example.com/identity").unwrap(),
        base_claims(),
    )
    .issuer("https://issuer.example")
    .issued_at(NOW - 10)
    .expires_at(NOW + 3600)
    .holder_key(k.holder.public_jwk().clone())
    .status(obj(
        json!({"status_list": {"idx": 7, "uri": "https://issuer.example/sl/1"}}),
    ))
    .disclose("/given_name")
    .unwrap()
    .disclose("/address/locality")
    .unwrap()
    .issue(&*k.issuer, &OsRandom)
    .unwrap();
    let header = vc.issuer_jwt().header();
    assert_eq!(header["typ"], DC_SD_JWT_TYP);
    let v = verifier_for(k.issuer.public_jwk(), required());
    let wallet = v.receive(&vc.to_string()).unwrap();
    let presentation = wallet
        .credential
        .present(&["/given_name"])
        .unwrap()
        .with_key_binding(&*k.holder, AUD, NONCE, NOW)
        .unwrap();
    let verified = v.verify(&presentation).unwrap();
    assert_eq!(verified.claims()["given_name"], "Erika");
    assert!(
        !verified.claims()["address"]
            .as_object()
            .unwrap()
            .contains_key("locality")
    );
    assert_eq!(verified.status().unwrap()["status_list"]["idx"], 7);
    assert_eq!(verified.sd_jwt.disclosed, ["/given_name"]);
}

#[test]
fn without_selectively_disclosable_claims_there_is_no_sd_structure() {
    // §2.2.2.5: no `_sd`, no `_sd_alg`, no Disclosures, even when decoys are asked for.
    let k = keys();
    let vc = VcBuilder::new(Vct::new("urn:example:plain:1").unwrap(), base_claims())
        .decoys(3)
        .issue(&*k.issuer, &OsRandom)
        .unwrap();
    assert!(vc.disclosures().is_empty());
    let payload = vc.issuer_jwt().payload_json(32).unwrap();
    assert!(!payload.contains_key("_sd"));
    assert!(!payload.contains_key("_sd_alg"));
    let v = verifier_for(k.issuer.public_jwk(), KeyBindingPolicy::Forbidden);
    v.receive(&vc.to_string()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// VC-01: typ.

#[test]
fn typ_must_be_dc_sd_jwt_and_legacy_is_opt_in() {
    let k = keys();
    let payload = json!({"vct": "urn:example:t:1", "iss": "https://issuer.example"});
    let strict = verifier_for(
        k.issuer.public_jwk(),
        credkit::sd_jwt::danger::key_binding_optional(),
    );
    for typ in [
        None,
        Some("sd-jwt"),
        Some("JWT"),
        Some("kb+jwt"),
        Some("statuslist+jwt"),
        Some("vc+sd-jwt"),
    ] {
        let token = craft(&*k.issuer, typ, &payload, &[]);
        assert_eq!(
            strict.verify(&token).unwrap_err().code(),
            "typ_mismatch",
            "{typ:?}"
        );
    }
    for typ in ["dc+sd-jwt", "application/dc+sd-jwt"] {
        strict
            .verify(&craft(&*k.issuer, Some(typ), &payload, &[]))
            .unwrap();
    }
    let keys = StaticIssuerKeys::single(k.issuer.public_jwk(), default_provider()).unwrap();
    let legacy = VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
        Arc::new(FixedClock(NOW)),
    )
    .key_binding(credkit::sd_jwt::danger::key_binding_optional())
    .accept_legacy_typ(true)
    .build()
    .unwrap();
    legacy
        .verify(&craft(&*k.issuer, Some("vc+sd-jwt"), &payload, &[]))
        .unwrap();
    assert_eq!(
        legacy
            .verify(&craft(&*k.issuer, Some("sd-jwt"), &payload, &[]))
            .unwrap_err()
            .code(),
        "typ_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// VC-02: vct and aka_vcts.

#[test]
fn vct_must_be_a_collision_resistant_string() {
    let k = keys();
    let v = verifier_for(
        k.issuer.public_jwk(),
        credkit::sd_jwt::danger::key_binding_optional(),
    );
    for (payload, code) in [
        (json!({"iss": "https://i.example"}), "vct_invalid"),
        (json!({"vct": 7}), "vct_invalid"),
        (json!({"vct": ""}), "vct_invalid"),
        (json!({"vct": "PID"}), "vct_invalid"),
        (json!({"vct": ["urn:a:b"]}), "vct_invalid"),
    ] {
        let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[]);
        assert_eq!(v.verify(&token).unwrap_err().code(), code, "{payload}");
    }
    // vct arriving only through a Disclosure is no vct at all.
    let d = disclosure("vct", json!("urn:example:t:1"));
    let payload = json!({"_sd": [d.digest(HashAlg::Sha256)], "_sd_alg": "sha-256"});
    let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[d]);
    assert_eq!(
        v.verify(&token).unwrap_err().code(),
        "claim_selectively_disclosed"
    );
}

#[test]
fn aka_vcts_rules() {
    let k = keys();
    let v = verifier_for(
        k.issuer.public_jwk(),
        credkit::sd_jwt::danger::key_binding_optional(),
    );
    let ok = craft(
        &*k.issuer,
        Some("dc+sd-jwt"),
        &json!({"vct": "urn:example:t:2", "aka_vcts": ["urn:example:t:1", "https://types.example/t"]}),
        &[],
    );
    let verified = v.verify(&ok).unwrap();
    assert_eq!(verified.aka_vcts.len(), 2);
    for aka in [
        json!([]),
        json!("urn:example:t:1"),
        json!(["urn:example:t:2"]),
        json!(["urn:example:t:1", "urn:example:t:1"]),
        json!([1]),
        json!(["not a name"]),
    ] {
        let token = craft(
            &*k.issuer,
            Some("dc+sd-jwt"),
            &json!({"vct": "urn:example:t:2", "aka_vcts": aka}),
            &[],
        );
        assert_eq!(
            v.verify(&token).unwrap_err().code(),
            "aka_vcts_invalid",
            "{aka}"
        );
    }
    // aka_vcts never make a credential acceptable as another type (§7.7).
    let keys = StaticIssuerKeys::single(k.issuer.public_jwk(), default_provider()).unwrap();
    let picky = VcVerifier::builder_with_clock(
        Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
        Arc::new(FixedClock(NOW)),
    )
    .key_binding(credkit::sd_jwt::danger::key_binding_optional())
    .accept_vcts(&["urn:example:t:1"])
    .build()
    .unwrap();
    assert_eq!(picky.verify(&ok).unwrap_err().code(), "vct_not_accepted");
}

// ---------------------------------------------------------------------------------------------
// CLM-06: registered claims never arrive through a Disclosure, nor anything below them.

#[test]
fn registered_claims_in_disclosures_are_rejected() {
    let k = keys();
    let v = verifier_for(
        k.issuer.public_jwk(),
        credkit::sd_jwt::danger::key_binding_optional(),
    );
    for (name, value) in [
        ("iss", json!("https://issuer.example")),
        ("nbf", json!(NOW - 100)),
        ("exp", json!(NOW + 100)),
        ("cnf", json!({"jwk": k.holder.public_jwk().to_json()})),
        (
            "vct#integrity",
            json!("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
        ),
        ("aka_vcts", json!(["urn:example:t:9"])),
        (
            "status",
            json!({"status_list": {"idx": 1, "uri": "https://s.example/1"}}),
        ),
    ] {
        let d = disclosure(name, value);
        let payload = json!({"vct": "urn:example:t:1", "_sd": [d.digest(HashAlg::Sha256)], "_sd_alg": "sha-256"});
        let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[d]);
        assert_eq!(
            v.verify(&token).unwrap_err().code(),
            "claim_selectively_disclosed",
            "{name}"
        );
    }
    // A sub-claim of status.
    let d = disclosure("idx", json!(3));
    let payload = json!({
        "vct": "urn:example:t:1",
        "status": {"status_list": {"uri": "https://s.example/1", "_sd": [d.digest(HashAlg::Sha256)]}},
        "_sd_alg": "sha-256"
    });
    let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[d]);
    assert_eq!(
        v.verify(&token).unwrap_err().code(),
        "claim_selectively_disclosed"
    );
    // sub and iat MAY be selectively disclosable.
    let d1 = disclosure("sub", json!("user-42"));
    let d2 = Disclosure::new(
        "b3RoZXJzYWx0c2FsdA".into(),
        Some("iat".into()),
        json!(NOW - 5),
    )
    .unwrap();
    let payload = json!({
        "vct": "urn:example:t:1",
        "_sd": [d1.digest(HashAlg::Sha256), d2.digest(HashAlg::Sha256)],
        "_sd_alg": "sha-256"
    });
    let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[d1, d2]);
    let verified = v.verify(&token).unwrap();
    assert_eq!(verified.claims()["sub"], "user-42");
}

#[test]
fn issuer_refuses_to_make_registered_claims_disclosable() {
    let vct = Vct::new("urn:example:t:1").unwrap();
    for p in [
        "/iss",
        "/nbf",
        "/exp",
        "/cnf",
        "/vct",
        "/vct#integrity",
        "/aka_vcts",
        "/status",
        "/status/status_list/idx",
        "/cnf/jwk",
    ] {
        let err = VcBuilder::new(vct.clone(), base_claims())
            .disclose(p)
            .unwrap_err();
        assert_eq!(err.code(), "not_selectively_disclosable", "{p}");
    }
    let k = keys();
    for (claims, code) in [
        (json!({"vct": "urn:example:t:2"}), "invalid_claims"),
        (json!({"cnf": {}}), "invalid_claims"),
        (json!({"status": {}}), "invalid_claims"),
        (json!({"aka_vcts": ["urn:x:y"]}), "invalid_claims"),
        (json!({"iss": "https://a.example"}), "invalid_claims"), // also set by .issuer()
        (json!({"exp": "tomorrow"}), "invalid_claims"),
    ] {
        let err = VcBuilder::new(vct.clone(), obj(claims.clone()))
            .issuer("https://b.example")
            .issue(&*k.issuer, &OsRandom)
            .unwrap_err();
        assert_eq!(err.code(), code, "{claims}");
    }
    let err = VcBuilder::new(vct.clone(), base_claims())
        .aka_vcts(vec![vct.clone()])
        .issue(&*k.issuer, &OsRandom)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_claims");
}

#[test]
fn registered_claim_shapes() {
    let k = keys();
    let v = verifier_for(
        k.issuer.public_jwk(),
        credkit::sd_jwt::danger::key_binding_optional(),
    );
    for payload in [
        json!({"vct": "urn:example:t:1", "status": "revoked"}),
        json!({"vct": "urn:example:t:1", "status": {"status_list": {"idx": -1, "uri": "https://s.example"}}}),
        json!({"vct": "urn:example:t:1", "status": {"status_list": {"idx": 1}}}),
        json!({"vct": "urn:example:t:1", "cnf": "key"}),
        json!({"vct": "urn:example:t:1", "sub": 5}),
        json!({"vct": "urn:example:t:1", "vct#integrity": 5}),
    ] {
        let token = craft(&*k.issuer, Some("dc+sd-jwt"), &payload, &[]);
        assert_eq!(
            v.verify(&token).unwrap_err().code(),
            "vc_claim_invalid",
            "{payload}"
        );
    }
}

#[test]
fn sd_jwt_layer_tokens_with_vc_typ_still_need_the_vc_rules() {
    // An SD-JWT built on the lower layer with the VC typ but a disclosable vct.
    let k = keys();
    let sd = SdJwtBuilder::new(obj(json!({"vct": "urn:example:t:1", "given_name": "E"})))
        .typ(Some(DC_SD_JWT_TYP))
        .disclose("/vct")
        .unwrap()
        .issue(&*k.issuer, &OsRandom)
        .unwrap();
    let v = verifier_for(k.issuer.public_jwk(), KeyBindingPolicy::Forbidden);
    assert_eq!(
        v.receive(&sd.to_string()).unwrap_err().code(),
        "claim_selectively_disclosed"
    );
}

// ---------------------------------------------------------------------------------------------
// The EU PID.

fn erika() -> Pid {
    let mut pid = Pid {
        family_name: "MUSTERMANN".into(),
        given_name: "ERIKA".into(),
        birthdate: "1964-08-12".into(),
        place_of_birth: PlaceOfBirth::new(Some("BERLIN"), None, Some("DE")),
        nationalities: vec!["DE".into()],
        date_of_expiry: "2031-11-27".into(),
        issuing_authority: "DE".into(),
        issuing_country: "DE".into(),
        ..Pid::default()
    };
    pid.age_equal_or_over.insert("18".into(), true);
    pid.age_equal_or_over.insert("65".into(), false);
    pid
}

#[test]
fn pid_every_claim_is_individually_disclosable_and_a_bar_learns_only_over_18() {
    let k = keys();
    let vc = erika()
        .builder()
        .unwrap()
        .issuer("https://pid-provider.example")
        .issued_at(NOW)
        .expires_at(NOW + 14 * 86_400)
        .holder_key(k.holder.public_jwk().clone())
        .issue(&*k.issuer, &OsRandom)
        .unwrap();
    let v = verifier_for(k.issuer.public_jwk(), required());
    let wallet = v.receive(&vc.to_string()).unwrap();
    assert_eq!(wallet.verified.vct.as_str(), PID_VCT);
    let disclosable: Vec<String> = wallet
        .credential
        .disclosable_claims()
        .into_iter()
        .map(|c| c.pointer)
        .collect();
    for p in [
        "/family_name",
        "/given_name",
        "/birthdate",
        "/place_of_birth",
        "/place_of_birth/locality",
        "/place_of_birth/country",
        "/nationalities",
        "/nationalities/0",
        "/age_equal_or_over",
        "/age_equal_or_over/18",
        "/age_equal_or_over/65",
        "/date_of_expiry",
        "/issuing_authority",
        "/issuing_country",
    ] {
        assert!(
            disclosable.iter().any(|d| d == p),
            "{p} must be disclosable: {disclosable:?}"
        );
    }
    let presentation = wallet
        .credential
        .present(&["/age_equal_or_over/18"])
        .unwrap()
        .with_key_binding(&*k.holder, AUD, NONCE, NOW)
        .unwrap();
    let verified = v.verify(&presentation).unwrap();
    let pid = DisclosedPid::from_claims(verified.claims()).unwrap();
    assert_eq!(pid.age_equal_or_over.get("18"), Some(&true));
    assert_eq!(pid.age_equal_or_over.len(), 1);
    assert_eq!(pid.family_name, None);
    assert_eq!(pid.birthdate, None);
    assert_eq!(pid.nationalities, None);
    let mut disclosed = verified.sd_jwt.disclosed.clone();
    disclosed.sort();
    assert_eq!(disclosed, ["/age_equal_or_over", "/age_equal_or_over/18"]);
}

#[test]
fn pid_value_rules() {
    type Mutation = fn(&mut Pid);
    let cases: Vec<(Mutation, &str)> = vec![
        (|p| p.birthdate = "12.08.1964".into(), "birthdate"),
        (
            |p| p.place_of_birth = PlaceOfBirth::default(),
            "place_of_birth",
        ),
        (|p| p.nationalities = vec!["de".into()], "nationalities"),
        (|p| p.nationalities.clear(), "nationalities empty"),
        (|p| p.issuing_country = "DEU".into(), "issuing_country"),
        (|p| p.date_of_expiry = "2031-02-30".into(), "date_of_expiry"),
        (|p| p.sex = Some(7), "sex"),
        (|p| p.phone_number = Some("0049 30 123".into()), "phone"),
        (
            |p| p.picture = Some("https://tracker.example/me.jpg".into()),
            "picture",
        ),
        (|p| p.family_name.clear(), "family_name"),
    ];
    for (mutate, what) in cases {
        let mut pid = erika();
        mutate(&mut pid);
        assert_eq!(
            pid.builder().unwrap_err().code(),
            "invalid_claims",
            "{what}"
        );
    }
    assert_eq!(
        erika()
            .builder_for(Vct::new("urn:example:other:1").unwrap())
            .unwrap_err()
            .code(),
        "vct_invalid"
    );
    let _ = erika()
        .builder_for(Vct::new("urn:eudi:pid:de:1").unwrap())
        .unwrap();
}

#[test]
fn accept_issuers_is_an_explicit_allowlist() {
    let k = keys();
    let vc = VcBuilder::new(Vct::new("urn:example:t:1").unwrap(), base_claims())
        .issuer("https://issuer.example")
        .issue(&*k.issuer, &OsRandom)
        .unwrap()
        .to_string();
    let no_iss = VcBuilder::new(Vct::new("urn:example:t:1").unwrap(), base_claims())
        .issue(&*k.issuer, &OsRandom)
        .unwrap()
        .to_string();
    let build = |issuers: &[&str]| {
        let keys = StaticIssuerKeys::single(k.issuer.public_jwk(), default_provider()).unwrap();
        VcVerifier::builder_with_clock(
            Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))),
            Arc::new(FixedClock(NOW)),
        )
        .key_binding(credkit::sd_jwt::danger::key_binding_optional())
        .accept_issuers(issuers)
        .build()
        .unwrap()
    };
    build(&["https://issuer.example"]).verify(&vc).unwrap();
    assert_eq!(
        build(&["https://other.example"])
            .verify(&vc)
            .unwrap_err()
            .code(),
        "untrusted_issuer"
    );
    assert_eq!(
        build(&["https://issuer.example"])
            .verify(&no_iss)
            .unwrap_err()
            .code(),
        "untrusted_issuer"
    );
}
