//! OpenID4VP messages from the input: an Authorization Request URL (wallet), a request
//! object fetched from a request_uri (wallet), and a response posted to the response_uri
//! (verifier, with one pending transaction). Never a panic; a request object is accepted only
//! when its signature verifies under the fixed chain (which the fuzzer cannot forge), and a
//! response never verifies a transaction.
#![no_main]
use std::sync::{Arc, OnceLock};

use credkit::http::HttpResponse;
use credkit::openid4vp::ClientIdPrefix;
use credkit::openid4vp::verifier::{
    MemoryTransactionStore, PresentationRequest, TransactionStatus, Verifier,
};
use credkit::openid4vp::wallet::{RequestFetch, Start, WalletPolicy};
use credkit::time::FixedClock;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const VECTORS: &str =
    include_str!("../../test-vectors/openid4vp/x509-signed-request-objects.json");
const NOW: i64 = 1_798_761_700;

struct Setup {
    policy: WalletPolicy,
    fetch: RequestFetch,
    verifier: Verifier,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let v: Value = serde_json::from_str(VECTORS).expect("vectors");
        let der = |c: &Value| {
            credkit::b64::decode_std(c["certificate_der_b64"].as_str().expect("der"), "der")
                .expect("der")
        };
        let mut anchors = credkit::x509::TrustAnchors::new();
        anchors.add_der(&der(&v["trust_anchor"])).expect("anchor");
        let policy = WalletPolicy::new(anchors).clock(Arc::new(FixedClock(NOW)));
        let uri = "openid4vp://?client_id=x509_hash%3AyNyfgrdgdhcn_efGbj4GZpUQjW9sAKokXb6V8VqqAwc&request_uri=https%3A%2F%2Fverifier.example.org%2Fr";
        let Ok(Start::Fetch(fetch)) = policy.start(uri) else {
            panic!("by reference")
        };
        let key = credkit::jose::PrivateJwk::from_json(
            v["verifier_leaf"]["private_jwk"].as_object().expect("key"),
        )
        .expect("key");
        let signer = credkit::crypto::default_provider().signer(&key).expect("signer");
        let verifier = Verifier::new(
            ClientIdPrefix::X509Hash,
            signer,
            vec![der(&v["verifier_leaf"])],
            None,
            "https://verifier.example.org/response",
            "https://verifier.example.org/request",
            Arc::new(credkit::sd_jwt_vc::TrustPolicy::new()),
            Arc::new(MemoryTransactionStore::new()),
            Arc::new(credkit::rand::OsRandom),
        )
        .expect("verifier")
        .clock(Arc::new(FixedClock(NOW)));
        Setup { policy, fetch, verifier }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = s.policy.start(text);
        }
        1 => {
            let response = HttpResponse::new(200, rest.to_vec());
            let r = s.policy.finish(&s.fetch, &response, None);
            assert!(r.is_err(), "an unsigned or forged request object was accepted");
        }
        _ => {
            let query = credkit::dcql::DcqlQueryBuilder::new()
                .credential(credkit::dcql::CredentialQueryBuilder::sd_jwt_vc(
                    "pid",
                    &["urn:eudi:pid:1"],
                ))
                .build()
                .expect("query");
            let created = s
                .verifier
                .create(&PresentationRequest::new(query))
                .expect("transaction");
            // Posted with the real state or kid spliced in where the input says so.
            let body = text
                .replace("STATE", &created.transaction.state)
                .replace("KID", &created.transaction.id);
            if let Ok(handled) = s
                .verifier
                .handle_response(Some("application/x-www-form-urlencoded"), body.as_bytes())
            {
                assert_ne!(handled.status, TransactionStatus::Verified);
            }
        }
    }
});
