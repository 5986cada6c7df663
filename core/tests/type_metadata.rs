//! SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc §5, §6, §7.4): parsing, `extends`
//! chains and their merge, Subresource Integrity, the `sd` / `mandatory` rules at issuance
//! and at verification, and display data. Every failure asserts the exact stable error code.
//!
//! The draft's examples are read from `test-vectors/sd-jwt-vc/type-metadata/` (06, 07, 08,
//! 09, 10, 11, 12). Their `#integrity` values cannot be re-verified (the original octets are
//! not published), so every integrity value here is computed over the exact bytes used.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]
#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use credkit::b64;
use credkit::crypto::{HashAlg, Signer, default_provider};
use credkit::jose::{Algorithm, PrivateJwk};
use credkit::rand::OsRandom;
use credkit::sd_jwt::{SdJwt, SdJwtBuilder, StaticIssuerKeys, danger};
use credkit::sd_jwt_vc::claim_path::ClaimPath;
use credkit::sd_jwt_vc::type_metadata::{
    Completeness, LocalTypeMetadata, ResolvedTypeMetadata, SdRule, TypeMetadata,
    TypeMetadataResolver, TypeMetadataSource, check_integrity,
};
use credkit::sd_jwt_vc::{
    IssuerBinding, TrustPolicy, TypeMetadataPolicy, VcBuilder, VcVerifier, Vct,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../test-vectors/sd-jwt-vc/type-metadata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn vector_json(name: &str) -> Map<String, Value> {
    serde_json::from_slice::<Value>(&vector(name))
        .unwrap()
        .as_object()
        .cloned()
        .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// An SRI value `alg-base64(digest(bytes))`.
fn sri(alg: HashAlg, data: &[u8]) -> String {
    let name = match alg {
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
        _ => unreachable!(),
    };
    format!("{name}-{}", b64::encode_std(&alg.digest(data)))
}

fn code<T: std::fmt::Debug>(r: credkit::Result<T>) -> &'static str {
    r.unwrap_err().code()
}

fn local(docs: &[&[u8]]) -> LocalTypeMetadata {
    let mut l = LocalTypeMetadata::new();
    for d in docs {
        l.add(d.to_vec()).unwrap();
    }
    l
}

fn resolver_of(docs: &[&[u8]]) -> TypeMetadataResolver {
    TypeMetadataResolver::new().with_source(Arc::new(local(docs)))
}

/// A source that serves any bytes under any name (so a document's `vct` may differ from the
/// name it was retrieved under) and counts retrievals.
#[derive(Debug, Default)]
struct MapSource {
    docs: Mutex<HashMap<String, Vec<u8>>>,
    hits: AtomicUsize,
}

impl MapSource {
    fn with(docs: &[(&str, Vec<u8>)]) -> Self {
        let s = Self::default();
        for (k, v) in docs {
            s.docs.lock().unwrap().insert((*k).to_owned(), v.clone());
        }
        s
    }
}

impl TypeMetadataSource for MapSource {
    fn retrieve(&self, vct: &str) -> credkit::Result<Option<Vec<u8>>> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        Ok(self.docs.lock().unwrap().get(vct).cloned())
    }
}

/// Vector 12 without its `extends` (whose parent document is not published), so that it
/// resolves on its own.
fn vector12_standalone() -> Vec<u8> {
    let mut doc = vector_json("12-example-type-metadata.json");
    doc.remove("extends");
    doc.remove("extends#integrity");
    serde_json::to_vec(&doc).unwrap()
}

const V42: &str = "https://betelgeuse.example.com/education_credential/v42";

// ---------------------------------------------------------------------------------------
// Draft vectors: parsing, extends merge, display
// ---------------------------------------------------------------------------------------

#[test]
fn vectors_08_09_merge_to_the_effective_claims_of_vector_10() {
    let base = vector("08-example-base-type-metadata.json");
    let child = vector("09-example-child-type-metadata.json");
    let resolver = resolver_of(&[&base, &child]);
    let resolved = resolver
        .resolve("https://example.com/custom-type-metadata", None)
        .unwrap();
    assert_eq!(resolved.vct, "https://example.com/custom-type-metadata");
    assert_eq!(
        resolved.chain,
        [
            "https://example.com/custom-type-metadata",
            "https://example.com/base-type-metadata"
        ]
    );

    let expected = vector_json("10-effective-claim-metadata-child-type.json");
    let expected = expected["claims"].as_array().unwrap();
    assert_eq!(resolved.claims.len(), expected.len());
    for (got, want) in resolved.claims.iter().zip(expected) {
        assert_eq!(got.path.to_json(), want["path"], "path");
        let want_display = want["display"].as_array().unwrap();
        let got_display = got.display.as_ref().unwrap();
        assert_eq!(got_display.len(), want_display.len(), "{}", got.path);
        for (g, w) in got_display.iter().zip(want_display) {
            assert_eq!(g.label, w["label"].as_str().unwrap(), "{}", got.path);
            assert_eq!(g.locale, w["locale"].as_str().unwrap(), "{}", got.path);
            assert_eq!(g.description.as_deref(), w["description"].as_str());
        }
        // Vector 10 gives no sd / mandatory / svg_id: the effective values are the defaults.
        assert_eq!(got.sd, None);
        assert_eq!(got.mandatory, None);
        assert_eq!(got.sd_rule(), SdRule::Allowed);
        assert!(!got.is_mandatory());
    }

    // The base on its own keeps its own labels.
    let base_only = resolver
        .resolve("https://example.com/base-type-metadata", None)
        .unwrap();
    assert_eq!(base_only.chain, ["https://example.com/base-type-metadata"]);
    let city = base_only
        .claims
        .iter()
        .find(|c| c.path == ClaimPath::keys(&["address", "city"]))
        .unwrap();
    assert_eq!(city.label(&["en"]).unwrap().label, "City");
}

#[test]
fn vector_06_parses() {
    let doc = TypeMetadata::parse(&vector("06-example-type-metadata-document.json")).unwrap();
    assert_eq!(doc.vct, V42);
    assert_eq!(
        doc.name.as_deref(),
        Some("Betelgeuse Education Credential - Version 42")
    );
    assert_eq!(
        doc.description.as_deref(),
        Some("This is our education credential. Don't panic.")
    );
    assert_eq!(
        doc.extends.as_deref(),
        Some("https://galaxy.example.com/galactic-education-credential/v2")
    );
    assert_eq!(
        doc.extends_integrity.as_deref(),
        Some("sha256-ilOUJsTultOwLfz7QUcFALaRa3BP/jelX1ds04kB9yU=")
    );
    assert!(doc.display.is_none());
    assert!(doc.claims.is_empty());
}

