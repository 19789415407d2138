#![no_main]
//! A request or answer on `/vivim/doc/1.0.0` from a peer: decoded or refused, never a panic,
//! and a decoded request encodes back.
use libfuzzer_sys::fuzz_target;
use vivim_node::net::wire::{DocAnswer, DocRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ciborium::from_reader::<DocRequest, _>(data) {
        let again = r.encode();
        assert!(ciborium::from_reader::<DocRequest, _>(again.as_slice()).is_ok());
    }
    let _ = ciborium::from_reader::<DocAnswer, _>(data);
    // The large-update hint: (doc id, number).
    if let Ok((doc, _seq)) = ciborium::from_reader::<(String, u64), _>(data) {
        let _ = doc.parse::<vivim_crdt::DocId>();
    }
});
