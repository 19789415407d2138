//! Text embeddings behind one trait, chosen in `vivim.toml` (`[embed]`):
//!
//! - [`HashEmbedder`] (`kind = "builtin"`, the default): feature hashing of words, word pairs and
//!   character trigrams into 256 dimensions with sign hashing, L2-normalised. Fully offline, no
//!   model, ~µs per message. It matches shared words and spellings, not meaning: "car" and
//!   "automobile" are unrelated to it.
//! - [`StaticModel`] (`kind = "model2vec"`): a static embedding model from a local folder in the
//!   Model2Vec layout (`tokenizer.json` + `model.safetensors` with an `embeddings` table):
//!   the mean of the token vectors, L2-normalised. Real semantic similarity, still no network.
//! - [`RemoteEmbedder`] (`kind = "openai"`): any OpenAI-compatible `/v1/embeddings` endpoint
//!   (Ollama, llama.cpp server, OpenAI).
//!
//! ```
//! use vivim_node::organize::embed::{Embedder, HashEmbedder};
//! let e = HashEmbedder::default();
//! let v = e.embed_one("the borrow checker");
//! assert_eq!(v.len(), 256);
//! ```

use std::{
    collections::HashMap,
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The model folder could not be read.
    #[error("embedding model {path}: {message}")]
    Model {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The endpoint failed or answered nonsense.
    #[error("embedding endpoint: {0}")]
    Remote(String),
    /// A bad configuration.
    #[error("embedding config: {0}")]
    Config(String),
}

/// A boxed future, so that [`Embedder`] is object safe.
pub type EmbedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send + 'a>>;

/// Something that turns texts into unit vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// A name that changes when the vectors change (model, dimensions): a vector index built
    /// with another id is rebuilt.
    fn id(&self) -> String;
    /// Vector dimensions.
    fn dims(&self) -> usize;
    /// Embeds a batch; one L2-normalised vector per text, in order.
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a>;
}

/// `[embed]` in `vivim.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    /// `builtin` (default, offline hashing), `model2vec` (a local folder) or `openai`
    /// (an OpenAI-compatible `/v1/embeddings` endpoint).
    pub kind: String,
    /// `model2vec`: the model folder (tokenizer.json + model.safetensors).
    pub path: Option<PathBuf>,
    /// `openai`: the base URL (`http://127.0.0.1:11434` for Ollama, `https://api.openai.com`).
    pub url: Option<String>,
    /// `openai`: the model name.
    pub model: Option<String>,
    /// `openai`: the API key, if the endpoint needs one. Never logged.
    pub api_key: Option<String>,
    /// Texts per embedding call.
    pub batch: usize,
    /// Characters of a message that are embedded (the rest is cut).
    pub max_chars: usize,
    /// How the vector index stores vectors: `bf16` (default: half the memory of `f32` and
    /// faster, recall@10 0.99 in the benchmark), `f32`, `f16` or `i8`. Changing it rebuilds
    /// the index.
    pub quantization: String,
}

impl Default for EmbedConfig {
    fn default() -> Self {
        EmbedConfig {
            kind: "builtin".into(),
            path: None,
            url: None,
            model: None,
            api_key: None,
            batch: 64,
            max_chars: 4000,
            quantization: "bf16".into(),
        }
    }
}

/// Builds the embedder a configuration names. A remote endpoint is probed once for its
/// dimensions.
pub async fn from_config(cfg: &EmbedConfig) -> Result<Box<dyn Embedder>, EmbedError> {
    match cfg.kind.as_str() {
        "builtin" | "" => Ok(Box::new(HashEmbedder::default())),
        "model2vec" => {
            let path = cfg
                .path
                .as_ref()
                .ok_or_else(|| EmbedError::Config("kind = \"model2vec\" needs path".into()))?;
            Ok(Box::new(StaticModel::load(path)?))
        }
        "openai" => {
            let url = cfg
                .url
                .clone()
                .ok_or_else(|| EmbedError::Config("kind = \"openai\" needs url".into()))?;
            let model = cfg
                .model
                .clone()
                .ok_or_else(|| EmbedError::Config("kind = \"openai\" needs model".into()))?;
            Ok(Box::new(
                RemoteEmbedder::connect(url, model, cfg.api_key.clone()).await?,
            ))
        }
        other => Err(EmbedError::Config(format!(
            "unknown kind {other:?}: use builtin, model2vec or openai"
        ))),
    }
}

fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        for x in v.iter_mut() {
            *x /= n;
        }
    }
}

