//! Wire format properties: round trips, canonical ids, and every rejection of bad input.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use vivim_identity::Keypair;
use vivim_protocol::{
    Acu, Audience, Body, Consolidation, ContentType, ConvId, DecodeError, EncodeError, Envelope,
    Hash, IntentKind, IntentStatus, Kind, Manifest, Memory, MemoryType, Record, Role,
    SharingIntent, Signed, limits, parse_hash_seq, seal_for,
};

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32])
}

fn acu(kp: &Keypair, text: &str) -> Acu {
    let conv = ConvId::for_import(&kp.public(), "chatgpt", "c1");
    let mut a = Acu::new(
        conv,
        Some(Hash::of(b"parent")),
        kp.public(),
        Role::Assistant,
        Kind::Code,
        Body::text(text),
        1_700_000_000_123,
    );
    a.lang = Some("rust".into());
    a.provider_meta.insert("message_id".into(), "m-1".into());
    a
}

fn manifest(kp: &Keypair) -> Manifest {
    Manifest {
        v: 1,
        id: ConvId::for_import(&kp.public(), "claude", "x"),
        provider: "claude".into(),
        source_id: Some("x".into()),
        source_url: None,
        title: "Title ✓".into(),
        created_at_ms: 1,
        updated_at_ms: 2,
        owner: kp.public(),
        model: Some("claude-3".into()),
        message_count: 4,
        total_tokens: 99,
        head: Some(Hash::of(b"h")),
        forked_from: None,
        sig: None,
    }
}

fn memory(kp: &Keypair) -> Memory {
    Memory {
        v: 1,
        id: Hash::of(b"mem"),
        owner: kp.public(),
        content: "prefers tabs".into(),
        memory_type: MemoryType::Semantic,
        importance: 0.75,
        embedding: None,
        consolidation: Consolidation::Active,
        valid_from_ms: 10,
        valid_to_ms: None,
        provenance: vec![Hash::of(b"a"), Hash::of(b"b")],
        sig: None,
    }
}

fn intent(kp: &Keypair) -> SharingIntent {
    let (_, grants) = seal_for(b"x", &[key(2).public(), key(3).public()]).unwrap();
    SharingIntent {
        v: 1,
        id: Hash::of(b"intent"),
        actor: kp.public(),
        intent: IntentKind::Share,
        content_type: ContentType::Conversation,
        content: Hash::of(b"conv"),
        payload: Some(Hash::of(b"seq")),
        audience: Audience::Users(vec![key(2).public(), key(3).public()]),
        status: IntentStatus::Active,
        created_at_ms: 5,
        revision: 0,
        updated_at_ms: 5,
        expires_at_ms: Some(6),
        grants,
        sig: None,
    }
}

fn envelope(kp: &Keypair) -> Envelope {
    Envelope {
        v: 1,
        topic: "vivim/doc/1/abc".into(),
        kind: "doc-update".into(),
        payload: vec![1, 2, 3],
        from: kp.public(),
        seq: 7,
        sent_at_ms: 1000,
        sig: None,
    }
}

fn round_trip<T: Record + PartialEq + std::fmt::Debug + Clone>(value: T, kp: &Keypair) {
    let signed = Signed::sign(value.clone(), kp).unwrap();
    let back = Signed::<T>::decode(signed.bytes()).unwrap();
    assert_eq!(back.value(), signed.value());
    assert_eq!(back.id(), Hash::of(signed.bytes()));
    // Signing is deterministic: the same value gives the same bytes and id.
    let again = Signed::sign(value, kp).unwrap();
    assert_eq!(again.bytes(), signed.bytes());
    // The signed bytes are exactly ciborium's encoding of the signed value.
    let mut direct = Vec::new();
    ciborium::into_writer(signed.value(), &mut direct).unwrap();
    assert_eq!(direct, signed.bytes());
}

#[test]
fn every_type_round_trips() {
    let kp = key(1);
    round_trip(acu(&kp, "fn main() {}"), &kp);
    round_trip(manifest(&kp), &kp);
    round_trip(memory(&kp), &kp);
    round_trip(intent(&kp), &kp);
    round_trip(envelope(&kp), &kp);
}

