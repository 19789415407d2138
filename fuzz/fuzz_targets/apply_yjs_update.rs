#![no_main]
//! Arbitrary bytes as a Yjs update (what a y-websocket client or a writer may send): an error or
//! an applied update, never a panic that escapes, and the views still read.
use libfuzzer_sys::fuzz_target;
use vivim_crdt::{DocId, DocKind, Replica, schema::CircleView};
use vivim_identity::Keypair;

fuzz_target!(|data: &[u8]| {
    let owner = Keypair::from_seed(&[1; 32]).did();
    let r = Replica::new(DocId::random(DocKind::Circle, &owner, 1));
    let _ = r.apply(data);
    let _ = CircleView::read(&r);
    let _ = r.diff(data);
});
