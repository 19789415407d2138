//! The vector index: usearch HNSW over ACU embeddings, persisted under `vectors/` in the data dir.
//!
//! Keys are sequential `u64`s; a side table maps each key to its ACU and conversation, and a
//! second one records which version of each conversation is embedded (the first 8 bytes of its
//! manifest id), so the background embedder knows what is new. All files are written to
//! temporary names and renamed; `meta.json` goes last and names the count the other files
//! must agree with. A missing, damaged or inconsistent index — or one built by another embedder
//! — is dropped and rebuilt from the store.
//!
//! ```
//! use vivim_node::organize::vector::{VectorIndex, VectorOptions};
//! use vivim_protocol::{ConvId, Hash};
//! let dir = tempfile::tempdir().unwrap();
//! let (idx, _) = VectorIndex::open(dir.path(), "test", VectorOptions::new(4)).unwrap();
//! let conv = ConvId(Hash::of(b"c"));
//! idx.add_batch(&[(Hash::of(b"a"), conv, vec![1.0, 0.0, 0.0, 0.0])]).unwrap();
//! let hits = idx.search(&[0.9, 0.1, 0.0, 0.0], 1).unwrap();
//! assert_eq!(hits[0].acu, Hash::of(b"a"));
//! ```

use std::{
    collections::HashMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::RwLock,
};

use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use vivim_protocol::{ConvId, Hash};

/// Why a vector operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// usearch failed.
    #[error("vector index: {0}")]
    Index(String),
    /// Files.
    #[error("vector index files: {0}")]
    Io(#[from] std::io::Error),
    /// A vector of the wrong size.
    #[error("a vector of {got} dimensions; the index has {want}")]
    Dims {
        /// Given.
        got: usize,
        /// Expected.
        want: usize,
    },
}

fn ix(e: impl std::fmt::Display) -> VectorError {
    VectorError::Index(e.to_string())
}

/// HNSW parameters.
#[derive(Debug, Clone, Copy)]
pub struct VectorOptions {
    /// Dimensions.
    pub dims: usize,
    /// Graph degree (usearch `connectivity`).
    pub connectivity: usize,
    /// Candidate list while inserting.
    pub expansion_add: usize,
    /// Candidate list while searching.
    pub expansion_search: usize,
    /// Threads used by [`VectorIndex::add_batch`].
    pub threads: usize,
    /// How vectors are stored: `BF16` (default), `F32`, `F16`, `I8`.
    pub quantization: ScalarKind,
}

impl VectorOptions {
    /// Defaults for `dims` dimensions: connectivity 16, expansion 128 (add) / 64 (search),
    /// bf16 vectors (half the memory of f32, faster search, recall@10 0.99 on the benchmark),
    /// cosine distance, as many insert threads as cores.
    pub fn new(dims: usize) -> Self {
        VectorOptions {
            dims,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            quantization: ScalarKind::BF16,
        }
    }

    /// The usearch options these stand for (the benchmark builds a raw index from them).
    pub fn usearch(&self) -> IndexOptions {
        IndexOptions {
            dimensions: self.dims,
            metric: MetricKind::Cos,
            quantization: self.quantization,
            connectivity: self.connectivity,
            expansion_add: self.expansion_add,
            expansion_search: self.expansion_search,
            multi: false,
        }
    }
}

/// What `open` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Loaded as saved.
    Loaded,
    /// Nothing there: a new empty index.
    Created,
    /// Damaged, inconsistent or built by another embedder: dropped, now empty.
    RebuiltEmpty,
}

/// A vector to add: ACU, its conversation, the vector.
pub type Item = (Hash, ConvId, Vec<f32>);

/// A search hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorHit {
    /// ACU id.
    pub acu: Hash,
    /// Its conversation.
    pub conversation: ConvId,
    /// Cosine distance (0 = same direction, 2 = opposite).
    pub distance: f32,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    dims: usize,
    embedder: String,
    next_key: u64,
    count: usize,
    convs: usize,
    #[serde(default = "f32_name")]
    quantization: String,
}

fn f32_name() -> String {
    "f32".into()
}

