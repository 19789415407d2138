//! VIVIM for other languages: a narrow, app-level surface of the node, exported with
//! [uniffi](https://mozilla.github.io/uniffi-rs/) to Python, Kotlin and Swift.
//!
//! The surface is deliberately small (open, import, list, read, search, context, share, open
//! a link, events, close): iroh-ffi's lesson is that a broad surface cannot keep up with a
//! moving Rust API. Everything runs on one multi-thread tokio runtime inside the library.
//! Local reads are plain (blocking) calls; network work (`share`, `open_link`) is async. Events
//! are pulled ([`EventStream::next`], [`EventStream::next_timeout`]) rather than pushed into
//! foreign callbacks from tokio threads. Every error is one [`VivimError`].
//!
//! A node is opened on a data dir ([`open_node`]): when a node already runs on it, its
//! gateway is used instead (same answers, through HTTP on 127.0.0.1); [`connect`] names a
//! gateway explicitly.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, RwLock},
};

use vivim_node::{
    Client, DataDir, Format, Node, P2p,
    net::p2p::P2pConfig,
    organize::ContextRequest,
    share::state::{ShareSpec, Target},
    views::SearchParams,
};

mod error;
mod events;
mod records;

pub use error::VivimError;
pub use events::EventStream;
pub use records::*;

uniffi::setup_scaffolding!();

/// The runtime every call runs on (worker threads as many as cores).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vivim")
        .build()
        .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"))
});

/// Runs `f` on the runtime from any thread (blocking calls).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.block_on(f)
}

/// Runs `f` on the runtime and awaits it from whatever executor polls the caller (async
/// calls: the foreign language's event loop polls this future; tokio does the work).
async fn spawn<T: Send + 'static>(
    f: impl std::future::Future<Output = Result<T, VivimError>> + Send + 'static,
) -> Result<T, VivimError> {
    RUNTIME
        .spawn(f)
        .await
        .map_err(|e| VivimError::Internal(format!("task failed: {e}")))?
}

/// The library's version.
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// How to open a data dir.
#[derive(Debug, Clone, uniffi::Record)]
pub struct OpenOptions {
    /// Create an identity when the dir has none.
    #[uniffi(default = false)]
    pub create: bool,
    /// The key file's passphrase, if it has one (or for the new identity).
    #[uniffi(default = None)]
    pub passphrase: Option<String>,
    /// Start libp2p and iroh in this process (needed to open share links and to serve one's
    /// own). Without it, a node already running on the dir is used through its gateway.
    #[uniffi(default = false)]
    pub network: bool,
    /// libp2p listen multiaddrs (default: vivim.toml's).
    #[uniffi(default = [])]
    pub listen: Vec<String>,
    /// Bootstrap peers (multiaddrs with /p2p/…), added to vivim.toml's.
    #[uniffi(default = [])]
    pub bootstrap: Vec<String>,
    /// Where the iroh endpoint binds (default: vivim.toml's).
    #[uniffi(default = None)]
    pub iroh_bind: Option<String>,
    /// Look for peers on the local network.
    #[uniffi(default = true)]
    pub mdns: bool,
    /// Compute embeddings and memories in the background, as `vivim up` does.
    #[uniffi(default = true)]
    pub organize: bool,
}

/// Who a new share is for (exactly one of `link`, `to`, `circle`, `public`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct ShareOptions {
    /// A link that carries the key: whoever has it can read.
    #[uniffi(default = false)]
    pub link: bool,
    /// These people (DIDs).
    #[uniffi(default = [])]
    pub to: Vec<String>,
    /// The members of this circle (id or name).
    #[uniffi(default = None)]
    pub circle: Option<String>,
    /// Everyone (published on the network).
    #[uniffi(default = false)]
    pub public: bool,
    /// How long it lasts.
    #[uniffi(default = None)]
    pub expires_in_s: Option<u64>,
}

/// Opens the node on the data dir at `path`.
///
/// When a node already runs there (and `network` is off), its gateway is used instead;
/// when another process holds the dir without an answering gateway, this fails with
/// [`VivimError::Locked`].
#[uniffi::export]
pub fn open_node(path: String, options: OpenOptions) -> Result<Arc<EmbeddedNode>, VivimError> {
    block_on(open_async(path, options))
}

