#![no_main]
//! A y-websocket frame from a browser or another Yjs client (what `/api/yjs/{doc}` reads):
//! every message the y-sync reader yields is decoded or refused, never a panic.
use libfuzzer_sys::fuzz_target;
use vivim_crdt::yrs::{
    sync::{Message, MessageReader},
    updates::decoder::{Decode, DecoderV1},
};

fuzz_target!(|data: &[u8]| {
    let mut decoder = DecoderV1::from(data);
    let reader = MessageReader::new(&mut decoder);
    for (n, m) in reader.enumerate() {
        if n > 1000 {
            break;
        }
        match m {
            Ok(Message::Sync(_)) | Ok(Message::Awareness(_)) | Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = Message::decode_v1(data);
});
