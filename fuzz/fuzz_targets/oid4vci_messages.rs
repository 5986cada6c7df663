//! OpenID4VCI messages from the input, on both sides: offer links and offer objects, issuer
//! and authorization server metadata, DPoP proofs, token / credential / nonce responses fed
//! to a wallet flow, requests (token, PAR, credential, authorize) handed to an issuer, and
//! key proof JWTs in a credential request with a valid token, DPoP proof and `c_nonce`, so
//! that the proof checks themselves are reached.
//! Never a panic; no token or credential is ever granted to input the fuzzer can make
//! (it cannot sign proofs for a code it does not know).
#![no_main]
use std::sync::{Arc, OnceLock};

use credkit::http::{HttpResponse, Method};
use credkit::oauth::dpop::{self, DpopPolicy, DpopProver, DpopRequest, NonceRule};
use credkit::oauth::store::MemoryStateStore;
use credkit::openid4vci::issuer::{Issuer, IssuerConfig, IssuerRequest, SdJwtVcConfiguration};
use credkit::openid4vci::wallet::{Env, Issuance, IssuanceOptions};
use credkit::openid4vci::{AuthServerMetadata, CredentialOffer, IssuerMetadata, parse_offer_uri};
use credkit::rand::OsRandom;
use credkit::time::FixedClock;
use credkit::wallet::{KeyManager, SoftwareKeyManager};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_750_000_000;
const ISSUER: &str = "https://issuer.example";
const OFFER: &str = "openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22https%3A%2F%2Fissuer.example%22%2C%22credential_configuration_ids%22%3A%5B%22pid%22%5D%2C%22grants%22%3A%7B%22urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code%22%3A%7B%22pre-authorized_code%22%3A%22c%22%7D%7D%7D";

