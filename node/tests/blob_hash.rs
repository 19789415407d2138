//! The protocol's record ids are the hashes iroh-blobs gives the same bytes, so peers can fetch
//! any ACU by its id with iroh-blobs and the transfer verifies it.
#![allow(clippy::unwrap_used)]

use iroh_blobs::store::mem::MemStore;
use vivim_identity::Keypair;
use vivim_protocol::{Acu, Body, ConvId, Kind, Manifest, Role, Signed, hash_seq_bytes};

#[tokio::test]
async fn acu_id_equals_iroh_blobs_hash() {
    let kp = Keypair::from_seed(&[42; 32]);
    let conv = ConvId::for_import(&kp.public(), "chatgpt", "x");
    let store = MemStore::new();
    let mut ids = Vec::new();
    for (i, text) in ["hello", "a much longer message ".repeat(2000).as_str(), ""]
        .into_iter()
        .enumerate()
    {
        let acu = Acu::new(
            conv,
            ids.last().copied(),
            kp.public(),
            Role::User,
            Kind::Text,
            Body::text(text),
            i as u64,
        );
        let signed = Signed::sign(acu, &kp).unwrap();
        let tag = store.add_slice(signed.bytes()).await.unwrap();
        assert_eq!(tag.hash.as_bytes(), signed.id().as_bytes());
        let back = store.get_bytes(tag.hash).await.unwrap();
        assert_eq!(Signed::<Acu>::decode(&back).unwrap().id(), signed.id());
        ids.push(signed.id());
    }

    // A conversation's hash sequence [manifest, acu_1 … acu_n] is an iroh-blobs HashSeq.
    let manifest = Manifest {
        v: 1,
        id: conv,
        provider: "chatgpt".into(),
        source_id: Some("x".into()),
        source_url: None,
        title: "t".into(),
        created_at_ms: 0,
        updated_at_ms: 0,
        owner: kp.public(),
        model: None,
        message_count: 3,
        total_tokens: 0,
        head: ids.last().copied(),
        forked_from: None,
        sig: None,
    };
    let m = Signed::sign(manifest, &kp).unwrap();
    store.add_slice(m.bytes()).await.unwrap();
    let seq = hash_seq_bytes(std::iter::once(m.id()).chain(ids.iter().copied()));
    let seq_tag = store
        .add_bytes_with_opts((seq.clone(), iroh_blobs::BlobFormat::HashSeq))
        .await
        .unwrap();
    assert_eq!(seq_tag.hash.as_bytes(), blake3::hash(&seq).as_bytes());
    let parsed = iroh_blobs::hashseq::HashSeq::try_from(bytes::Bytes::from(seq)).unwrap();
    let children: Vec<[u8; 32]> = parsed.iter().map(|h| *h.as_bytes()).collect();
    assert_eq!(children[0], m.id().0);
    assert_eq!(&children[1..], ids.iter().map(|h| h.0).collect::<Vec<_>>());
}
