//! yrs apply throughput (the anchor) next to the same updates through `Replica` + `Inbox`, and
//! the cost of applying a large state (catch-up).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vivim_crdt::{
    DocId, DocKind, Inbox, Replica,
    schema::Role,
    yrs::{Doc, Transact, Update, updates::decoder::Decode},
};
use vivim_identity::{Did, Keypair};

const N: usize = 1_000;

fn updates() -> (DocId, Vec<Vec<u8>>, Vec<u8>) {
    let owner = Keypair::from_seed(&[1; 32]).did();
    let id = DocId::random(DocKind::Circle, &owner, 1);
    let w = Replica::with_client_id(id.clone(), 7);
    let dids: Vec<Did> = (0..64u8)
        .map(|i| Keypair::from_seed(&[i; 32]).did())
        .collect();
    let ups = (0..N)
        .map(|i| {
            w.write(|x| x.add_member(&dids[i % 64], Role::Member, i as u64))
                .unwrap()
        })
        .collect();
    // A 10,000-member circle as one state.
    let big = Replica::with_client_id(id.clone(), 8);
    big.write(|x| {
        for i in 0..10_000u32 {
            let k = Keypair::from_seed(&{
                let mut s = [0u8; 32];
                s[..4].copy_from_slice(&i.to_le_bytes());
                s
            })
            .did();
            x.add_member(&k, Role::Member, u64::from(i));
        }
    });
    (id, ups, big.snapshot())
}

fn bench(c: &mut Criterion) {
    let (id, ups, big) = updates();
    let mut g = c.benchmark_group("apply");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("raw yrs (decode + apply)", |b| {
        b.iter_batched(
            Doc::new,
            |doc| {
                let _m = doc.get_or_insert_map("members");
                for u in &ups {
                    let mut t = doc.transact_mut();
                    t.apply_update(Update::decode_v1(u).unwrap()).unwrap();
                }
                doc
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("Replica + Inbox (in order)", |b| {
        b.iter_batched(
            || (Replica::new(id.clone()), Inbox::default()),
            |(r, mut inbox)| {
                for (i, u) in ups.iter().enumerate() {
                    inbox.offer(&r, i as u64 + 1, u).unwrap();
                }
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("apply a 10k-member state", |b| {
        b.iter_batched(
            || Replica::new(id.clone()),
            |r| {
                r.apply(&big).unwrap();
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