#[test]
fn vector_12_parses_with_display_rendering_and_claims() {
    let doc = TypeMetadata::parse(&vector("12-example-type-metadata.json")).unwrap();
    assert_eq!(doc.vct, V42);
    let display = doc.display.as_ref().unwrap();
    assert_eq!(display.len(), 2);
    assert_eq!(display[0].locale, "en-US");
    assert_eq!(display[0].name, "Betelgeuse Education Credential");
    assert_eq!(display[1].locale, "de-DE");
    assert_eq!(display[1].name, "Betelgeuse-Bildungsnachweis");
    for d in display {
        let rendering = d.rendering.as_ref().unwrap();
        assert_eq!(rendering["simple"]["background_color"], "#12107c");
        assert_eq!(rendering["svg_templates"].as_array().unwrap().len(), 1);
    }
    let rules: Vec<(Value, Option<SdRule>, Option<bool>)> = doc
        .claims
        .iter()
        .map(|c| (c.path.to_json(), c.sd, c.mandatory))
        .collect();
    assert_eq!(
        rules,
        [
            (json!(["name"]), Some(SdRule::Always), Some(true)),
            (json!(["address"]), Some(SdRule::Always), None),
            (
                json!(["address", "street_address"]),
                Some(SdRule::Always),
                None
            ),
            (json!(["degrees"]), Some(SdRule::Never), None),
            (json!(["degrees", null]), Some(SdRule::Always), None),
            (
                json!(["degrees", null, "field_of_study"]),
                Some(SdRule::Never),
                None
            ),
            (
                json!(["degrees", null, "date_awarded"]),
                Some(SdRule::Always),
                None
            ),
        ]
    );
    assert_eq!(
        doc.claims[2].svg_id.as_deref(),
        Some("address_street_address")
    );
    assert!(doc.claims[4].display.is_none());
}

#[test]
fn vector_12_display_for_picks_locale() {
    let resolved = resolver_of(&[&vector12_standalone()])
        .resolve(V42, None)
        .unwrap();
    assert_eq!(resolved.chain, [V42]);
    assert_eq!(resolved.display_for(&["de-DE"]).unwrap().locale, "de-DE");
    assert_eq!(resolved.display_for(&["DE-de"]).unwrap().locale, "de-DE");
    assert_eq!(resolved.display_for(&["de"]).unwrap().locale, "de-DE");
    assert_eq!(resolved.display_for(&["de-AT"]).unwrap().locale, "de-DE");
    assert_eq!(resolved.display_for(&["fr"]).unwrap().locale, "en-US");
    assert_eq!(resolved.display_for(&[]).unwrap().locale, "en-US");
    assert_eq!(resolved.display_for(&["fr", "de"]).unwrap().locale, "de-DE");
    assert_eq!(
        resolved.display_for(&["en-GB", "de-DE"]).unwrap().locale,
        "en-US",
        "the language match of an earlier locale wins over a later exact match"
    );
    assert_eq!(
        resolved.name.as_deref(),
        Some("Betelgeuse Education Credential - First Version")
    );

    let name = &resolved.claims[0];
    assert_eq!(name.label(&["de"]).unwrap().label, "Vor- und Nachname");
    assert_eq!(name.label(&["en-US"]).unwrap().label, "Name");
    assert_eq!(name.label(&["fr"]).unwrap().label, "Vor- und Nachname");
}

#[test]
fn vector_12_labels_and_claim_for_over_vector_11() {
    let resolved = resolver_of(&[&vector12_standalone()])
        .resolve(V42, None)
        .unwrap();
    let claims = vector_json("11-example-sd-jwt-vc-payload-for-type-metadata.json");

    let labels: Vec<(String, &str)> = resolved
        .labels(&claims, &["en-US"])
        .into_iter()
        .map(|(p, l, _)| (p, l))
        .collect();
    assert_eq!(
        labels,
        [
            ("/name".to_owned(), "Name"),
            ("/address".to_owned(), "Address"),
            ("/address/street_address".to_owned(), "Street Address"),
            ("/degrees".to_owned(), "Degrees"),
            ("/degrees/0/field_of_study".to_owned(), "Field of Study"),
            ("/degrees/1/field_of_study".to_owned(), "Field of Study"),
            ("/degrees/2/field_of_study".to_owned(), "Field of Study"),
            ("/degrees/0/date_awarded".to_owned(), "Date Awarded"),
            ("/degrees/1/date_awarded".to_owned(), "Date Awarded"),
            ("/degrees/2/date_awarded".to_owned(), "Date Awarded"),
        ]
    );
    let de = resolved.labels(&claims, &["de"]);
    assert_eq!(de[0].1, "Vor- und Nachname");
    assert_eq!(de[0].2, &json!("Zaphod Beeblebrox"));

    let c = resolved
        .claim_for(&claims, "/degrees/1/field_of_study")
        .unwrap();
    assert_eq!(c.path.to_json(), json!(["degrees", null, "field_of_study"]));
    assert_eq!(c.sd_rule(), SdRule::Never);
    let c = resolved.claim_for(&claims, "/degrees/2").unwrap();
    assert_eq!(c.path.to_json(), json!(["degrees", null]));
    let c = resolved
        .claim_for(&claims, "/address/street_address")
        .unwrap();
    assert_eq!(c.svg_id.as_deref(), Some("address_street_address"));
    assert!(resolved.claim_for(&claims, "/address/city").is_none());
    assert!(resolved.claim_for(&claims, "/nothing").is_none());
}