/// The name of a quantization (`f32`, `bf16`, `f16`, …).
pub fn quantization_name(q: ScalarKind) -> &'static str {
    match q {
        ScalarKind::F64 => "f64",
        ScalarKind::F32 => "f32",
        ScalarKind::BF16 => "bf16",
        ScalarKind::F16 => "f16",
        ScalarKind::I8 => "i8",
        _ => "other",
    }
}

/// Parses a quantization name: `f32`, `bf16`, `f16` or `i8`.
pub fn parse_quantization(s: &str) -> Option<ScalarKind> {
    Some(match s {
        "f32" => ScalarKind::F32,
        "bf16" => ScalarKind::BF16,
        "f16" => ScalarKind::F16,
        "i8" => ScalarKind::I8,
        _ => return None,
    })
}

struct Inner {
    index: Index,
    next_key: u64,
    keys: HashMap<u64, (Hash, ConvId)>,
    by_acu: HashMap<Hash, u64>,
    by_conv: HashMap<ConvId, Vec<u64>>,
    done: HashMap<ConvId, u64>,
    dirty: bool,
}

/// The HNSW index with its key tables. Searches share a read lock; writes take the write lock.
///
/// usearch serves at most as many concurrent calls as it has reserved thread contexts
/// ([`VectorOptions::threads`]); one more fails ("Reserve capacity ahead of searches!"). So
/// every search first takes one of that many [`Slots`] and waits while none is free: any
/// number of concurrent searchers is safe, the surplus waits its turn (back-pressure, never an
/// error). Inserts hold the write lock, so no search holds a context meanwhile.
pub struct VectorIndex {
    dir: PathBuf,
    embedder: String,
    opts: VectorOptions,
    inner: RwLock<Inner>,
    slots: Slots,
}

/// A counting semaphore for usearch's thread contexts (blocking: searches run on blocking
/// threads).
struct Slots {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: std::sync::Mutex::new(n.max(1)),
            freed: std::sync::Condvar::new(),
        }
    }

    fn take(&self) -> SlotGuard<'_> {
        let mut free = crate::lock(&self.free);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *crate::lock(&self.0.free) += 1;
        self.0.freed.notify_one();
    }
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dir", &self.dir)
            .field("embedder", &self.embedder)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

const FORMAT: u32 = 1;
const KEY_REC: usize = 8 + 32 + 32;
const DONE_REC: usize = 32 + 8;

fn new_index(opts: &VectorOptions) -> Result<Index, VectorError> {
    let index = Index::new(&opts.usearch()).map_err(ix)?;
    index
        .reserve_capacity_and_threads(1024, opts.threads.max(1))
        .map_err(ix)?;
    Ok(index)
}

impl VectorIndex {
    /// Opens (or creates) the index in `dir` for vectors from `embedder`.
    pub fn open(
        dir: &Path,
        embedder: &str,
        opts: VectorOptions,
    ) -> Result<(VectorIndex, OpenState), VectorError> {
        std::fs::create_dir_all(dir)?;
        let meta_path = dir.join("meta.json");
        let state;
        let inner = if meta_path.exists() {
            match Self::load(dir, embedder, &opts) {
                Ok(inner) => {
                    state = OpenState::Loaded;
                    inner
                }
                Err(e) => {
                    tracing::warn!("vector index in {}: {e}; rebuilding it", dir.display());
                    for f in ["meta.json", "index.usearch", "keys.bin", "done.bin"] {
                        let _ = std::fs::remove_file(dir.join(f));
                    }
                    state = OpenState::RebuiltEmpty;
                    Self::empty(&opts)?
                }
            }
        } else {
            state = OpenState::Created;
            Self::empty(&opts)?
        };
        Ok((
            VectorIndex {
                dir: dir.to_path_buf(),
                embedder: embedder.to_string(),
                opts,
                inner: RwLock::new(inner),
                slots: Slots::new(opts.threads),
            },
            state,
        ))
    }

    fn empty(opts: &VectorOptions) -> Result<Inner, VectorError> {
        Ok(Inner {
            index: new_index(opts)?,
            next_key: 0,
            keys: HashMap::new(),
            by_acu: HashMap::new(),
            by_conv: HashMap::new(),
            done: HashMap::new(),
            dirty: false,
        })
    }