#[test]
fn sealed_body_round_trips_inside_an_acu() {
    let kp = key(1);
    let (sealed, grants) = seal_for(b"private words", &[key(2).public()]).unwrap();
    let mut a = acu(&kp, "");
    a.body = Body::Sealed(sealed);
    let signed = Signed::sign(a, &kp).unwrap();
    assert!(!signed.bytes().windows(7).any(|w| w == b"private"));
    let back = Signed::<Acu>::decode(signed.bytes()).unwrap();
    let Body::Sealed(body) = &back.value().body else {
        panic!("body should be sealed")
    };
    let k = vivim_protocol::open_grant(&grants[0], &key(2)).unwrap();
    assert_eq!(k.open(body).unwrap(), b"private words");
}

#[test]
fn identical_content_dedups_and_different_content_does_not() {
    let kp = key(1);
    let a = Signed::sign(acu(&kp, "same"), &kp).unwrap();
    let b = Signed::sign(acu(&kp, "same"), &kp).unwrap();
    let c = Signed::sign(acu(&kp, "other"), &kp).unwrap();
    assert_eq!(a.id(), b.id());
    assert_ne!(a.id(), c.id());
}

#[test]
fn wrong_signer_is_refused() {
    let err = Signed::sign(acu(&key(1), "x"), &key(2)).unwrap_err();
    assert!(matches!(err, EncodeError::WrongSigner { .. }));
}

#[test]
fn bad_signature_is_rejected() {
    let kp = key(1);
    let signed = Signed::sign(acu(&kp, "hello world"), &kp).unwrap();
    let mut bytes = signed.bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(
        Signed::<Acu>::decode(&bytes),
        Err(DecodeError::BadSignature { .. })
    ));
    // Change the content (same length): "hello world" -> "jello world".
    let mut bytes = signed.bytes().to_vec();
    let pos = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bytes[pos] = b'j';
    assert!(matches!(
        Signed::<Acu>::decode(&bytes),
        Err(DecodeError::BadSignature { .. })
    ));
    // Claim another author with the original signature.
    let mut forged = acu(&kp, "hello world");
    forged.author = key(3).public();
    forged.sig = signed.value().sig;
    let mut bytes = Vec::new();
    ciborium::into_writer(&forged, &mut bytes).unwrap();
    assert!(matches!(
        Signed::<Acu>::decode(&bytes),
        Err(DecodeError::BadSignature { .. })
    ));
}

#[test]
fn unsigned_record_is_rejected() {
    let kp = key(1);
    let mut bytes = Vec::new();
    ciborium::into_writer(&acu(&kp, "x"), &mut bytes).unwrap();
    assert_eq!(
        Signed::<Acu>::decode(&bytes).unwrap_err(),
        DecodeError::Unsigned { kind: "ACU" }
    );
}

#[test]
fn unknown_version_is_a_clear_error() {
    let kp = key(1);
    let signed = Signed::sign(acu(&kp, "x"), &kp).unwrap();
    let mut bytes = signed.bytes().to_vec();
    assert_eq!(&bytes[1..4], &[0x61, b'v', 1]);
    bytes[3] = 2;
    let err = Signed::<Acu>::decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedVersion {
            kind: "ACU",
            found: 2,
            supported: 1
        }
    );
    assert!(err.to_string().contains("upgrade"));
    // Signing a value with the wrong version is refused too.
    let mut a = acu(&kp, "x");
    a.v = 9;
    assert!(matches!(
        Signed::sign(a, &kp),
        Err(EncodeError::Invalid { .. })
    ));
}

#[test]
fn truncated_and_trailing_bytes_are_rejected() {
    let kp = key(1);
    let signed = Signed::sign(acu(&kp, "some text"), &kp).unwrap();
    let bytes = signed.bytes();
    for cut in [4, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            Signed::<Acu>::decode(&bytes[..cut]),
            Err(DecodeError::Malformed { .. })
        ));
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        Signed::<Acu>::decode(&longer).unwrap_err(),
        DecodeError::NonCanonical { kind: "ACU" }
    );
    assert_eq!(
        Signed::<Acu>::decode(&[]).unwrap_err(),
        DecodeError::NotARecord { kind: "ACU" }
    );
    assert_eq!(
        Signed::<Acu>::decode(b"hello").unwrap_err(),
        DecodeError::NotARecord { kind: "ACU" }
    );
}