#[test]
fn vector_12_check_credential_over_vector_11() {
    let resolved = resolver_of(&[&vector12_standalone()])
        .resolve(V42, None)
        .unwrap();
    let claims = vector_json("11-example-sd-jwt-vc-payload-for-type-metadata.json");
    let mut disclosed: Vec<String> = [
        "/name",
        "/address",
        "/address/street_address",
        "/degrees/0",
        "/degrees/1",
        "/degrees/2",
        "/degrees/0/date_awarded",
        "/degrees/1/date_awarded",
        "/degrees/2/date_awarded",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for c in [Completeness::AllDisclosures, Completeness::Presentation] {
        resolved.check_credential(&claims, &disclosed, c).unwrap();
    }
    // degrees[1].date_awarded (sd always) arrived in the clear.
    let mut missing = disclosed.clone();
    missing.retain(|p| p != "/degrees/1/date_awarded");
    assert_eq!(
        code(resolved.check_credential(&claims, &missing, Completeness::Presentation)),
        "claim_metadata_violation"
    );
    // degrees (sd never) arrived through a Disclosure.
    disclosed.push("/degrees".into());
    assert_eq!(
        code(resolved.check_credential(&claims, &disclosed, Completeness::Presentation)),
        "claim_metadata_violation"
    );
}

#[test]
fn vector_12_with_unpublished_parent_is_unavailable_or_mismatched() {
    let doc = vector("12-example-type-metadata.json");
    // The parent is not known at all: the type cannot be processed (fails closed, not
    // "no metadata", so IfAvailable does not silently drop the child's rules).
    assert_eq!(
        code(resolver_of(&[&doc]).resolve(V42, None)),
        "type_metadata_invalid"
    );
    // A parent with that vct, but not the octets the vector's extends#integrity covers.
    let parent = bytes(&json!({
        "vct": "https://galaxy.example.com/galactic-education-credential/v2"
    }));
    assert_eq!(
        code(resolver_of(&[&doc, &parent]).resolve(V42, None)),
        "integrity_mismatch"
    );
}

// ---------------------------------------------------------------------------------------
// Integrity (§6, W3C SRI)
// ---------------------------------------------------------------------------------------

const DOC: &[u8] = br#"{"vct":"urn:example:integrity","name":"Integrity test"}"#;

#[test]
fn integrity_sha256_sha384_sha512_match() {
    for alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        check_integrity(&sri(alg, DOC), DOC, "doc").unwrap();
        // ... and through the resolver, over the bytes the source returned.
        let resolved = resolver_of(&[DOC])
            .resolve("urn:example:integrity", Some(&sri(alg, DOC)))
            .unwrap();
        assert_eq!(resolved.name.as_deref(), Some("Integrity test"));
    }
}

#[test]
fn integrity_one_changed_byte_mismatches() {
    let mut changed = DOC.to_vec();
    let i = changed.iter().position(|b| *b == b'I').unwrap();
    changed[i] = b'J';
    for alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        assert_eq!(
            code(check_integrity(&sri(alg, DOC), &changed, "doc")),
            "integrity_mismatch"
        );
        assert_eq!(
            code(resolver_of(&[&changed]).resolve("urn:example:integrity", Some(&sri(alg, DOC)))),
            "integrity_mismatch"
        );
    }
    // Whitespace counts: the same JSON re-serialised is other octets.
    let reformatted =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(DOC).unwrap()).unwrap();
    assert_eq!(
        code(check_integrity(
            &sri(HashAlg::Sha256, DOC),
            &reformatted,
            "doc"
        )),
        "integrity_mismatch"
    );
}

#[test]
fn integrity_without_a_supported_digest_is_invalid() {
    let md5 = format!("md5-{}", b64::encode_std(&[0u8; 16]));
    assert_eq!(code(check_integrity(&md5, DOC, "doc")), "integrity_invalid");
    assert_eq!(
        code(resolver_of(&[DOC]).resolve("urn:example:integrity", Some(&md5))),
        "integrity_invalid"
    );
    let sha1 = format!("sha1-{}", b64::encode_std(&[0u8; 20]));
    for bad in [
        "",
        "   ",
        "sha256",
        "sha256-",
        sha1.as_str(),
        // Right algorithm, wrong digest length.
        "sha256-AAAA",
        // Not base64 at all.
        "sha256-!!!!",
    ] {
        assert_eq!(
            code(check_integrity(bad, DOC, "doc")),
            "integrity_invalid",
            "{bad:?}"
        );
    }
}

#[test]
fn integrity_strongest_algorithm_decides() {
    // A weaker digest matches, the strongest present does not: mismatch.
    let good256 = sri(HashAlg::Sha256, DOC);
    let good384 = sri(HashAlg::Sha384, DOC);
    let bad512 = sri(HashAlg::Sha512, b"other octets");
    let bad384 = sri(HashAlg::Sha384, b"other octets");
    assert_eq!(
        code(check_integrity(&format!("{good256} {bad512}"), DOC, "doc")),
        "integrity_mismatch"
    );
    assert_eq!(
        code(check_integrity(&format!("{bad384} {good256}"), DOC, "doc")),
        "integrity_mismatch"
    );
    assert_eq!(
        code(check_integrity(
            &format!("{good256}  {good384} {bad512}"),
            DOC,
            "doc"
        )),
        "integrity_mismatch"
    );
    // The strongest matches, a weaker one does not: ok.
    check_integrity(
        &format!("{} {good384}", sri(HashAlg::Sha256, b"other")),
        DOC,
        "doc",
    )
    .unwrap();
    // Two digests of the strongest algorithm: either may match.
    check_integrity(&format!("{bad384} {good384}"), DOC, "doc").unwrap();
    check_integrity(&format!("{good384}\t{bad384}\n"), DOC, "doc").unwrap();
    // Unsupported and malformed tokens are ignored next to a good one.
    check_integrity(&format!("md5-AAAA sha256-!!! {good256}"), DOC, "doc").unwrap();
}

#[test]
fn integrity_options_are_ignored() {
    let good = sri(HashAlg::Sha256, DOC);
    check_integrity(&format!("{good}?foo"), DOC, "doc").unwrap();
    check_integrity(&format!("{good}?foo?bar=baz"), DOC, "doc").unwrap();
    let bad = sri(HashAlg::Sha256, b"x");
    assert_eq!(
        code(check_integrity(&format!("{bad}?foo"), DOC, "doc")),
        "integrity_mismatch"
    );
    resolver_of(&[DOC])
        .resolve(
            "urn:example:integrity",
            Some(&format!("{good}?ct=application/json")),
        )
        .unwrap();
}