    fn load(dir: &Path, embedder: &str, opts: &VectorOptions) -> Result<Inner, String> {
        let meta: Meta = serde_json::from_slice(
            &std::fs::read(dir.join("meta.json")).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("meta.json: {e}"))?;
        if meta.version != FORMAT {
            return Err(format!(
                "format {} (this node writes {FORMAT})",
                meta.version
            ));
        }
        if meta.quantization != quantization_name(opts.quantization) {
            return Err(format!(
                "stored as {}; the configured quantization is {}",
                meta.quantization,
                quantization_name(opts.quantization)
            ));
        }
        if meta.dims != opts.dims || meta.embedder != embedder {
            return Err(format!(
                "built by {} ({} dims); the configured embedder is {embedder} ({} dims)",
                meta.embedder, meta.dims, opts.dims
            ));
        }
        let index = new_index(opts).map_err(|e| e.to_string())?;
        let path = dir.join("index.usearch");
        let path_s = path.to_str().ok_or("data dir path is not UTF-8")?;
        index
            .load(path_s)
            .map_err(|e| format!("index.usearch: {e}"))?;
        index.change_expansion_search(opts.expansion_search);
        index
            .reserve_capacity_and_threads(index.size().max(1024), opts.threads.max(1))
            .map_err(|e| e.to_string())?;
        let keys_bytes = read_records(&dir.join("keys.bin"), KEY_REC, meta.count)?;
        let done_bytes = read_records(&dir.join("done.bin"), DONE_REC, meta.convs)?;
        if index.size() != meta.count {
            return Err(format!(
                "index holds {} vectors, meta says {}",
                index.size(),
                meta.count
            ));
        }
        let mut inner = Inner {
            index,
            next_key: meta.next_key,
            keys: HashMap::with_capacity(meta.count),
            by_acu: HashMap::with_capacity(meta.count),
            by_conv: HashMap::new(),
            done: HashMap::with_capacity(meta.convs),
            dirty: false,
        };
        for rec in keys_bytes.chunks_exact(KEY_REC) {
            let key = u64::from_le_bytes(rec[0..8].try_into().map_err(|_| "keys.bin")?);
            let acu = Hash(rec[8..40].try_into().map_err(|_| "keys.bin")?);
            let conv = ConvId(Hash(rec[40..72].try_into().map_err(|_| "keys.bin")?));
            if key >= meta.next_key || !inner.index.contains(key) {
                return Err(format!("keys.bin names key {key} the index lacks"));
            }
            inner.keys.insert(key, (acu, conv));
            inner.by_acu.insert(acu, key);
            inner.by_conv.entry(conv).or_default().push(key);
        }
        for rec in done_bytes.chunks_exact(DONE_REC) {
            let conv = ConvId(Hash(rec[0..32].try_into().map_err(|_| "done.bin")?));
            let marker = u64::from_le_bytes(rec[32..40].try_into().map_err(|_| "done.bin")?);
            inner.done.insert(conv, marker);
        }
        Ok(inner)
    }

    /// The options it was opened with.
    pub fn options(&self) -> VectorOptions {
        self.opts
    }

    /// The embedder id it holds vectors of.
    pub fn embedder(&self) -> &str {
        &self.embedder
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.read().keys.len()
    }

    /// Whether it holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this ACU has a vector.
    pub fn contains(&self, acu: &Hash) -> bool {
        self.read().by_acu.contains_key(acu)
    }

    /// The embedded version marker of each conversation.
    pub fn done(&self) -> HashMap<ConvId, u64> {
        self.read().done.clone()
    }

    /// Conversations embedded at some version.
    pub fn done_count(&self) -> usize {
        self.read().done.len()
    }

    /// Records that `conv` is embedded up to version `marker`.
    pub fn set_done(&self, conv: ConvId, marker: u64) {
        let mut g = self.write();
        g.done.insert(conv, marker);
        g.dirty = true;
    }