#[test]
fn a_longer_encoding_of_the_same_value_is_not_canonical() {
    let kp = key(1);
    let signed = Signed::sign(acu(&kp, "some text"), &kp).unwrap();
    let bytes = signed.bytes();
    // The body's header, minimal (major type | 9), rewritten with a two-byte length: the same
    // value, other bytes, so another id — refused.
    let at = bytes.windows(9).position(|w| w == b"some text").unwrap() - 1;
    let major = bytes[at] & 0xe0;
    assert_eq!(bytes[at] & 0x1f, 9);
    let mut longer = bytes[..at].to_vec();
    longer.extend_from_slice(&[major | 0x19, 0x00, 0x09]);
    longer.extend_from_slice(&bytes[at + 1..]);
    assert_eq!(
        Signed::<Acu>::decode(&longer).unwrap_err(),
        DecodeError::NonCanonical { kind: "ACU" }
    );
    // A flipped byte inside the body: canonical, but the signature no longer covers it.
    let mut flipped = bytes.to_vec();
    flipped[at + 1] ^= 0x01;
    assert!(matches!(
        Signed::<Acu>::decode(&flipped).unwrap_err(),
        DecodeError::BadSignature { .. }
    ));
    // Owned bytes decode to the same record.
    assert_eq!(Signed::<Acu>::decode_vec(bytes.to_vec()).unwrap(), signed);
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    let big = vec![0u8; limits::MAX_ACU_BYTES + 1];
    assert!(matches!(
        Signed::<Acu>::decode(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    let big = vec![0u8; limits::MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        Signed::<Envelope>::decode(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    // A value too large to sign within its limit.
    let kp = key(1);
    let mut e = envelope(&kp);
    e.payload = vec![7; limits::MAX_ENVELOPE_BYTES];
    assert!(matches!(
        Signed::sign(e, &kp),
        Err(EncodeError::TooLarge { .. })
    ));
    // A CBOR byte string that claims 4 GiB inside a small input fails without allocating it.
    let mut lie = Signed::sign(acu(&kp, "x"), &kp).unwrap().bytes().to_vec();
    lie.truncate(20);
    lie.extend_from_slice(&[0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert!(Signed::<Acu>::decode(&lie).is_err());
}

#[test]
fn rule_violations_are_rejected() {
    let kp = key(1);
    let mut m = memory(&kp);
    m.importance = 1.5;
    assert!(matches!(
        Signed::sign(m, &kp),
        Err(EncodeError::Invalid { .. })
    ));
    let mut m = memory(&kp);
    m.importance = f32::NAN;
    assert!(matches!(
        Signed::sign(m, &kp),
        Err(EncodeError::Invalid { .. })
    ));
    let mut a = acu(&kp, "x");
    a.provider_meta = (0..=limits::MAX_META_ENTRIES)
        .map(|i| (i.to_string(), String::new()))
        .collect::<BTreeMap<_, _>>();
    assert!(matches!(
        Signed::sign(a, &kp),
        Err(EncodeError::Invalid { .. })
    ));
}

#[test]
fn hash_seq_limits() {
    assert!(parse_hash_seq(&[0u8; 33]).is_err());
    assert_eq!(parse_hash_seq(&[0u8; 64]).unwrap().len(), 2);
    assert!(matches!(
        parse_hash_seq(&vec![0u8; (limits::MAX_SEQ_ITEMS + 1) * 32]),
        Err(DecodeError::TooLarge { .. })
    ));
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::System),
        Just(Role::Tool)
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Text),
        Just(Kind::Code),
        Just(Kind::Markdown),
        Just(Kind::Thinking),
        Just(Kind::ToolCall),
        Just(Kind::Other)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn acu_round_trips(
        seed in any::<[u8; 32]>(),
        text in ".{0,300}",
        parent in proptest::option::of(any::<[u8; 32]>()),
        role in role(),
        kind in kind(),
        lang in proptest::option::of("[a-z]{1,10}"),
        t in any::<u64>(),
        meta in proptest::collection::btree_map("[a-z_]{1,12}", ".{0,20}", 0..5),
    ) {
        let kp = Keypair::from_seed(&seed);
        let mut a = Acu::new(ConvId(Hash(seed)), parent.map(Hash), kp.public(), role, kind, Body::text(text), t);
        a.lang = lang;
        a.provider_meta = meta;
        let signed = Signed::sign(a, &kp).unwrap();
        let back = Signed::<Acu>::decode(signed.bytes()).unwrap();
        prop_assert_eq!(back.value(), signed.value());
        prop_assert_eq!(back.id(), signed.id());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Signed::<Acu>::decode(&bytes);
        let _ = Signed::<Manifest>::decode(&bytes);
        let _ = Signed::<Memory>::decode(&bytes);
        let _ = Signed::<SharingIntent>::decode(&bytes);
        let _ = Signed::<Envelope>::decode(&bytes);
        let _ = parse_hash_seq(&bytes);
    }

    #[test]
    fn mutated_records_never_verify(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let kp = key(1);
        let signed = Signed::sign(acu(&kp, "stable content for mutation"), &kp).unwrap();
        let mut bytes = signed.bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // Any single bit flip is an error, never a different valid ACU.
        prop_assert!(Signed::<Acu>::decode(&bytes).is_err());
    }

    #[test]
    fn records_with_valid_prefix_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Start like a v1 record so that the parser gets past the version check.
        let mut bytes = vec![0xad, 0x61, b'v', 0x01];
        bytes.extend(tail);
        let _ = Signed::<Acu>::decode(&bytes);
        let _ = Signed::<Envelope>::decode(&bytes);
    }
}

#[test]
fn peer_records_and_announcements_round_trip_and_reject_forgery() {
    use vivim_protocol::{Announce, PeerRecord};
    let kp = key(1);
    let rec = PeerRecord {
        v: 1,
        key: kp.public(),
        libp2p_addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        iroh_addrs: vec!["127.0.0.1:5000".into()],
        relay_url: None,
        issued_at_ms: 1,
        expires_at_ms: 2,
        sig: None,
    };
    round_trip(rec.clone(), &kp);
    let ann = Announce {
        v: 1,
        conversation: ConvId(Hash::of(b"c")),
        seq: Hash::of(b"s"),
        manifest: Hash::of(b"m"),
        owner: kp.public(),
        title: "t".into(),
        published_at_ms: 3,
        sig: None,
    };
    round_trip(ann.clone(), &kp);
    // A record about A, signed by B, never decodes.
    let mut forged = rec;
    forged.sig = Some(key(2).sign(vivim_identity::Purpose::PEER_RECORD, b"x"));
    let mut bytes = Vec::new();
    ciborium::into_writer(&forged, &mut bytes).unwrap();
    assert!(matches!(
        Signed::<PeerRecord>::decode(&bytes),
        Err(DecodeError::BadSignature { .. })
    ));
    // Too many addresses is a rule violation.
    let mut big = Signed::sign(ann, &kp).unwrap().value().clone();
    big.title = "x".repeat(limits::MAX_SHORT_STRING + 1);
    assert!(Signed::sign(big, &kp).is_err());
}

#[test]
fn doc_updates_round_trip_and_only_their_writer_signs_them() {
    use vivim_protocol::{DocUpdate, DocUpdateKind};
    let kp = key(1);
    let up = DocUpdate {
        v: 1,
        doc: format!("circle.{}.abc", &kp.did().to_string()["did:key:".len()..]),
        writer: kp.public(),
        seq: 7,
        kind: DocUpdateKind::Update,
        update: vec![1, 2, 3],
        issued_at_ms: 9,
        sig: None,
    };
    round_trip(up.clone(), &kp);
    let signed = Signed::sign(up.clone(), &kp).unwrap();
    // The writer field names the signer: claiming another writer breaks the signature.
    let mut claimed = signed.value().clone();
    claimed.writer = key(2).public();
    let mut bytes = Vec::new();
    ciborium::into_writer(&claimed, &mut bytes).unwrap();
    assert!(matches!(
        Signed::<DocUpdate>::decode(&bytes),
        Err(DecodeError::BadSignature { .. })
    ));
    // Update number 0 does not exist.
    let mut zero = up;
    zero.seq = 0;
    assert!(Signed::sign(zero.clone(), &kp).is_err());
    zero.kind = DocUpdateKind::State;
    assert!(Signed::sign(zero, &kp).is_ok());
}

/// What the node's own store reads back: the same record and id as a verified decode, without
/// the verification; still refuses what is not a signed record of the type.
#[test]
fn stored_records_decode_to_the_same_record() {
    let kp = key(7);
    let signed = Signed::sign(acu(&kp, "kept"), &kp).unwrap();
    let back = Signed::<Acu>::decode_stored(signed.bytes().to_vec()).unwrap();
    assert_eq!(back.value(), signed.value());
    assert_eq!(back.id(), signed.id());
    assert_eq!(back.bytes(), signed.bytes());
    assert!(Signed::<Acu>::decode_stored(b"\xa1\x61v\x01".to_vec()).is_err());
    assert!(Signed::<Acu>::decode_stored(Vec::new()).is_err());
    let unsigned = vivim_protocol::encode_unsigned(&acu(&kp, "no sig")).unwrap();
    assert!(Signed::<Acu>::decode_stored(unsigned).is_err());
}
