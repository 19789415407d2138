#![no_main]
//! Sealed blobs, record bundles and share links from anyone: errors, never panics; a bundle
//! that reads re-packs to records that read the same.
use libfuzzer_sys::fuzz_target;
use vivim_protocol::{ContentKey, ShareLink, pack_records, unpack_records};

fuzz_target!(|data: &[u8]| {
    let _ = ContentKey::from_bytes([7; 32]).open_blob(data);
    if let Ok(records) = unpack_records(data) {
        for b in pack_records(&records) {
            assert!(unpack_records(&b).is_ok());
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(link) = s.parse::<ShareLink>() {
            let again: ShareLink = link.to_string().parse().expect("a link re-parses");
            assert_eq!(again.payload, link.payload);
        }
    }
});