    /// Adds vectors (ACUs already present are skipped), on up to `threads` threads.
    pub fn add_batch(&self, items: &[Item]) -> Result<usize, VectorError> {
        for (_, _, v) in items {
            if v.len() != self.opts.dims {
                return Err(VectorError::Dims {
                    got: v.len(),
                    want: self.opts.dims,
                });
            }
        }
        let mut g = self.write();
        let fresh: Vec<(u64, &Item)> = {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for it in items {
                if g.by_acu.contains_key(&it.0) || !seen.insert(it.0) {
                    continue;
                }
                // A zero vector (no known word) has no direction to search by.
                if it.2.iter().all(|x| *x == 0.0) {
                    continue;
                }
                let key = g.next_key;
                g.next_key += 1;
                out.push((key, it));
            }
            out
        };
        if fresh.is_empty() {
            return Ok(0);
        }
        let need = g.index.size() + fresh.len();
        if need > g.index.capacity() {
            let cap = need.max(g.index.capacity() * 2);
            g.index
                .reserve_capacity_and_threads(cap, self.opts.threads.max(1))
                .map_err(ix)?;
        }
        let threads = self
            .opts
            .threads
            .clamp(1, 64)
            .min(fresh.len().div_ceil(64).max(1));
        let index = &g.index;
        let result: Result<(), VectorError> = if threads == 1 {
            fresh
                .iter()
                .try_for_each(|(k, it)| index.add(*k, &it.2).map_err(ix))
        } else {
            // Threads take the next vector from a shared counter, so none idles while another
            // still has a long tail.
            let next = std::sync::atomic::AtomicUsize::new(0);
            let (fresh, next) = (&fresh, &next);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(move || {
                            loop {
                                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some((k, it)) = fresh.get(i) else {
                                    return Ok::<(), VectorError>(());
                                };
                                index.add(*k, &it.2).map_err(ix)?;
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    match h.join() {
                        Ok(r) => r?,
                        Err(_) => {
                            return Err(VectorError::Index("an insert thread panicked".into()));
                        }
                    }
                }
                Ok(())
            })
        };
        result?;
        for (k, it) in &fresh {
            g.keys.insert(*k, (it.0, it.1));
            g.by_acu.insert(it.0, *k);
            g.by_conv.entry(it.1).or_default().push(*k);
        }
        g.dirty = true;
        Ok(fresh.len())
    }

    /// The `k` nearest ACUs to `query`.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<VectorHit>, VectorError> {
        self.search_with(query, k, false)
    }

    /// Exact (brute-force) search over every stored vector: the reference that HNSW results
    /// are measured against.
    pub fn exact_search(&self, query: &[f32], k: usize) -> Result<Vec<VectorHit>, VectorError> {
        self.search_with(query, k, true)
    }

    fn search_with(
        &self,
        query: &[f32],
        k: usize,
        exact: bool,
    ) -> Result<Vec<VectorHit>, VectorError> {
        if query.len() != self.opts.dims {
            return Err(VectorError::Dims {
                got: query.len(),
                want: self.opts.dims,
            });
        }
        // A context first, then the lock: a search waiting for a context holds no lock.
        let _slot = self.slots.take();
        let g = self.read();
        if g.keys.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let m = if exact {
            g.index.exact_search(query, k)
        } else {
            g.index.search(query, k)
        }
        .map_err(ix)?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .filter_map(|(key, d)| {
                g.keys.get(key).map(|(acu, conv)| VectorHit {
                    acu: *acu,
                    conversation: *conv,
                    distance: *d,
                })
            })
            .collect())
    }

    /// The stored vector of an ACU.
    pub fn vector(&self, acu: &Hash) -> Option<Vec<f32>> {
        let g = self.read();
        let key = *g.by_acu.get(acu)?;
        let mut buf = vec![0f32; self.opts.dims];
        match g.index.get(key, &mut buf) {
            Ok(n) if n > 0 => Some(buf),
            _ => None,
        }
    }

    /// The ACUs of a conversation that have vectors.
    pub fn conversation_acus(&self, conv: &ConvId) -> Vec<Hash> {
        let g = self.read();
        g.by_conv
            .get(conv)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| g.keys.get(k).map(|x| x.0))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops a conversation's vectors and its done mark.
    pub fn remove_conversation(&self, conv: &ConvId) -> Result<usize, VectorError> {
        let mut g = self.write();
        g.done.remove(conv);
        let Some(keys) = g.by_conv.remove(conv) else {
            g.dirty = true;
            return Ok(0);
        };
        for k in &keys {
            g.index.remove(*k).map_err(ix)?;
            if let Some((acu, _)) = g.keys.remove(k) {
                g.by_acu.remove(&acu);
            }
        }
        g.dirty = true;
        Ok(keys.len())
    }

    /// Writes the index and its tables if anything changed (temporary files, then renames;
    /// `meta.json` last).
    pub fn save(&self) -> Result<(), VectorError> {
        let mut g = self.write();
        if !g.dirty {
            return Ok(());
        }
        let tmp = self.dir.join("index.usearch.tmp");
        let tmp_s = tmp
            .to_str()
            .ok_or_else(|| VectorError::Index("data dir path is not UTF-8".into()))?;
        g.index.save(tmp_s).map_err(ix)?;
        let mut keys = Vec::with_capacity(g.keys.len() * KEY_REC);
        for (k, (acu, conv)) in &g.keys {
            keys.extend_from_slice(&k.to_le_bytes());
            keys.extend_from_slice(acu.as_bytes());
            keys.extend_from_slice(conv.0.as_bytes());
        }
        let mut done = Vec::with_capacity(g.done.len() * DONE_REC);
        for (conv, m) in &g.done {
            done.extend_from_slice(conv.0.as_bytes());
            done.extend_from_slice(&m.to_le_bytes());
        }
        write_atomic(&self.dir.join("keys.bin"), &keys)?;
        write_atomic(&self.dir.join("done.bin"), &done)?;
        std::fs::rename(&tmp, self.dir.join("index.usearch"))?;
        let meta = Meta {
            version: FORMAT,
            dims: self.opts.dims,
            embedder: self.embedder.clone(),
            next_key: g.next_key,
            count: g.keys.len(),
            convs: g.done.len(),
            quantization: quantization_name(self.opts.quantization).into(),
        };
        write_atomic(
            &self.dir.join("meta.json"),
            &serde_json::to_vec(&meta).map_err(|e| VectorError::Index(e.to_string()))?,
        )?;
        g.dirty = false;
        Ok(())
    }

    /// Drops everything (the embedder changed, or a rebuild was asked for).
    pub fn clear(&self) -> Result<(), VectorError> {
        let mut g = self.write();
        *g = Self::empty(&self.opts)?;
        g.dirty = true;
        Ok(())
    }
}