struct Setup {
    issuer: Issuer,
    keys: Arc<dyn KeyManager>,
    prover: DpopProver,
    token: String,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let p = credkit::crypto::default_provider();
        let key = p
            .generate(credkit::jose::Algorithm::Es256, &OsRandom)
            .expect("key");
        let signer = p.signer(&key).expect("signer");
        let vct = credkit::sd_jwt_vc::Vct::new("urn:eudi:pid:1").expect("vct");
        let config = IssuerConfig::new(
            ISSUER,
            signer,
            vec![SdJwtVcConfiguration::new("pid", vct, "pid")],
        )
        .expect("config");
        let issuer = Issuer::new(
            config,
            Arc::new(MemoryStateStore::new()),
            Arc::new(FixedClock(NOW)),
            Arc::new(OsRandom),
        );
        // A token for the proof selector: redeem one offer with a DPoP proof.
        let prover = DpopProver::new(
            p.signer(
                &p.generate(credkit::jose::Algorithm::Es256, &OsRandom)
                    .expect("key"),
            )
            .expect("signer"),
        );
        let offer = issuer
            .create_offer(&credkit::openid4vci::issuer::OfferRequest::new(
                vec!["pid".into()],
                serde_json::Map::new(),
                credkit::openid4vci::issuer::OfferGrant::PreAuthorized {
                    tx_code_digits: None,
                    tx_code_description: None,
                },
            ))
            .expect("offer");
        let code = offer.offer.pre_authorized.expect("grant").code;
        let form = credkit::oauth::form_encode(&[
            ("grant_type", credkit::openid4vci::GRANT_PRE_AUTHORIZED),
            ("pre-authorized_code", code.expose()),
        ]);
        let proof = prover
            .proof(
                Method::Post,
                "https://issuer.example/token",
                None,
                None,
                NOW,
                &OsRandom,
            )
            .expect("proof");
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("DPoP".to_owned(), proof),
        ];
        let r = issuer.handle(&IssuerRequest::new(
            Method::Post,
            "/token",
            "",
            &headers,
            form.as_bytes(),
        ));
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("token response");
        let token = v["access_token"].as_str().expect("access token").to_owned();
        Setup {
            issuer,
            keys: Arc::new(SoftwareKeyManager::new(Arc::new(OsRandom))),
            prover,
            token,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let s = setup();
    match selector % 9 {
        8 => {
            // The input is the key proof of a credential request that passes every other
            // check (a valid token, a fresh DPoP proof each time).
            let url = "https://issuer.example/credential";
            let Ok(dpop) = s
                .prover
                .proof(Method::Post, url, Some(&s.token), None, NOW, &OsRandom)
            else {
                return;
            };
            let body = serde_json::json!({"credential_configuration_id": "pid", "proofs": {"jwt": [text]}});
            let headers = vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("Authorization".to_owned(), format!("DPoP {}", s.token)),
                ("DPoP".to_owned(), dpop),
            ];
            let r = s.issuer.handle(&IssuerRequest::new(
                Method::Post,
                "/credential",
                "",
                &headers,
                body.to_string().as_bytes(),
            ));
            // The fuzzer cannot sign for a key it names, so nothing is ever issued.
            assert_ne!(r.status, 200, "a credential was issued to a fuzzed proof");
        }
        0 => {
            let _ = parse_offer_uri(&text);
        }
        1 => {
            let _ = CredentialOffer::from_json(rest);
        }
        2 => {
            if let Ok(md) = IssuerMetadata::from_json(rest, ISSUER) {
                for id in md
                    .configuration_ids()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                {
                    let _ = md.configuration(&id);
                }
                let _ = md.authorization_server(None);
            }
            let _ = AuthServerMetadata::from_json(rest, ISSUER);
        }
        3 => {
            let store = MemoryStateStore::new();
            let ok = |n: &str| n == "nonce";
            let req = DpopRequest::new(Method::Post, "https://issuer.example/token")
                .access_token("token")
                .nonce(NonceRule::Required(&ok));
            let _ = dpop::verify(
                &[&text],
                &req,
                &DpopPolicy::default(),
                NOW,
                credkit::crypto::default_provider(),
                &store,
            );
            let _ = dpop::normalize_htu(&text);
        }
        4 | 5 => {
            // A wallet flow at each step, answered with the input.
            let Ok(mut flow) = Issuance::from_offer_uri(OFFER, IssuanceOptions::default()) else {
                return;
            };
            let clock = FixedClock(NOW);
            let env = Env::new(&s.keys, None, &clock, &OsRandom);
            let content = if selector % 2 == 0 {
                "application/json"
            } else {
                "text/plain"
            };
            for status in [200u16, 200, 400, 200, 202, 401] {
                let Ok(credkit::openid4vci::wallet::Action::Send(req)) = flow.next(&env) else {
                    break;
                };
                let resp = HttpResponse::new(status, rest.to_vec()).with_content_type(content);
                if flow.receive(&req, resp, &env).is_err() {
                    break;
                }
            }
            flow.abandon(&env, &[]);
        }
        _ => {
            let paths = [
                "/token",
                "/par",
                "/credential",
                "/notification",
                "/nonce",
                "/authorize",
                "/deferred",
            ];
            let path = paths[usize::from(selector / 8) % paths.len()];
            let ct = if selector & 0x40 == 0 {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            let headers = vec![
                ("Content-Type".to_owned(), ct.to_owned()),
                (
                    "DPoP".to_owned(),
                    text.chars().take(200).collect::<String>(),
                ),
                (
                    "Authorization".to_owned(),
                    format!("DPoP {}", text.chars().take(64).collect::<String>()),
                ),
            ];
            let method = if path == "/authorize" {
                Method::Get
            } else {
                Method::Post
            };
            let query = if path == "/authorize" {
                text.as_ref()
            } else {
                ""
            };
            let r = s
                .issuer
                .handle(&IssuerRequest::new(method, path, query, &headers, rest));
            assert!(
                r.status != 200 || path == "/nonce",
                "{path} granted to fuzz input"
            );
        }
    }
});