#[test]
fn extends_integrity_is_checked_over_the_parent() {
    let parent = bytes(&json!({"vct": "urn:example:parent", "name": "Parent"}));
    let child = |integrity: &str| {
        bytes(&json!({
            "vct": "urn:example:child",
            "extends": "urn:example:parent",
            "extends#integrity": integrity,
        }))
    };
    let ok = child(&sri(HashAlg::Sha384, &parent));
    let resolved = resolver_of(&[&parent, &ok])
        .resolve("urn:example:child", None)
        .unwrap();
    assert_eq!(resolved.chain, ["urn:example:child", "urn:example:parent"]);
    assert_eq!(resolved.name.as_deref(), Some("Parent"));

    let wrong = child(&sri(HashAlg::Sha384, b"not the parent"));
    assert_eq!(
        code(resolver_of(&[&parent, &wrong]).resolve("urn:example:child", None)),
        "integrity_mismatch"
    );
    let invalid = child("md5-AAAAAAAAAAAAAAAAAAAAAA==");
    assert_eq!(
        code(resolver_of(&[&parent, &invalid]).resolve("urn:example:child", None)),
        "integrity_invalid"
    );
    // The child's own integrity (from the credential) is checked too.
    assert_eq!(
        code(
            resolver_of(&[&parent, &ok])
                .resolve("urn:example:child", Some(&sri(HashAlg::Sha256, &parent)))
        ),
        "integrity_mismatch"
    );
    resolver_of(&[&parent, &ok])
        .resolve("urn:example:child", Some(&sri(HashAlg::Sha256, &ok)))
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// extends chains (§5.4, §7.4), references, availability
// ---------------------------------------------------------------------------------------

fn doc_extending(vct: &str, parent: Option<&str>) -> Vec<u8> {
    let mut d = json!({"vct": vct});
    if let Some(p) = parent {
        d["extends"] = p.into();
    }
    bytes(&d)
}

#[test]
fn extends_cycle_is_rejected() {
    let a = doc_extending("urn:example:a", Some("urn:example:b"));
    let b = doc_extending("urn:example:b", Some("urn:example:a"));
    let r = resolver_of(&[&a, &b]);
    assert_eq!(code(r.resolve("urn:example:a", None)), "extends_cycle");
    assert_eq!(code(r.resolve("urn:example:b", None)), "extends_cycle");

    // A longer cycle entered from outside it: x -> a -> b -> c -> a.
    let x = doc_extending("urn:example:x", Some("urn:example:a"));
    let a2 = doc_extending("urn:example:a", Some("urn:example:b"));
    let b2 = doc_extending("urn:example:b", Some("urn:example:c"));
    let c2 = doc_extending("urn:example:c", Some("urn:example:a"));
    assert_eq!(
        code(resolver_of(&[&x, &a2, &b2, &c2]).resolve("urn:example:x", None)),
        "extends_cycle"
    );
}

#[test]
fn self_extends_is_a_cycle() {
    let a = doc_extending("urn:example:self", Some("urn:example:self"));
    assert_eq!(
        code(resolver_of(&[&a]).resolve("urn:example:self", None)),
        "extends_cycle"
    );
}

#[test]
fn extends_chain_longer_than_max_depth_is_rejected() {
    let d1 = doc_extending("urn:example:d1", Some("urn:example:d2"));
    let d2 = doc_extending("urn:example:d2", Some("urn:example:d3"));
    let d3 = doc_extending("urn:example:d3", Some("urn:example:d4"));
    let d4 = doc_extending("urn:example:d4", None);
    let local = Arc::new(local(&[&d1, &d2, &d3, &d4]));
    let r = TypeMetadataResolver::new()
        .with_source(local.clone())
        .max_depth(3);
    assert_eq!(code(r.resolve("urn:example:d1", None)), "extends_too_deep");
    // Exactly three documents fit.
    let resolved = r.resolve("urn:example:d2", None).unwrap();
    assert_eq!(
        resolved.chain,
        ["urn:example:d2", "urn:example:d3", "urn:example:d4"]
    );
    // The default depth (8) accepts four.
    let resolved = TypeMetadataResolver::new()
        .with_source(local)
        .resolve("urn:example:d1", None)
        .unwrap();
    assert_eq!(resolved.chain.len(), 4);
    // Depth 1: no extends at all.
    let r1 = TypeMetadataResolver::new()
        .with_source(Arc::new(self::local(&[&d3, &d4])))
        .max_depth(1);
    r1.resolve("urn:example:d4", None).unwrap();
    assert_eq!(code(r1.resolve("urn:example:d3", None)), "extends_too_deep");
}

#[test]
fn document_vct_must_match_its_reference() {
    // The credential's vct resolves to a document about another type.
    let other = doc_extending("urn:example:other", None);
    let src = MapSource::with(&[("urn:example:wanted", other.clone())]);
    let r = TypeMetadataResolver::new().with_source(Arc::new(src));
    assert_eq!(
        code(r.resolve("urn:example:wanted", None)),
        "type_metadata_vct_mismatch"
    );
    // The parent named by extends is a document about another type.
    let child = doc_extending("urn:example:child", Some("urn:example:parent"));
    let src = MapSource::with(&[("urn:example:child", child), ("urn:example:parent", other)]);
    let r = TypeMetadataResolver::new().with_source(Arc::new(src));
    assert_eq!(
        code(r.resolve("urn:example:child", None)),
        "type_metadata_vct_mismatch"
    );
    // Comparison is exact (no case folding, no trailing-slash normalisation).
    let doc = doc_extending("https://example.com/Type", None);
    let src = MapSource::with(&[("https://example.com/type", doc.clone())]);
    assert_eq!(
        code(
            TypeMetadataResolver::new()
                .with_source(Arc::new(src))
                .resolve("https://example.com/type", None)
        ),
        "type_metadata_vct_mismatch"
    );
    let src = MapSource::with(&[("https://example.com/Type/", doc)]);
    assert_eq!(
        code(
            TypeMetadataResolver::new()
                .with_source(Arc::new(src))
                .resolve("https://example.com/Type/", None)
        ),
        "type_metadata_vct_mismatch"
    );
}

#[test]
fn missing_document_is_unavailable() {
    assert_eq!(
        code(TypeMetadataResolver::new().resolve("urn:example:none", None)),
        "type_metadata_unavailable"
    );
    assert_eq!(
        code(resolver_of(&[DOC]).resolve("urn:example:none", None)),
        "type_metadata_unavailable"
    );
    // A missing parent makes the type invalid: its own rules must not be dropped.
    let child = doc_extending("urn:example:orphan", Some("urn:example:gone"));
    assert_eq!(
        code(resolver_of(&[&child]).resolve("urn:example:orphan", None)),
        "type_metadata_invalid"
    );
}

#[test]
fn sources_are_tried_in_order() {
    let first = MapSource::with(&[(
        "urn:example:s",
        bytes(&json!({"vct": "urn:example:s", "name": "first"})),
    )]);
    let second = local(&[&bytes(&json!({"vct": "urn:example:s", "name": "second"}))]);
    let third = local(&[&bytes(&json!({"vct": "urn:example:t", "name": "third"}))]);
    let r = TypeMetadataResolver::new()
        .with_source(Arc::new(first))
        .with_source(Arc::new(second))
        .with_source(Arc::new(third));
    assert_eq!(
        r.resolve("urn:example:s", None).unwrap().name.as_deref(),
        Some("first")
    );
    assert_eq!(
        r.resolve("urn:example:t", None).unwrap().name.as_deref(),
        Some("third")
    );
}

// ---------------------------------------------------------------------------------------
// Merge rules (§5.6.5.1)
// ---------------------------------------------------------------------------------------

fn parent_child(parent_claim: Value, child_claim: Value) -> credkit::Result<ResolvedTypeMetadata> {
    let parent = bytes(&json!({"vct": "urn:example:p", "claims": [parent_claim]}));
    let child = bytes(&json!({
        "vct": "urn:example:c",
        "extends": "urn:example:p",
        "claims": [child_claim],
    }));
    resolver_of(&[&parent, &child]).resolve("urn:example:c", None)
}

#[test]
fn child_must_not_relax_sd_or_mandatory() {
    for (parent, child) in [
        (
            json!({"path": ["a"], "sd": "always"}),
            json!({"path": ["a"], "sd": "allowed"}),
        ),
        (
            json!({"path": ["a"], "sd": "always"}),
            json!({"path": ["a"], "sd": "never"}),
        ),
        (
            json!({"path": ["a"], "sd": "never"}),
            json!({"path": ["a"], "sd": "always"}),
        ),
        (
            json!({"path": ["a"], "sd": "never"}),
            json!({"path": ["a"], "sd": "allowed"}),
        ),
        (
            json!({"path": ["a"], "mandatory": true}),
            json!({"path": ["a"], "mandatory": false}),
        ),
        (
            json!({"path": ["a", null, "b"], "mandatory": true, "sd": "always"}),
            json!({"path": ["a", null, "b"], "mandatory": false}),
        ),
    ] {
        assert_eq!(
            code(parent_child(parent.clone(), child.clone())),
            "claim_metadata_relaxed",
            "{parent} -> {child}"
        );
    }
}

#[test]
fn child_may_tighten_restate_or_leave_out_rules() {
    for (parent, child, sd, mandatory) in [
        (
            json!({"path": ["a"], "sd": "allowed"}),
            json!({"path": ["a"], "sd": "always"}),
            Some(SdRule::Always),
            None,
        ),
        (
            json!({"path": ["a"]}),
            json!({"path": ["a"], "sd": "never"}),
            Some(SdRule::Never),
            None,
        ),
        (
            json!({"path": ["a"], "sd": "always"}),
            json!({"path": ["a"], "sd": "always"}),
            Some(SdRule::Always),
            None,
        ),
        (
            json!({"path": ["a"], "sd": "never", "mandatory": true}),
            json!({"path": ["a"], "display": [{"locale": "en", "label": "A"}]}),
            Some(SdRule::Never),
            Some(true),
        ),
        (
            json!({"path": ["a"], "mandatory": false}),
            json!({"path": ["a"], "mandatory": true}),
            None,
            Some(true),
        ),
        (
            json!({"path": ["a"], "mandatory": true}),
            json!({"path": ["a"], "mandatory": true}),
            None,
            Some(true),
        ),
    ] {
        let r = parent_child(parent.clone(), child.clone())
            .unwrap_or_else(|e| panic!("{parent} -> {child}: {e}"));
        assert_eq!(r.claims.len(), 1);
        assert_eq!(r.claims[0].sd, sd, "{parent} -> {child}");
        assert_eq!(r.claims[0].mandatory, mandatory, "{parent} -> {child}");
    }
    // Display and svg_id: the child's replace the parent's; claims only in the child are added.
    let parent = bytes(&json!({
        "vct": "urn:example:p",
        "display": [{"locale": "en", "name": "Parent"}],
        "claims": [
            {"path": ["a"], "svg_id": "a_parent", "display": [{"locale": "en", "label": "P"}]},
            {"path": ["b"], "sd": "never"}
        ]
    }));
    let child = bytes(&json!({
        "vct": "urn:example:c",
        "extends": "urn:example:p",
        "claims": [
            {"path": ["c"]},
            {"path": ["a"], "svg_id": "a_child", "display": [{"locale": "de", "label": "K"}]}
        ]
    }));
    let r = resolver_of(&[&parent, &child])
        .resolve("urn:example:c", None)
        .unwrap();
    let paths: Vec<Value> = r.claims.iter().map(|c| c.path.to_json()).collect();
    assert_eq!(paths, [json!(["a"]), json!(["b"]), json!(["c"])]);
    assert_eq!(r.claims[0].svg_id.as_deref(), Some("a_child"));
    assert_eq!(r.claims[0].display.as_ref().unwrap().len(), 1);
    assert_eq!(r.claims[0].label(&["en"]).unwrap().label, "K");
    assert_eq!(r.claims[1].sd, Some(SdRule::Never));
    // The child has no display of its own: the parent's is inherited.
    assert_eq!(r.display_for(&["en"]).unwrap().name, "Parent");
}

// ---------------------------------------------------------------------------------------
// Invalid documents (§5.2, §5.6)
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_documents_are_rejected() {
    let cases: Vec<(&str, Value)> = vec![
        ("no vct", json!({"name": "x"})),
        ("vct not a string", json!({"vct": 1})),
        (
            "path []",
            json!({"vct": "urn:x:y", "claims": [{"path": []}]}),
        ),
        (
            "path with -1",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a", -1]}]}),
        ),
        (
            "path with 1.5",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a", 1.5]}]}),
        ),
        (
            "path with true",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a", true]}]}),
        ),
        (
            "path not an array",
            json!({"vct": "urn:x:y", "claims": [{"path": "a"}]}),
        ),
        (
            "claim without path",
            json!({"vct": "urn:x:y", "claims": [{"sd": "always"}]}),
        ),
        (
            "duplicate path",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"]}, {"path": ["a"]}]}),
        ),
        (
            "sd sometimes",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "sd": "sometimes"}]}),
        ),
        (
            "sd not a string",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "sd": true}]}),
        ),
        (
            "mandatory not a boolean",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "mandatory": "yes"}]}),
        ),
        (
            "duplicate svg_id",
            json!({"vct": "urn:x:y", "claims": [
                {"path": ["a"], "svg_id": "same"},
                {"path": ["b"], "svg_id": "same"}
            ]}),
        ),
        (
            "svg_id 1abc",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "svg_id": "1abc"}]}),
        ),
        (
            "svg_id with -",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "svg_id": "a-b"}]}),
        ),
        (
            "svg_id empty",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "svg_id": ""}]}),
        ),
        (
            "type display without locale",
            json!({"vct": "urn:x:y", "display": [{"name": "X"}]}),
        ),
        (
            "type display without name",
            json!({"vct": "urn:x:y", "display": [{"locale": "en"}]}),
        ),
        (
            "display not an array",
            json!({"vct": "urn:x:y", "display": {"locale": "en", "name": "X"}}),
        ),
        (
            "claim display without locale",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "display": [{"label": "A"}]}]}),
        ),
        (
            "claim display without label",
            json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "display": [{"locale": "en"}]}]}),
        ),
        (
            "claims not an array",
            json!({"vct": "urn:x:y", "claims": {}}),
        ),
        (
            "claims of non-objects",
            json!({"vct": "urn:x:y", "claims": [["a"]]}),
        ),
        (
            "extends not a string",
            json!({"vct": "urn:x:y", "extends": 5}),
        ),
        (
            "extends#integrity without extends",
            json!({"vct": "urn:x:y", "extends#integrity": "sha256-AAAA"}),
        ),
    ];
    for (what, doc) in cases {
        let b = bytes(&doc);
        assert_eq!(
            code(TypeMetadata::parse(&b)),
            "type_metadata_invalid",
            "{what}"
        );
        assert_eq!(
            code(LocalTypeMetadata::new().add(b.clone()).map(|_| ())),
            "type_metadata_invalid",
            "{what} (LocalTypeMetadata::add)"
        );
        // Served under a name by a source: the resolver rejects it the same way.
        let src = MapSource::with(&[("urn:x:y", b)]);
        assert_eq!(
            code(
                TypeMetadataResolver::new()
                    .with_source(Arc::new(src))
                    .resolve("urn:x:y", None)
            ),
            "type_metadata_invalid",
            "{what} (resolve)"
        );
    }
    // Valid edge cases for contrast.
    for doc in [
        json!({"vct": "urn:x:y"}),
        json!({"vct": "urn:x:y", "claims": [{"path": ["a", 0, null]}], "unknown": {"x": 1}}),
        json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "svg_id": "_a1"}, {"path": ["b"], "svg_id": "B_2"}]}),
        json!({"vct": "urn:x:y", "claims": [{"path": ["a"], "sd": "allowed", "mandatory": false}]}),
    ] {
        TypeMetadata::parse(&bytes(&doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    }
    // Not JSON, or not an object, or with duplicate members: JSON errors.
    assert_eq!(code(TypeMetadata::parse(b"not json")), "json_invalid");
    assert_eq!(
        code(TypeMetadata::parse(br#"{"vct":"urn:x:y","vct":"urn:x:z"}"#)),
        "json_duplicate_key"
    );
}

// ---------------------------------------------------------------------------------------
// check_credential (§5.6, §5.7)
// ---------------------------------------------------------------------------------------

fn rules() -> ResolvedTypeMetadata {
    let doc = bytes(&json!({
        "vct": "urn:example:rules",
        "claims": [
            {"path": ["given_name"], "sd": "always"},
            {"path": ["family_name"], "sd": "never"},
            {"path": ["birthdate"], "mandatory": true},
            {"path": ["name", "x"]},
            {"path": ["nationalities", null], "sd": "always"}
        ]
    }));
    resolver_of(&[&doc])
        .resolve("urn:example:rules", None)
        .unwrap()
}

fn ptrs(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn check_credential_sd_rules() {
    let tm = rules();
    let claims = obj(json!({
        "vct": "urn:example:rules",
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1963-08-12",
        "nationalities": ["DE", "FR"]
    }));
    let good = ptrs(&["/given_name", "/nationalities/0", "/nationalities/1"]);
    for c in [Completeness::AllDisclosures, Completeness::Presentation] {
        tm.check_credential(&claims, &good, c).unwrap();
    }
    // sd always, arrived in the clear.
    assert_eq!(
        code(tm.check_credential(
            &claims,
            &ptrs(&["/nationalities/0", "/nationalities/1"]),
            Completeness::Presentation
        )),
        "claim_metadata_violation"
    );
    // sd always for array elements: one element in the clear.
    assert_eq!(
        code(tm.check_credential(
            &claims,
            &ptrs(&["/given_name", "/nationalities/1"]),
            Completeness::AllDisclosures
        )),
        "claim_metadata_violation"
    );
    // sd never, disclosed.
    let mut with_family = good.clone();
    with_family.push("/family_name".into());
    assert_eq!(
        code(tm.check_credential(&claims, &with_family, Completeness::Presentation)),
        "claim_metadata_violation"
    );
    // A presentation that leaves an sd-always claim out is fine (the claim is absent).
    let mut presented = claims.clone();
    presented.remove("given_name");
    tm.check_credential(
        &presented,
        &ptrs(&["/nationalities/0", "/nationalities/1"]),
        Completeness::Presentation,
    )
    .unwrap();
}

#[test]
fn check_credential_mandatory_depends_on_completeness() {
    let tm = rules();
    let claims = obj(json!({"given_name": "Erika"}));
    let disclosed = ptrs(&["/given_name"]);
    assert_eq!(
        code(tm.check_credential(&claims, &disclosed, Completeness::AllDisclosures)),
        "claim_metadata_violation"
    );
    tm.check_credential(&claims, &disclosed, Completeness::Presentation)
        .unwrap();
    // Present (even as null) satisfies mandatory.
    let mut with_null = claims.clone();
    with_null.insert("birthdate".into(), Value::Null);
    tm.check_credential(&with_null, &disclosed, Completeness::AllDisclosures)
        .unwrap();
}

#[test]
fn check_credential_path_on_wrong_type_is_a_violation() {
    let tm = rules();
    for claims in [
        // ["name", "x"] where name is a string.
        json!({"given_name": "E", "birthdate": "x", "name": "Erika Mustermann"}),
        // ["nationalities", null] where nationalities is an object.
        json!({"given_name": "E", "birthdate": "x", "nationalities": {"a": "DE"}}),
    ] {
        assert_eq!(
            code(tm.check_credential(
                &obj(claims.clone()),
                &ptrs(&["/given_name"]),
                Completeness::Presentation
            )),
            "claim_metadata_violation",
            "{claims}"
        );
    }
    // Where the path fits, or selects nothing, it is fine.
    for claims in [
        json!({"given_name": "E", "birthdate": "x", "name": {"x": 1}}),
        json!({"given_name": "E", "birthdate": "x", "name": {}}),
    ] {
        tm.check_credential(
            &obj(claims),
            &ptrs(&["/given_name"]),
            Completeness::Presentation,
        )
        .unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// End to end: VcBuilder + VcVerifier
// ---------------------------------------------------------------------------------------

const PID: &str = "urn:example:tm:pid:1";
const ISS: &str = "https://issuer.example.com";

fn pid_doc() -> Vec<u8> {
    bytes(&json!({
        "vct": PID,
        "name": "Example PID",
        "display": [{"locale": "en", "name": "PID"}],
        "claims": [
            {"path": ["given_name"], "sd": "always",
             "display": [{"locale": "en", "label": "Given name"}]},
            {"path": ["family_name"], "sd": "never", "mandatory": true},
            {"path": ["birthdate"], "mandatory": true}
        ]
    }))
}

fn pid_resolver() -> TypeMetadataResolver {
    resolver_of(&[&pid_doc()])
}

struct Issuer {
    key: PrivateJwk,
    signer: Arc<dyn Signer>,
}

fn issuer() -> Issuer {
    let p = default_provider();
    let key = p.generate(Algorithm::Es256, &OsRandom).unwrap();
    let signer = p.signer(&key).unwrap();
    Issuer { key, signer }
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn pid_claims() -> Map<String, Value> {
    obj(json!({
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1963-08-12",
        "nickname": "Eri"
    }))
}

fn pid_builder(claims: Map<String, Value>) -> VcBuilder {
    VcBuilder::new(Vct::new(PID).unwrap(), claims)
        .issuer(ISS)
        .issued_at(now() - 10)
        .expires_at(now() + 3600)
}

fn verifier(
    issuer: &Issuer,
    resolver: TypeMetadataResolver,
    policy: TypeMetadataPolicy,
) -> VcVerifier {
    let keys = StaticIssuerKeys::single(issuer.key.public(), default_provider()).unwrap();
    VcVerifier::builder(Arc::new(TrustPolicy::new().otherwise(Arc::new(keys))))
        .key_binding(danger::key_binding_optional())
        .type_metadata(Arc::new(resolver), policy)
        .build()
        .unwrap()
}

fn disclosed_names(vc: &SdJwt) -> Vec<String> {
    let mut v: Vec<String> = vc
        .disclosures()
        .iter()
        .filter_map(|d| d.name().map(str::to_owned))
        .collect();
    v.sort();
    v
}

/// A credential made with the plain SD-JWT builder, so that it can break the type's rules.
fn crafted(issuer: &Issuer, claims: Value, disclose: &[&str]) -> String {
    let mut payload = obj(json!({"iss": ISS, "iat": now() - 10, "vct": PID}));
    payload.extend(obj(claims));
    let mut b = SdJwtBuilder::new(payload).typ(Some("dc+sd-jwt"));
    for p in disclose {
        b = b.disclose(p).unwrap();
    }
    b.issue(&*issuer.signer, &OsRandom).unwrap().to_string()
}

#[test]
fn issuance_applies_sd_rules() {
    let iss = issuer();
    let tm = pid_resolver().resolve(PID, None).unwrap();

    // given_name (sd always) becomes a Disclosure without being asked for.
    let vc = pid_builder(pid_claims())
        .type_metadata(tm.clone())
        .issue(&*iss.signer, &OsRandom)
        .unwrap();
    assert_eq!(disclosed_names(&vc), ["given_name"]);

    // Other claims may still be made disclosable.
    let vc2 = pid_builder(pid_claims())
        .type_metadata(tm.clone())
        .disclose("/nickname")
        .unwrap()
        .disclose("/birthdate")
        .unwrap()
        .issue(&*iss.signer, &OsRandom)
        .unwrap();
    assert_eq!(
        disclosed_names(&vc2),
        ["birthdate", "given_name", "nickname"]
    );

    // family_name (sd never) cannot be made disclosable.
    let err = pid_builder(pid_claims())
        .type_metadata(tm.clone())
        .disclose("/family_name")
        .unwrap()
        .issue(&*iss.signer, &OsRandom)
        .unwrap_err();
    assert_eq!(err.code(), "not_selectively_disclosable");

    // A mandatory claim is missing.
    let mut claims = pid_claims();
    claims.remove("birthdate");
    let err = pid_builder(claims)
        .type_metadata(tm.clone())
        .issue(&*iss.signer, &OsRandom)
        .unwrap_err();
    assert_eq!(err.code(), "claim_metadata_violation");

    // Metadata of another type.
    let other = resolver_of(&[&doc_extending("urn:example:other", None)])
        .resolve("urn:example:other", None)
        .unwrap();
    let err = pid_builder(pid_claims())
        .type_metadata(other)
        .issue(&*iss.signer, &OsRandom)
        .unwrap_err();
    assert_eq!(err.code(), "type_metadata_vct_mismatch");

    // A path applied to the wrong type at issuance.
    let bad_path = bytes(&json!({"vct": PID, "claims": [{"path": ["given_name", 0]}]}));
    let tm_bad = resolver_of(&[&bad_path]).resolve(PID, None).unwrap();
    let err = pid_builder(pid_claims())
        .type_metadata(tm_bad)
        .issue(&*iss.signer, &OsRandom)
        .unwrap_err();
    assert_eq!(err.code(), "claim_metadata_violation");
}

#[test]
fn verification_with_required_type_metadata() {
    let iss = issuer();
    let tm = pid_resolver().resolve(PID, None).unwrap();
    let vc = pid_builder(pid_claims())
        .type_metadata(tm)
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    let v = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Required);

    let verified = v.verify(&vc).unwrap();
    assert_eq!(verified.vct.as_str(), PID);
    assert_eq!(verified.binding, IssuerBinding::Static);
    let tm = verified.type_metadata.as_ref().unwrap();
    assert_eq!(tm.vct, PID);
    assert_eq!(tm.name.as_deref(), Some("Example PID"));
    let labels = tm.labels(verified.claims(), &["en"]);
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].0, "/given_name");
    assert_eq!(labels[0].1, "Given name");

    // The wallet's side: every Disclosure known, mandatory claims enforced.
    let received = v.receive(&vc).unwrap();
    assert!(received.verified.type_metadata.is_some());
    // A presentation without the sd-always claim passes.
    let presentation = received
        .credential
        .present(&[])
        .unwrap()
        .without_key_binding();
    let p = v.verify(&presentation).unwrap();
    assert!(!p.claims().contains_key("given_name"));
    assert!(p.type_metadata.is_some());
}

#[test]
fn verification_rejects_credentials_breaking_the_sd_rules() {
    let iss = issuer();
    let v = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Required);
    let claims = json!({
        "given_name": "Erika", "family_name": "Mustermann", "birthdate": "1963-08-12"
    });

    // Positive control: the crafted path works when it follows the rules.
    v.verify(&crafted(&iss, claims.clone(), &["/given_name"]))
        .unwrap();

    // family_name (sd never) made disclosable.
    let bad = crafted(&iss, claims.clone(), &["/given_name", "/family_name"]);
    assert_eq!(code(v.verify(&bad)), "claim_metadata_violation");
    assert_eq!(code(v.receive(&bad)), "claim_metadata_violation");

    // given_name (sd always) in the clear.
    let bad = crafted(&iss, claims.clone(), &[]);
    assert_eq!(code(v.verify(&bad)), "claim_metadata_violation");

    // A mandatory claim missing: the wallet rejects it, a verifier of a presentation cannot
    // tell it from an undisclosed claim.
    let no_birthdate = crafted(
        &iss,
        json!({"given_name": "Erika", "family_name": "Mustermann"}),
        &["/given_name"],
    );
    assert_eq!(code(v.receive(&no_birthdate)), "claim_metadata_violation");
    v.verify(&no_birthdate).unwrap();

    // Without type metadata processing the same credentials pass.
    let ignoring = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Ignore);
    let verified = ignoring
        .verify(&crafted(&iss, claims, &["/given_name", "/family_name"]))
        .unwrap();
    assert!(verified.type_metadata.is_none());
}

#[test]
fn unknown_type_under_required_and_if_available() {
    let iss = issuer();
    let vc = VcBuilder::new(Vct::new("urn:example:unknown:1").unwrap(), pid_claims())
        .issuer(ISS)
        .issued_at(now() - 10)
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    let required = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Required);
    assert_eq!(code(required.verify(&vc)), "type_metadata_unavailable");
    assert_eq!(code(required.receive(&vc)), "type_metadata_unavailable");

    let if_available = verifier(&iss, pid_resolver(), TypeMetadataPolicy::IfAvailable);
    let verified = if_available.verify(&vc).unwrap();
    assert!(verified.type_metadata.is_none());

    // IfAvailable still processes strictly when metadata exists.
    let bad = crafted(
        &iss,
        json!({"given_name": "E", "family_name": "M", "birthdate": "x"}),
        &["/given_name", "/family_name"],
    );
    assert_eq!(code(if_available.verify(&bad)), "claim_metadata_violation");
    // ... and a broken chain is an error, not "unavailable".
    let broken = bytes(&json!({"vct": PID, "extends": PID}));
    let v = verifier(
        &iss,
        resolver_of(&[&broken]),
        TypeMetadataPolicy::IfAvailable,
    );
    let good = crafted(
        &iss,
        json!({"given_name": "E", "family_name": "M", "birthdate": "x"}),
        &["/given_name"],
    );
    assert_eq!(code(v.verify(&good)), "extends_cycle");
}

#[test]
fn vct_integrity_claim_is_checked() {
    let iss = issuer();
    let tm = pid_resolver().resolve(PID, None).unwrap();
    let doc = pid_doc();
    let v = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Required);

    let good = pid_builder(pid_claims())
        .type_metadata(tm.clone())
        .vct_integrity(sri(HashAlg::Sha256, &doc))
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert!(v.verify(&good).unwrap().type_metadata.is_some());

    let mut altered = doc.clone();
    altered.push(b' ');
    let bad = pid_builder(pid_claims())
        .type_metadata(tm.clone())
        .vct_integrity(sri(HashAlg::Sha256, &altered))
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(v.verify(&bad)), "integrity_mismatch");
    assert_eq!(code(v.receive(&bad)), "integrity_mismatch");

    let invalid = pid_builder(pid_claims())
        .type_metadata(tm)
        .vct_integrity("md5-AAAAAAAAAAAAAAAAAAAAAA==")
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert_eq!(code(v.verify(&invalid)), "integrity_invalid");
}

