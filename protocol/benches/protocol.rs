//! Hot paths of the wire format, next to the raw ed25519 rates measured in the same run.
//!
//! `cargo bench -p vivim-protocol --bench protocol`
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use std::hint::black_box;
use vivim_identity::Keypair;
use vivim_protocol::{Acu, Body, ConvId, Kind, Role, Signed, open_grant, seal_for};

const TEXT_1K: usize = 1024;

fn text() -> String {
    "The quick brown fox jumps over the lazy dog. "
        .repeat(TEXT_1K / 45 + 1)
        .chars()
        .take(TEXT_1K)
        .collect()
}

fn benches(c: &mut Criterion) {
    let msg = vec![0x5au8; TEXT_1K];
    let raw = SigningKey::from_bytes(&[3; 32]);
    let raw_sig = raw.sign(&msg);
    let raw_vk = raw.verifying_key();

    let mut g = c.benchmark_group("ed25519_raw_1KiB");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| b.iter(|| raw.sign(black_box(&msg))));
    g.bench_function("verify", |b| {
        b.iter(|| raw_vk.verify(black_box(&msg), &raw_sig).unwrap())
    });
    g.finish();

    let kp = Keypair::from_seed(&[3; 32]);
    let conv = ConvId::for_import(&kp.public(), "chatgpt", "bench");
    let body = text();
    let mut g = c.benchmark_group("acu_1KiB");
    g.throughput(Throughput::Elements(1));
    let mut t = 0u64;
    g.bench_function("build_sign_encode_hash", |b| {
        b.iter(|| {
            t += 1;
            let a = Acu::new(
                conv,
                None,
                kp.public(),
                Role::User,
                Kind::Text,
                Body::text(body.clone()),
                t,
            );
            let s = Signed::sign(a, &kp).unwrap();
            black_box(s.id())
        })
    });
    let signed_acu = |text: String, t: u64| {
        let a = Acu::new(
            conv,
            None,
            kp.public(),
            Role::User,
            Kind::Text,
            Body::text(text),
            t,
        );
        Signed::sign(a, &kp).unwrap()
    };
    let signed = signed_acu(body.clone(), 1);
    let bytes = signed.bytes().to_vec();
    g.bench_function("decode_verify", |b| {
        b.iter(|| Signed::<Acu>::decode(black_box(&bytes)).unwrap())
    });
    g.finish();

    // A large message: decoding checks the canonical encoding and the signature where the
    // bytes lie, so it should cost little more than ed25519 over the same bytes.
    let big_body = "0123456789abcdef".repeat(512 * 1024 / 16);
    let big = signed_acu(big_body, 2);
    let big_bytes = big.bytes().to_vec();
    let big_sig = raw.sign(&big_bytes);
    let mut g = c.benchmark_group("acu_512KiB");
    g.throughput(Throughput::Bytes(big_bytes.len() as u64));
    g.bench_function("ed25519_raw_verify", |b| {
        b.iter(|| raw_vk.verify(black_box(&big_bytes), &big_sig).unwrap())
    });
    g.bench_function("decode_verify", |b| {
        b.iter(|| Signed::<Acu>::decode(black_box(&big_bytes)).unwrap())
    });
    g.bench_function("decode_blob", |b| {
        b.iter(|| Signed::<Acu>::decode_blob(black_box(big_bytes.clone()), big.id()).unwrap())
    });
    g.finish();

    let recipients: Vec<_> = (0..50u8)
        .map(|i| Keypair::from_seed(&[i + 10; 32]).public())
        .collect();
    let mut g = c.benchmark_group("seal_1KiB");
    for n in [1usize, 50] {
        g.bench_with_input(BenchmarkId::new("seal", n), &n, |b, &n| {
            b.iter(|| seal_for(black_box(body.as_bytes()), &recipients[..n]).unwrap())
        });
    }
    let me = Keypair::from_seed(&[10; 32]);
    let (sealed, grants) = seal_for(body.as_bytes(), &recipients[..1]).unwrap();
    g.bench_function("open", |b| {
        b.iter(|| {
            let k = open_grant(&grants[0], &me).unwrap();
            k.open(black_box(&sealed)).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = protocol;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = benches
}
criterion_main!(protocol);
