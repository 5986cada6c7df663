//! x5c parsing and chain validation against a fixed (empty-chain) anchor set: certificate
//! DER of any shape must be refused with a typed error.
#![no_main]
use credkit::x509::{ChainPolicy, TrustAnchors, leaf_info, validate_chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Split the input into up to 3 "certificates".
    let parts: Vec<Vec<u8>> = data.splitn(3, |b| *b == 0xff).map(<[u8]>::to_vec).collect();
    let mut anchors = TrustAnchors::new();
    if let Some(first) = parts.last() {
        let _ = anchors.add_der(first);
    }
    let _ = validate_chain(&parts, &anchors, 1_700_000_000, &ChainPolicy::default(), credkit::crypto::default_provider());
    if let Some(p) = parts.first() {
        let _ = leaf_info(p);
    }
    if let Ok(v) = credkit::json::parse(data, 4, "fuzz") {
        let _ = credkit::x509::parse_x5c(&v);
    }
});