/// 64-bit FNV-1a, then a mixer: stable across versions and platforms (unlike `DefaultHasher`).
fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that",
    "the", "this", "to", "was", "we", "what", "with", "you", "your",
];

/// The built-in offline embedder: feature hashing (see the module docs for what it is good for).
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dims: usize,
}

impl Default for HashEmbedder {
    fn default() -> Self {
        HashEmbedder { dims: 256 }
    }
}

impl HashEmbedder {
    /// An embedder of `dims` dimensions (at least 8).
    pub fn new(dims: usize) -> Self {
        HashEmbedder { dims: dims.max(8) }
    }

    fn feature(&self, v: &mut [f32], seed: u64, bytes: &[u8], weight: f32) {
        let h = hash64(seed, bytes);
        let i = (h % self.dims as u64) as usize;
        let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
        v[i] += sign * weight;
    }

    /// Embeds one text (synchronously; it takes microseconds).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && w.len() <= 40)
            .collect();
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for w in &words {
            if !STOPWORDS.contains(w) {
                *counts.entry(w).or_default() += 1;
            }
        }
        for (w, n) in &counts {
            // Sublinear term frequency.
            let tf = 1.0 + (*n as f32).ln();
            self.feature(&mut v, 1, w.as_bytes(), tf);
            // Character trigrams of the padded word: spelling variants and inflections overlap.
            let padded: Vec<char> = format!("<{w}>").chars().collect();
            if padded.len() > 4 {
                let grams = padded.len() - 2;
                let wgt = 0.6 * tf / (grams as f32).sqrt();
                let mut buf = String::new();
                for g in padded.windows(3) {
                    buf.clear();
                    buf.extend(g);
                    self.feature(&mut v, 2, buf.as_bytes(), wgt);
                }
            }
        }
        let content: Vec<&&str> = words.iter().filter(|w| !STOPWORDS.contains(w)).collect();
        for pair in content.windows(2) {
            let key = format!("{} {}", pair[0], pair[1]);
            self.feature(&mut v, 3, key.as_bytes(), 0.5);
        }
        normalize(&mut v);
        v
    }
}

