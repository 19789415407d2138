//! Create an identity, sign an ACU, verify it as a peer would, and seal it for a friend.
//!
//! `cargo run -p vivim-examples --example sign_and_verify`

use vivim_identity::Keypair;
use vivim_protocol::{Acu, Body, ConvId, Kind, Role, Signed, open_grant, seal_for};

fn main() -> anyhow::Result<()> {
    let me = Keypair::generate();
    let friend = Keypair::generate();
    println!("me:     {}", me.did());
    println!("friend: {}", friend.did());

    let conv = ConvId::random();
    let acu = Acu::new(
        conv,
        None,
        me.public(),
        Role::User,
        Kind::Text,
        Body::text("What is a CRDT?"),
        1_700_000_000_000,
    );
    let signed = Signed::sign(acu, &me)?;
    println!("ACU {} ({} bytes)", signed.id(), signed.bytes().len());

    let received = Signed::<Acu>::decode(signed.bytes())?;
    println!(
        "verified: author {} said {:?}",
        received.value().author,
        received.value().body.as_text()
    );

    let (sealed, grants) = seal_for(signed.bytes(), &[friend.public()])?;
    let key = open_grant(&grants[0], &friend)?;
    let opened = key.open(&sealed)?;
    assert_eq!(opened, signed.bytes());
    println!(
        "sealed for friend: {} bytes of ciphertext, opened OK",
        sealed.ciphertext.len()
    );
    Ok(())
}
