#![no_main]
//! A y-websocket frame from a browser or another Yjs client (what `/api/yjs/{doc}` reads
//! through `vivim_crdt::sync_messages`): its messages or an error, never a panic. (yrs' own
//! reader panics on some state vectors: this target found it.)
use libfuzzer_sys::fuzz_target;
use vivim_crdt::{DocId, DocKind, Replica, sync_messages, yrs::sync::{Message, SyncMessage}};
use vivim_identity::Keypair;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic, even one `sync_messages` catches; with the hook
    // replaced only a panic that escapes (libfuzzer-sys catches and aborts on it) is a crash.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Ok(msgs) = sync_messages(data) {
        let owner = Keypair::from_seed(&[1; 32]).did();
        let r = Replica::new(DocId::random(DocKind::Circle, &owner, 1));
        for m in msgs {
            if let Message::Sync(SyncMessage::SyncStep1(sv)) = m {
                use vivim_crdt::yrs::updates::encoder::Encode;
                let _ = r.diff(&sv.encode_v1());
            }
        }
    }
});