fn read_records(path: &Path, rec: usize, count: usize) -> Result<Vec<u8>, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len != (rec * count) as u64 {
        return Err(format!(
            "{} is {len} bytes, expected {}",
            path.display(),
            rec * count
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    f.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Test vectors shaped like real embeddings: `clusters` random unit centres (topics); within
/// a topic, points vary along a shared 32-dimensional latent subspace (real embeddings have a
/// low intrinsic dimension) with relative scale `spread`, plus a little isotropic noise;
/// normalised. Deterministic for a seed. Used by the recall test and the benchmarks.
pub fn clustered_vectors(
    n: usize,
    dims: usize,
    clusters: usize,
    spread: f32,
    seed: u64,
) -> Vec<f32> {
    const LATENT: usize = 32;
    let mut rng = SplitMix(seed);
    let clusters = clusters.max(1);
    let unit = |rng: &mut SplitMix, len: usize| {
        let mut c: Vec<f32> = (0..len).map(|_| rng.gauss()).collect();
        let n = c.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
        c.iter_mut().for_each(|x| *x /= n);
        c
    };
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| unit(&mut rng, dims)).collect();
    let basis: Vec<Vec<f32>> = (0..LATENT).map(|_| unit(&mut rng, dims)).collect();
    let mut out = vec![0f32; n * dims];
    let latent_scale = spread / (LATENT as f32).sqrt();
    let noise = 0.1 * spread / (dims as f32).sqrt();
    for v in out.chunks_mut(dims) {
        let c = (rng.next() % clusters as u64) as usize;
        v.copy_from_slice(&centres[c]);
        for b in &basis {
            let z = latent_scale * rng.gauss();
            for (x, e) in v.iter_mut().zip(b) {
                *x += z * e;
            }
        }
        for x in v.iter_mut() {
            *x += noise * rng.gauss();
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
        v.iter_mut().for_each(|x| *x /= n);
    }
    out
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }
    fn gauss(&mut self) -> f32 {
        // Box-Muller.
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}
