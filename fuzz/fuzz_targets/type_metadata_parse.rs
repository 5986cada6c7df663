//! Type Metadata parsing and SRI integrity checks.
#![no_main]
use credkit::sd_jwt_vc::type_metadata::{TypeMetadata, check_integrity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TypeMetadata::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_integrity(text, b"document", "fuzz");
    }
});