async fn open_async(path: String, o: OpenOptions) -> Result<Arc<EmbeddedNode>, VivimError> {
    let dir = DataDir::at(&path);
    if !o.network
        && dir.is_initialized()
        && let Some(client) = Client::running(&dir).await
    {
        return Ok(EmbeddedNode::new(client, None, dir));
    }
    if !o.create && !dir.is_initialized() {
        return Err(VivimError::NotInitialized(format!(
            "no VIVIM identity in {path}: open it with create=True"
        )));
    }
    let pass = o.passphrase.as_ref().map(|p| p.as_bytes().to_vec());
    let node = Node::open(dir.clone(), pass.as_deref(), o.create).await?;
    let mut p2p = None;
    if o.network {
        let mut net = node.config.network.clone();
        if !o.listen.is_empty() {
            net.listen = o.listen.clone();
        }
        net.bootstrap.extend(o.bootstrap.iter().cloned());
        if let Some(b) = &o.iroh_bind {
            net.iroh_bind = b.clone();
        }
        net.mdns &= o.mdns;
        let cfg = P2pConfig::from_config(&net)?;
        match P2p::start(node.clone(), cfg).await {
            Ok(p) => p2p = Some(p),
            Err(e) => {
                let _ = node.shutdown().await;
                return Err(e.into());
            }
        }
    }
    if o.organize {
        vivim_node::organize::spawn_worker(&node);
    }
    Ok(EmbeddedNode::new(Client::Local(node), p2p, dir))
}

/// Uses the node running behind the gateway at `url` (`http://127.0.0.1:7777`), with the
/// token `vivim token` prints.
#[uniffi::export]
pub fn connect(url: String, token: String) -> Result<Arc<EmbeddedNode>, VivimError> {
    let client = Client::remote(&url, &token)?;
    let status: serde_json::Value =
        block_on(client.route("GET", "/api/admin/status", None)).map_err(VivimError::from)?;
    let dir = status["data_dir"]
        .as_str()
        .map(DataDir::at)
        .unwrap_or_else(|| DataDir::at(""));
    Ok(EmbeddedNode::new(client, None, dir))
}

struct Open {
    client: Arc<Client>,
    p2p: Option<Arc<P2p>>,
}

/// A conversation read once, kept until the node's data changes (as the gateway does).
struct Cached {
    generation: u64,
    detail: Arc<ConversationDetail>,
    json: Arc<str>,
}

/// Conversations kept at most (the cache is cleared when full).
const CACHE_ENTRIES: usize = 256;

/// A VIVIM node: embedded in this process, or a running node reached through its gateway.
#[derive(uniffi::Object)]
pub struct EmbeddedNode {
    state: RwLock<Option<Open>>,
    dir: DataDir,
    cache: Mutex<HashMap<String, Cached>>,
}

