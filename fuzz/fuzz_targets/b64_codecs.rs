//! The two base64url codecs (table-driven for public text, constant-time for secrets) and the
//! standard-alphabet one: same verdict and bytes on any input, exact round trips, and the
//! standard decoder agrees with base64ct's.
#![no_main]
use base64ct::Encoding as _;
use credkit::b64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let encoded = b64::encode(data);
    assert_eq!(encoded, b64::encode_secret(data));
    assert_eq!(b64::decode(&encoded, "fuzz").ok().as_deref(), Some(data));
    assert_eq!(b64::decode_std(&b64::encode_std(data), "fuzz").ok().as_deref(), Some(data));
    if let Ok(text) = std::str::from_utf8(data) {
        let fast = b64::decode(text, "fuzz").ok();
        let ct = b64::decode_secret(text, "fuzz").ok().map(|v| v.to_vec());
        assert_eq!(fast, ct, "the base64url codecs disagree");
        let std_fast = b64::decode_std(text, "fuzz").ok();
        let std_ct = base64ct::Base64::decode_vec(text).ok();
        assert_eq!(std_fast, std_ct, "the standard decoders disagree");
    }
});