impl Embedder for HashEmbedder {
    fn id(&self) -> String {
        format!("builtin-hash-v1-{}", self.dims)
    }
    fn dims(&self) -> usize {
        self.dims
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let out = texts.iter().map(|t| self.embed_one(t)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }
}

// ---------------------------------------------------------------------------------------------
// Model2Vec

/// Largest tokenizer.json / safetensors file read.
const MAX_MODEL_FILE: u64 = 2 * 1024 * 1024 * 1024;

/// A static embedding model (Model2Vec layout): a token table and a WordPiece-style tokenizer.
///
/// The tokenizer is read from `tokenizer.json` by a small reader of our own rather than the
/// `tokenizers` crate (which brings Oniguruma, rayon and ~60 crates to build): static models need
/// only the vocabulary, lower-casing, splitting on whitespace and punctuation, and greedy
/// longest-match sub-words — what BERT's WordPiece does and what Model2Vec's distilled
/// vocabularies use.
#[derive(Debug)]
pub struct StaticModel {
    name: String,
    dims: usize,
    table: Vec<f32>,
    vocab: HashMap<String, u32>,
    prefix: String,
    unk: Option<u32>,
    lowercase: bool,
    max_word_chars: usize,
}

#[derive(Deserialize)]
struct TokenizerJson {
    model: TokModel,
    #[serde(default)]
    normalizer: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokModel {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    vocab: serde_json::Value,
    #[serde(default)]
    unk_token: Option<String>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    max_input_chars_per_word: Option<usize>,
}

fn read_capped(path: &Path) -> Result<Vec<u8>, EmbedError> {
    let err = |m: String| EmbedError::Model {
        path: path.to_path_buf(),
        message: m,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_MODEL_FILE {
        return Err(err(format!("{} bytes, over {MAX_MODEL_FILE}", meta.len())));
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

impl StaticModel {
    /// Loads `dir/tokenizer.json` and `dir/model.safetensors` (tensor `embeddings`,
    /// `[vocab, dims]`, F32, F16 or BF16).
    pub fn load(dir: &Path) -> Result<StaticModel, EmbedError> {
        let err = |m: String| EmbedError::Model {
            path: dir.to_path_buf(),
            message: m,
        };
        let tok_bytes = read_capped(&dir.join("tokenizer.json"))?;
        let tok: TokenizerJson =
            serde_json::from_slice(&tok_bytes).map_err(|e| err(format!("tokenizer.json: {e}")))?;
        let mut vocab: HashMap<String, u32> = HashMap::new();
        match &tok.model.vocab {
            // WordPiece / BPE: {"token": id}
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let id = v
                        .as_u64()
                        .ok_or_else(|| err(format!("vocab id of {k:?} is not a number")))?;
                    vocab.insert(k.clone(), id as u32);
                }
            }
            // Unigram: [["token", score], …], ids are positions.
            serde_json::Value::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let Some(t) = e.get(0).and_then(|t| t.as_str()) {
                        vocab.insert(t.to_string(), i as u32);
                    }
                }
            }
            _ => {
                return Err(err(
                    "tokenizer.json: model.vocab is neither map nor list".into()
                ));
            }
        }
        let lowercase = tok
            .normalizer
            .as_ref()
            .map(|n| {
                n.to_string().contains("\"lowercase\":true") || n.to_string().contains("Lowercase")
            })
            .unwrap_or(false);
        let prefix = match tok.model.kind.as_deref() {
            Some("WordPiece") | None => tok
                .model
                .continuing_subword_prefix
                .clone()
                .unwrap_or_else(|| "##".into()),
            _ => tok
                .model
                .continuing_subword_prefix
                .clone()
                .unwrap_or_default(),
        };
        let unk = tok
            .model
            .unk_token
            .as_ref()
            .and_then(|u| vocab.get(u).copied());

        let st_bytes = read_capped(&dir.join("model.safetensors"))?;
        let st = safetensors::SafeTensors::deserialize(&st_bytes)
            .map_err(|e| err(format!("model.safetensors: {e}")))?;
        let names = st.names();
        let name = if names.contains(&"embeddings") {
            "embeddings".to_string()
        } else if names.len() == 1 {
            names[0].to_string()
        } else {
            return Err(err("model.safetensors has no `embeddings` tensor".into()));
        };
        let t = st
            .tensor(&name)
            .map_err(|e| err(format!("tensor {name}: {e}")))?;
        let shape = t.shape();
        if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
            return Err(err(format!(
                "tensor {name} has shape {shape:?}, want [vocab, dims]"
            )));
        }
        let (rows, dims) = (shape[0], shape[1]);
        let data = t.data();
        use safetensors::Dtype;
        let table: Vec<f32> = match t.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(err(format!(
                    "tensor {name} is {other:?}; want F32, F16 or BF16"
                )));
            }
        };
        if table.len() != rows * dims {
            return Err(err("tensor size does not match its shape".into()));
        }
        if let Some(bad) = vocab.values().find(|id| **id as usize >= rows) {
            return Err(err(format!(
                "vocab id {bad} is outside the table ({rows} rows)"
            )));
        }
        Ok(StaticModel {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "model".into()),
            dims,
            table,
            vocab,
            prefix,
            unk,
            lowercase,
            max_word_chars: tok.model.max_input_chars_per_word.unwrap_or(100),
        })
    }

    /// Token ids of a text: split on whitespace and punctuation, then greedy longest-match
    /// sub-words (WordPiece).
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let text = if self.lowercase {
            text.to_lowercase()
        } else {
            text.to_string()
        };
        let mut ids = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut cur = String::new();
        for c in text.chars() {
            if c.is_whitespace() {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            } else if c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()) {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                words.push(c.to_string());
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        for w in words {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > self.max_word_chars {
                ids.extend(self.unk);
                continue;
            }
            let mut start = 0;
            let mut pieces = Vec::new();
            let mut ok = true;
            while start < chars.len() {
                let mut end = chars.len();
                let mut found = None;
                while end > start {
                    let mut s: String = chars[start..end].iter().collect();
                    if start > 0 {
                        s.insert_str(0, &self.prefix);
                    }
                    if let Some(id) = self.vocab.get(&s) {
                        found = Some(*id);
                        break;
                    }
                    end -= 1;
                }
                match found {
                    Some(id) => {
                        pieces.push(id);
                        start = end;
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                ids.extend(pieces);
            } else {
                ids.extend(self.unk);
            }
        }
        ids
    }

    /// Embeds one text: the mean of its tokens' rows, L2-normalised (zero for no known token).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dims];
        let ids = self.tokenize(text);
        let mut n = 0usize;
        for id in ids {
            if Some(id) == self.unk {
                continue;
            }
            let row = &self.table[id as usize * self.dims..(id as usize + 1) * self.dims];
            for (a, b) in v.iter_mut().zip(row) {
                *a += b;
            }
            n += 1;
        }
        if n > 0 {
            normalize(&mut v);
        }
        v
    }
}

