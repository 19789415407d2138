#![no_main]
//! Decoding arbitrary bytes as a signed Memory returns an error or a verified value, never panics.
use libfuzzer_sys::fuzz_target;
use vivim_protocol::{Memory, Signed};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = Signed::<Memory>::decode(data) {
        // Whatever decodes re-decodes to the same id from its own bytes.
        let again = Signed::<Memory>::decode(v.bytes()).expect("re-decode");
        assert_eq!(again.id(), v.id());
    }
});
