//! JWE compact parsing and ECDH-ES / AES-GCM decryption with a fixed P-256 recipient key:
//! never a panic; whatever decrypts was a five-part ECDH-ES JWE with an allowed `enc` and no
//! `zip`; and any input used as a plaintext round-trips through encrypt and decrypt.
#![no_main]
use credkit::jose::PrivateJwk;
use credkit::jose::jwe::{ContentEncryption, Decrypter, EncryptOptions, encrypt};
use libfuzzer_sys::fuzz_target;

const KEY: &str = r#"{"kty":"EC","kid":"ac","crv":"P-256","x":"YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk","y":"Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk","d":"Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"}"#;

fuzz_target!(|data: &[u8]| {
    let key = PrivateJwk::parse(KEY).expect("the fixed key parses");
    let decrypter = Decrypter::new(vec![key.clone()]);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(out) = decrypter.decrypt_compact(text)
    {
        assert_eq!(text.split('.').count(), 5);
        assert_eq!(out.header["alg"], "ECDH-ES");
        assert!(out.header.get("zip").is_none());
        assert!(ContentEncryption::from_name(out.header["enc"].as_str().unwrap_or("")).is_some());
    }
    let enc = if data.first().is_some_and(|b| b & 1 == 1) {
        ContentEncryption::A256Gcm
    } else {
        ContentEncryption::A128Gcm
    };
    let options = EncryptOptions::default().kid("ac");
    let provider = credkit::crypto::default_provider();
    let jwe = encrypt(key.public(), enc, &options, data, provider, &credkit::rand::OsRandom)
        .expect("encryption to a valid key succeeds");
    let back = decrypter.decrypt_compact(&jwe).expect("our own JWE decrypts");
    assert_eq!(back.plaintext.as_slice(), data);
});