#[test]
fn ignore_policy_reports_no_type_metadata() {
    // A verifier with a resolver and TypeMetadataPolicy::Ignore reports no metadata.
    let iss = issuer();
    let v = verifier(&iss, pid_resolver(), TypeMetadataPolicy::Ignore);
    let vc = pid_builder(pid_claims())
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert!(v.verify(&vc).unwrap().type_metadata.is_none());
}

#[test]
fn ignore_policy_does_not_retrieve_type_metadata() {
    let iss = issuer();
    let src = Arc::new(MapSource::with(&[(PID, pid_doc())]));
    let resolver = TypeMetadataResolver::new().with_source(src.clone());
    let v = verifier(&iss, resolver, TypeMetadataPolicy::Ignore);
    let vc = pid_builder(pid_claims())
        .issue(&*iss.signer, &OsRandom)
        .unwrap()
        .to_string();
    assert!(v.verify(&vc).unwrap().type_metadata.is_none());
    assert_eq!(src.hits.load(Ordering::SeqCst), 0);
}

#[test]
fn vector_12_issued_and_verified_end_to_end() {
    // The draft's education credential (vector 11) issued under vector 12's rules: nested
    // and array-element Disclosures appear where the metadata says "always".
    let iss = issuer();
    let doc = vector12_standalone();
    let resolver = resolver_of(&[&doc]);
    let tm = resolver.resolve(V42, None).unwrap();
    let mut claims = vector_json("11-example-sd-jwt-vc-payload-for-type-metadata.json");
    claims.remove("vct");
    claims.remove("vct#integrity");
    let vc = VcBuilder::new(Vct::new(V42).unwrap(), claims)
        .issuer(ISS)
        .type_metadata(tm)
        .vct_integrity(sri(HashAlg::Sha512, &doc))
        .issue(&*iss.signer, &OsRandom)
        .unwrap();
    // name, address, street_address, 3 degrees, 3 date_awarded.
    assert_eq!(vc.disclosures().len(), 9);
    let v = verifier(&iss, resolver, TypeMetadataPolicy::Required);
    let received = v.receive(&vc.to_string()).unwrap();
    let mut disclosed = received.verified.sd_jwt.disclosed.clone();
    disclosed.sort();
    assert_eq!(
        disclosed,
        [
            "/address",
            "/address/street_address",
            "/degrees/0",
            "/degrees/0/date_awarded",
            "/degrees/1",
            "/degrees/1/date_awarded",
            "/degrees/2",
            "/degrees/2/date_awarded",
            "/name",
        ]
    );
    // A presentation of one degree's field of study only.
    let p = received
        .credential
        .present(&["/degrees/1/field_of_study"])
        .unwrap()
        .without_key_binding();
    let verified = v.verify(&p).unwrap();
    assert_eq!(
        verified.claims()["degrees"],
        json!([{"field_of_study": "Space Navigation"}])
    );
}