impl Embedder for StaticModel {
    fn id(&self) -> String {
        format!("model2vec-{}-{}", self.name, self.dims)
    }
    fn dims(&self) -> usize {
        self.dims
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let out = texts.iter().map(|t| self.embed_one(t)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible endpoint

/// Largest embeddings answer read.
const MAX_REMOTE_ANSWER: usize = 64 * 1024 * 1024;

/// An OpenAI-compatible `/v1/embeddings` endpoint.
pub struct RemoteEmbedder {
    url: String,
    model: String,
    api_key: Option<String>,
    dims: usize,
    http: reqwest::Client,
}

impl std::fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("dims", &self.dims)
            .finish_non_exhaustive()
    }
}

/// Reads a response body up to `max` bytes.
pub(crate) async fn read_capped_body(r: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut s = r.bytes_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if out.len() + chunk.len() > max {
            return Err(format!("answer is over {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

impl RemoteEmbedder {
    /// Connects to `url` (base, e.g. `http://127.0.0.1:11434`) and learns the dimensions by
    /// embedding one word.
    pub async fn connect(
        url: String,
        model: String,
        api_key: Option<String>,
    ) -> Result<RemoteEmbedder, EmbedError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| EmbedError::Remote(e.to_string()))?;
        let mut me = RemoteEmbedder {
            url: url.trim_end_matches('/').to_string(),
            model,
            api_key,
            dims: 0,
            http,
        };
        let probe = me.call(&["dimensions".to_string()]).await?;
        me.dims = probe.first().map(Vec::len).unwrap_or(0);
        if me.dims == 0 {
            return Err(EmbedError::Remote(
                "the endpoint returned an empty vector".into(),
            ));
        }
        Ok(me)
    }

    async fn call(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        #[derive(Deserialize)]
        struct Item {
            embedding: Vec<f32>,
            #[serde(default)]
            index: Option<usize>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        let url = if self.url.ends_with("/v1") {
            format!("{}/embeddings", self.url)
        } else {
            format!("{}/v1/embeddings", self.url)
        };
        let mut req = self
            .http
            .post(url)
            .json(&serde_json::json!({ "model": self.model, "input": texts }));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let r = req
            .send()
            .await
            .map_err(|e| EmbedError::Remote(e.without_url().to_string()))?;
        let status = r.status();
        let body = read_capped_body(r, MAX_REMOTE_ANSWER)
            .await
            .map_err(EmbedError::Remote)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
            return Err(EmbedError::Remote(format!("HTTP {status}: {text}")));
        }
        let a: Answer = serde_json::from_slice(&body)
            .map_err(|e| EmbedError::Remote(format!("unexpected answer: {e}")))?;
        if a.data.len() != texts.len() {
            return Err(EmbedError::Remote(format!(
                "{} vectors for {} texts",
                a.data.len(),
                texts.len()
            )));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (i, item) in a.data.into_iter().enumerate() {
            let at = item.index.unwrap_or(i);
            if at >= out.len() {
                return Err(EmbedError::Remote(format!("index {at} out of range")));
            }
            let mut v = item.embedding;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(EmbedError::Remote(
                    "a vector with NaN or infinite values".into(),
                ));
            }
            if self.dims != 0 && v.len() != self.dims {
                return Err(EmbedError::Remote(format!(
                    "a vector of {} dimensions, expected {}",
                    v.len(),
                    self.dims
                )));
            }
            normalize(&mut v);
            out[at] = Some(v);
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| EmbedError::Remote("a text got no vector".into())))
            .collect()
    }
}

impl Embedder for RemoteEmbedder {
    fn id(&self) -> String {
        format!("openai-{}-{}-{}", self.url, self.model, self.dims)
    }
    fn dims(&self) -> usize {
        self.dims
    }
    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        Box::pin(self.call(texts))
    }
}

/// Cosine similarity of two unit vectors (their dot product).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashing_is_stable_normalised_and_similar_for_shared_words() {
        let e = HashEmbedder::default();
        let a = e.embed_one("How do I fix the borrow checker error in Rust?");
        let b = e.embed_one("rust borrow checker errors");
        let c = e.embed_one("a recipe for sourdough bread with rye flour");
        assert_eq!(
            a,
            e.embed_one("How do I fix the borrow checker error in Rust?")
        );
        assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
        assert!(dot(&a, &b) > 0.4, "{}", dot(&a, &b));
        assert!(dot(&a, &c).abs() < 0.2, "{}", dot(&a, &c));
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
    }
}