impl EmbeddedNode {
    fn new(client: Client, p2p: Option<Arc<P2p>>, dir: DataDir) -> Arc<Self> {
        Arc::new(EmbeddedNode {
            state: RwLock::new(Some(Open {
                client: Arc::new(client),
                p2p,
            })),
            dir,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A conversation as a record and as the gateway's JSON, from the cache while the node's
    /// data is unchanged (an embedded node; a remote one caches on its side).
    fn read(&self, id: &str) -> Result<(Arc<ConversationDetail>, Arc<str>), VivimError> {
        let client = self.client()?;
        let key = match &*client {
            Client::Local(n) => {
                let conv = n.store.resolve(id)?.to_string();
                let generation = n.generation();
                let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = cache.get(&conv)
                    && c.generation == generation
                {
                    return Ok((c.detail.clone(), c.json.clone()));
                }
                Some((conv, generation))
            }
            _ => None,
        };
        let d = block_on(client.show(key.as_ref().map_or(id, |(c, _)| c.as_str())))?;
        let json: Arc<str> = serde_json::to_string(&d)
            .map_err(|e| VivimError::Internal(e.to_string()))?
            .into();
        let detail = Arc::new(ConversationDetail {
            conversation: Conversation::from(&d.conversation),
            messages: d.messages.iter().map(Message::from).collect(),
        });
        if let Some((conv, generation)) = key {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(
                conv,
                Cached {
                    generation,
                    detail: detail.clone(),
                    json: json.clone(),
                },
            );
        }
        Ok((detail, json))
    }

    fn client(&self) -> Result<Arc<Client>, VivimError> {
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        s.as_ref().map(|o| o.client.clone()).ok_or_else(closed)
    }

    fn network(&self) -> Result<Option<Arc<P2p>>, VivimError> {
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        s.as_ref().map(|o| o.p2p.clone()).ok_or_else(closed)
    }
}

fn closed() -> VivimError {
    VivimError::Closed("this node was closed".into())
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, VivimError> {
    serde_json::from_value(v).map_err(|e| VivimError::Internal(format!("unexpected answer: {e}")))
}

#[uniffi::export]
impl EmbeddedNode {
    /// This node's identity, `did:key:z6Mk…`.
    pub fn did(&self) -> Result<String, VivimError> {
        match &*self.client()? {
            Client::Local(n) => Ok(n.key.did().to_string()),
            c => {
                let v = block_on(c.route("GET", "/api/admin/status", None))?;
                v["did"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| VivimError::Internal("status without a did".into()))
            }
        }
    }

    /// Whether calls go to a running node's gateway rather than to this process.
    pub fn is_remote(&self) -> Result<bool, VivimError> {
        Ok(self.client()?.is_remote())
    }

    /// The data dir.
    pub fn data_dir(&self) -> String {
        self.dir.root().display().to_string()
    }

    /// Imports an export: a file (zip, JSON, HTML, Markdown) or an `https://` share URL.
    /// `format`: auto (default), chatgpt, claude, gemini, chatgpt-share, sharegpt, markdown.
    #[uniffi::method(default(format = None))]
    pub fn import_path(
        &self,
        path: String,
        format: Option<String>,
    ) -> Result<ImportSummary, VivimError> {
        let format: Format = format
            .as_deref()
            .unwrap_or("auto")
            .parse()
            .map_err(VivimError::Invalid)?;
        let is_url = path.starts_with("http://") || path.starts_with("https://");
        if !is_url && !std::path::Path::new(&path).exists() {
            return Err(VivimError::NotFound(format!("no such file: {path}")));
        }
        let client = self.client()?;
        let v = block_on(client.import(&path, format, None))?;
        Ok(parse::<vivim_node::ImportSummary>(v)?.into())
    }

    /// Conversations, most recently changed first.
    #[uniffi::method(default(limit = 50))]
    pub fn conversations(&self, limit: u32) -> Result<Vec<Conversation>, VivimError> {
        let client = self.client()?;
        let list = block_on(client.list(limit as usize))?;
        Ok(list.iter().map(Conversation::from).collect())
    }

    /// One conversation with its messages (`id` may be a unique prefix of 6+ hex chars).
    pub fn conversation(&self, id: String) -> Result<ConversationDetail, VivimError> {
        Ok((*self.read(&id)?.0).clone())
    }

    /// The same conversation as the gateway's JSON (`GET /api/v1/conversations/{id}`): one
    /// string to cross the boundary, for languages where lifting many records is slow
    /// (Python's wrapper parses it with its C JSON parser).
    pub fn conversation_json(&self, id: String) -> Result<String, VivimError> {
        Ok(self.read(&id)?.1.to_string())
    }

    /// Deletes a conversation; returns its full id.
    pub fn delete(&self, id: String) -> Result<String, VivimError> {
        let client = self.client()?;
        Ok(block_on(client.delete(&id))?)
    }

    /// Searches messages. `mode`: text (default), vector or hybrid.
    #[uniffi::method(default(mode = None, limit = 10))]
    pub fn search(
        &self,
        query: String,
        mode: Option<String>,
        limit: u32,
    ) -> Result<Vec<SearchHit>, VivimError> {
        let client = self.client()?;
        let p = SearchParams::new(query, limit as usize, mode);
        let r = block_on(client.search(&p))?;
        Ok(r.hits.iter().map(SearchHit::from).collect())
    }

    /// Assembles what an AI provider should know to answer `query` (memories, relevant
    /// messages) within `budget_tokens`.
    #[uniffi::method(default(budget_tokens = 2000))]
    pub fn context(&self, query: String, budget_tokens: u32) -> Result<Context, VivimError> {
        let client = self.client()?;
        let req = ContextRequest::new(query, budget_tokens as usize);
        let c = block_on(client.context(&req))?;
        Ok(Context {
            prompt: c.prompt,
            system: c.system,
            total_tokens: c.total_tokens as u64,
            budget_tokens: c.budget_tokens as u64,
            tokenizer: c.tokenizer,
            memory_ids: c.memory_ids,
            acu_ids: c.acu_ids,
        })
    }

    /// Shares a conversation (sealed; see [`ShareOptions`]).
    pub async fn share(
        &self,
        conversation: String,
        options: ShareOptions,
    ) -> Result<Share, VivimError> {
        let client = self.client()?;
        spawn(async move {
            match &*client {
                Client::Local(n) => {
                    let spec = ShareSpec {
                        content: conversation,
                        target: target(&options)?,
                        expires_in_ms: options.expires_in_s.map(|s| s.saturating_mul(1000)),
                        kind: vivim_protocol::IntentKind::Share,
                        draft: false,
                    };
                    Ok(n.share(spec).await?.into())
                }
                c => {
                    let body = serde_json::json!({
                        "content": conversation,
                        "link": options.link,
                        "to": options.to,
                        "circle": options.circle,
                        "public": options.public,
                        "expires_in_s": options.expires_in_s,
                    });
                    let v = c.route("POST", "/api/v2/shares", Some(&body)).await?;
                    Ok(parse::<vivim_node::share::state::ShareOut>(v)?.into())
                }
            }
        })
        .await
    }

    /// Shares made here and received, newest first.
    pub fn shares(&self) -> Result<Vec<Share>, VivimError> {
        let client = self.client()?;
        let v = block_on(client.route("GET", "/api/v2/shares", None))?;
        let list: Vec<vivim_node::share::state::ShareOut> = parse(v)?;
        Ok(list.into_iter().map(Share::from).collect())
    }

    /// Opens a share link (`vivim://share/…`): downloads the sealed conversation from a peer,
    /// decrypts and verifies it, and stores it. Needs the network (open with `network`).
    pub async fn open_link(&self, link: String) -> Result<Opened, VivimError> {
        let client = self.client()?;
        let p2p = self.network()?;
        spawn(async move {
            let parsed: vivim_protocol::ShareLink = link
                .parse()
                .map_err(|e: vivim_protocol::LinkError| VivimError::Invalid(e.to_string()))?;
            match (&*client, p2p) {
                (Client::Local(_), Some(p)) => Ok(p.open_link(&parsed).await?.into()),
                (Client::Local(_), None) => Err(VivimError::Network(
                    "the network is off: open the node with network=True to open links".into(),
                )),
                (c, _) => {
                    let body = serde_json::json!({ "link": link });
                    let v = c.route("POST", "/api/v2/open", Some(&body)).await?;
                    Ok(parse::<vivim_node::share::net::Opened>(v)?.into())
                }
            }
        })
        .await
    }

    /// A stream of what happens on the node from now on: an embedded node's own events, or a
    /// running node's `/api/ws` (the same shapes).
    pub fn events(&self) -> Result<Arc<EventStream>, VivimError> {
        let client = self.client()?;
        match &*client {
            Client::Local(n) => Ok(Arc::new(EventStream::new(n.events.subscribe()))),
            c => {
                let rx = block_on(c.remote_events())?;
                Ok(Arc::new(EventStream::remote(rx)))
            }
        }
    }

    /// The libp2p peer id, when the network runs in this process.
    pub fn peer_id(&self) -> Result<Option<String>, VivimError> {
        Ok(self.network()?.map(|p| p.peer_id().to_string()))
    }

    /// Addresses other nodes can bootstrap from (multiaddrs with `/p2p/…`), when the network
    /// runs in this process.
    pub async fn listen_addrs(&self) -> Result<Vec<String>, VivimError> {
        let Some(p) = self.network()? else {
            return Ok(Vec::new());
        };
        spawn(async move {
            Ok(p.bootstrap_addrs()
                .await
                .iter()
                .map(|a| a.to_string())
                .collect())
        })
        .await
    }

    /// Stops the network and flushes everything; later calls fail with
    /// [`VivimError::Closed`]. Closing twice is harmless.
    pub fn close(&self) -> Result<(), VivimError> {
        let taken = self.state.write().unwrap_or_else(|p| p.into_inner()).take();
        let Some(open) = taken else {
            return Ok(());
        };
        block_on(async move {
            if let Some(p) = open.p2p {
                p.shutdown().await;
            }
            if let Client::Local(n) = &*open.client {
                n.shutdown().await?;
            }
            Ok(())
        })
    }
}

fn target(o: &ShareOptions) -> Result<Target, VivimError> {
    let chosen = [o.link, !o.to.is_empty(), o.circle.is_some(), o.public]
        .iter()
        .filter(|b| **b)
        .count();
    if chosen != 1 {
        return Err(VivimError::Invalid(
            "give exactly one audience: link, to, circle or public".into(),
        ));
    }
    Ok(if o.link {
        Target::Link
    } else if let Some(c) = &o.circle {
        Target::Circle(c.clone())
    } else if o.public {
        Target::Public
    } else {
        Target::Users(
            o.to.iter()
                .map(|d| {
                    d.parse()
                        .map_err(|e| VivimError::Invalid(format!("{d}: {e}")))
                })
                .collect::<Result<_, _>>()?,
        )
    })
}
