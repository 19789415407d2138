//! Recall@10 of the HNSW index (default options: bf16 vectors) against exact brute-force search
//! over the original f32 vectors, on 100,000 clustered 256-d vectors (shaped like real
//! embeddings: uniform random vectors have no neighbour structure).
//!
//! The brute force runs in usearch's SIMD linear scan (`exact_search`) over an f32 index built
//! with a token graph (the scan ignores the graph), checked against a plain dot-product scan
//! on a few queries: a plain Rust scan of 200 x 100,000 x 256 would take a minute in debug CI.
#![allow(clippy::unwrap_used)]

use vivim_node::organize::vector::{VectorIndex, VectorOptions, clustered_vectors};
use vivim_protocol::{ConvId, Hash};

const N: usize = 100_000;
const Q: usize = 200;
const DIMS: usize = 256;

fn acu(i: usize) -> Hash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Hash(b)
}

#[test]
fn recall_at_10_on_100k_clustered_vectors_is_at_least_0_95_and_survives_reopen() {
    let data = clustered_vectors(N + Q, DIMS, 100, 1.0, 7);
    let (base, queries) = data.split_at(N * DIMS);
    let dir = tempfile::tempdir().unwrap();
    let (idx, _) = VectorIndex::open(dir.path(), "test", VectorOptions::new(DIMS)).unwrap();
    let reference_dir = tempfile::tempdir().unwrap();
    let mut flat = VectorOptions::new(DIMS);
    flat.quantization = usearch::ScalarKind::F32;
    flat.connectivity = 3;
    flat.expansion_add = 4;
    let (reference, _) = VectorIndex::open(reference_dir.path(), "reference", flat).unwrap();
    let conv = ConvId(Hash::of(b"conv"));
    let started = std::time::Instant::now();
    for (c, chunk) in base.chunks(10_000 * DIMS).enumerate() {
        let items: Vec<_> = chunk
            .chunks(DIMS)
            .enumerate()
            .map(|(i, v)| (acu(c * 10_000 + i), conv, v.to_vec()))
            .collect();
        idx.add_batch(&items).unwrap();
        reference.add_batch(&items).unwrap();
    }
    let build = started.elapsed();
    assert_eq!(idx.len(), N);

    // The reference scan is exact: check it against a plain dot-product scan.
    for q in queries.chunks(DIMS).take(3) {
        let mut all: Vec<(f32, usize)> = base
            .chunks(DIMS)
            .enumerate()
            .map(|(i, v)| (1.0 - v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i))
            .collect();
        all.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
        let mut naive: Vec<Hash> = all[..10].iter().map(|(_, i)| acu(*i)).collect();
        let mut exact: Vec<Hash> = reference
            .exact_search(q, 10)
            .unwrap()
            .iter()
            .map(|h| h.acu)
            .collect();
        naive.sort_by_key(|h| h.0);
        exact.sort_by_key(|h| h.0);
        assert_eq!(naive, exact);
    }
    let truth: Vec<Vec<Hash>> = queries
        .chunks(DIMS)
        .map(|q| {
            reference
                .exact_search(q, 10)
                .unwrap()
                .iter()
                .map(|h| h.acu)
                .collect()
        })
        .collect();
    drop(reference);

    let recall = |idx: &VectorIndex| {
        let mut found = 0usize;
        for (q, exact) in queries.chunks(DIMS).zip(&truth) {
            let approx = idx.search(q, 10).unwrap();
            found += approx.iter().filter(|h| exact.contains(&h.acu)).count();
        }
        found as f64 / (Q * 10) as f64
    };
    let r = recall(&idx);
    println!("recall@10 = {r:.4} over {Q} queries, {N} vectors x {DIMS} dims; build {build:?}");
    assert!(r >= 0.95, "recall@10 {r}");

    // Saved and reopened, it answers the same.
    idx.save().unwrap();
    drop(idx);
    let (idx, state) = VectorIndex::open(dir.path(), "test", VectorOptions::new(DIMS)).unwrap();
    assert_eq!(state, vivim_node::organize::vector::OpenState::Loaded);
    assert_eq!(idx.len(), N);
    let r2 = recall(&idx);
    assert!(r2 >= 0.95, "recall@10 after reopen {r2}");
}

#[test]
fn damaged_or_foreign_index_is_rebuilt_empty() {
    let dir = tempfile::tempdir().unwrap();
    let conv = ConvId(Hash::of(b"conv"));
    let data = clustered_vectors(50, 8, 4, 1.0, 1);
    {
        let (idx, state) = VectorIndex::open(dir.path(), "a", VectorOptions::new(8)).unwrap();
        assert_eq!(state, vivim_node::organize::vector::OpenState::Created);
        let items: Vec<_> = data
            .chunks(8)
            .enumerate()
            .map(|(i, v)| (acu(i), conv, v.to_vec()))
            .collect();
        assert_eq!(idx.add_batch(&items).unwrap(), 50);
        assert_eq!(
            idx.add_batch(&items).unwrap(),
            0,
            "same ACUs are not added twice"
        );
        idx.set_done(conv, 9);
        idx.save().unwrap();
    }
    let (idx, state) = VectorIndex::open(dir.path(), "a", VectorOptions::new(8)).unwrap();
    assert_eq!(state, vivim_node::organize::vector::OpenState::Loaded);
    assert_eq!(idx.done().get(&conv), Some(&9));
    assert_eq!(idx.remove_conversation(&conv).unwrap(), 50);
    assert!(idx.search(&data[..8], 5).unwrap().is_empty());
    drop(idx);
    // Another embedder's vectors are not mixed with these.
    let (idx, state) = VectorIndex::open(dir.path(), "b", VectorOptions::new(8)).unwrap();
    assert_eq!(state, vivim_node::organize::vector::OpenState::RebuiltEmpty);
    assert!(idx.is_empty());
    idx.add_batch(&[(acu(1), conv, data[..8].to_vec())])
        .unwrap();
    idx.save().unwrap();
    drop(idx);
    // A truncated file.
    let f = dir.path().join("index.usearch");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let (idx, state) = VectorIndex::open(dir.path(), "b", VectorOptions::new(8)).unwrap();
    assert_eq!(state, vivim_node::organize::vector::OpenState::RebuiltEmpty);
    assert!(idx.is_empty());
    // Wrong dimensions are an error, not a panic.
    assert!(idx.add_batch(&[(acu(2), conv, vec![1.0; 3])]).is_err());
    assert!(idx.search(&[1.0; 3], 1).is_err());
}
