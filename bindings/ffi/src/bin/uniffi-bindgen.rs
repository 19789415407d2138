//! `uniffi-bindgen`: writes the Python, Kotlin and Swift sources of the built `vivim_ffi` library.
fn main() {
    uniffi::uniffi_bindgen_main()
}
