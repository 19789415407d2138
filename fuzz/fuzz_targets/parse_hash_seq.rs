#![no_main]
//! Hash sequence parsing never panics and round-trips what it accepts.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = vivim_protocol::parse_hash_seq(data) {
        assert_eq!(vivim_protocol::hash_seq_bytes(items), data);
    }
});
