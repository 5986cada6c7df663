//! The UniFFI bindings generator, pinned to the UniFFI version the library is built with.
//! Run through `bindings/generate`.

fn main() {
    uniffi::uniffi_bindgen_main();
}
