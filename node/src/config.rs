//! `vivim.toml`: the node's configuration. Every field has a default, so an empty file (or none)
//! is a valid configuration.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The local gateway.
    pub gateway: GatewayConfig,
    /// Importing.
    pub import: ImportConfig,
    /// Peer to peer.
    pub network: NetworkConfig,
    /// Embeddings for semantic search and memory.
    pub embed: crate::organize::embed::EmbedConfig,
    /// The AI provider for memory extraction and `/api/v2/context` with `send`.
    pub provider: crate::organize::ai::ProviderConfig,
    /// The MCP server (`vivim mcp`, `/api/mcp`).
    pub mcp: McpConfig,
}

/// What the MCP server offers to assistants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// The tools offered. The read tools are on by default; the write tools (`remember`: add
    /// a memory; `capture`: store an exchange as a conversation) only when named here.
    pub tools: Vec<String>,
    /// Longest tool answer, in characters; a longer one is cut into pages, and the answer
    /// says how to ask for the next.
    pub max_answer_chars: usize,
}

/// The tools `[mcp] tools` names by default: all but the write tools.
pub const MCP_READ_TOOLS: [&str; 7] = [
    "search",
    "get_conversation",
    "list_conversations",
    "related",
    "memories",
    "context",
    "feed",
];

/// The tools that change what the node holds (off unless named in `[mcp] tools`).
pub const MCP_WRITE_TOOLS: [&str; 2] = ["remember", "capture"];

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            tools: MCP_READ_TOOLS.iter().map(|t| t.to_string()).collect(),
            max_answer_chars: 40_000,
        }
    }
}

/// Peer-to-peer settings (`vivim up` flags override them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Start libp2p and iroh with the node.
    pub enabled: bool,
    /// libp2p listen multiaddrs.
    pub listen: Vec<String>,
    /// Bootstrap peers (`/ip4/…/tcp/…/p2p/<peer id>`), e.g. a community relay node.
    pub bootstrap: Vec<String>,
    /// Where the iroh endpoint binds.
    pub iroh_bind: String,
    /// iroh relay URLs (empty: direct connections only).
    pub relay_urls: Vec<String>,
    /// Find peers on the local network with mDNS.
    pub mdns: bool,
    /// The largest conversation `vivim fetch` downloads, in bytes.
    pub max_fetch_bytes: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            enabled: true,
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".into(),
                "/ip4/0.0.0.0/udp/0/quic-v1".into(),
            ],
            bootstrap: Vec::new(),
            iroh_bind: "0.0.0.0:0".into(),
            relay_urls: Vec::new(),
            mdns: true,
            max_fetch_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Gateway settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where the gateway listens. Keep it on loopback unless you know why not.
    pub listen: SocketAddr,
    /// Browser origins allowed by CORS and to open the gateway's WebSockets (e.g.
    /// `http://localhost:5173`). Empty: none but the gateway's own. `*` is refused: any web
    /// page could then read the node.
    pub cors_origins: Vec<String>,
    /// Host names (without port) the gateway answers besides loopback ones (`localhost`,
    /// `*.localhost`, `127.0.0.0/8`, `::1`) and the address it listens on. A request naming
    /// another `Host` gets 421: a web page that rebinds its own name to 127.0.0.1 cannot reach
    /// the node.
    pub allowed_hosts: Vec<String>,
    /// Largest JSON request body in bytes.
    pub max_body_bytes: usize,
    /// Largest upload (import) in bytes.
    pub max_upload_bytes: usize,
    /// Requests per second the gateway serves to authenticated clients before answering 429
    /// (0: unlimited). All clients are local, so the bucket is shared. Requests without the
    /// token are limited per client address, whatever this says.
    pub rate_limit_per_sec: u32,
    /// Serve the web app from this folder (a build of `node/web`) instead of the copy built
    /// into the binary; `vivim up --web-dir` sets it for one run.
    pub web_dir: Option<std::path::PathBuf>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7777)),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            rate_limit_per_sec: 0,
            web_dir: None,
        }
    }
}

impl GatewayConfig {
    /// The host names the gateway answers: loopback names, the address it listens on, and
    /// `allowed_hosts` (the gateway's `Host` check and the MCP transport's use it).
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        if !self.listen.ip().is_unspecified() {
            hosts.push(self.listen.ip().to_string());
        }
        hosts.extend(self.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()));
        hosts
    }
}

/// Import settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Largest export file (or uncompressed zip member) accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest page fetched from a URL, in bytes.
    pub max_url_bytes: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            max_file_bytes: 8 * 1024 * 1024 * 1024,
            max_url_bytes: 32 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Checks what serde cannot: that `[mcp] tools` names only tools that exist, and that
    /// `[gateway] cors_origins` names origins (never `*`).
    pub fn validate(&self) -> Result<(), String> {
        for o in &self.gateway.cors_origins {
            if o.trim() == "*" || o.contains('*') {
                return Err(format!(
                    "[gateway] cors_origins holds {o:?}: a wildcard would let any web page read \
                     your node; name each origin, e.g. \"http://localhost:5173\""
                ));
            }
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && !o.trim_end_matches('/').contains(['?', '#', ' '])
                && axum::http::HeaderValue::from_str(o).is_ok();
            if !ok {
                return Err(format!(
                    "[gateway] cors_origins holds {o:?}, which is not an origin \
                     (scheme://host[:port], e.g. \"http://localhost:5173\")"
                ));
            }
        }
        for h in &self.gateway.allowed_hosts {
            if h.is_empty() || h.contains(['/', ' ', '*']) {
                return Err(format!(
                    "[gateway] allowed_hosts holds {h:?}, which is not a host name \
                     (e.g. \"vivim.lan\")"
                ));
            }
        }
        for t in &self.mcp.tools {
            if !MCP_READ_TOOLS.contains(&t.as_str()) && !MCP_WRITE_TOOLS.contains(&t.as_str()) {
                let all: Vec<&str> = MCP_READ_TOOLS
                    .iter()
                    .chain(&MCP_WRITE_TOOLS)
                    .copied()
                    .collect();
                return Err(format!(
                    "[mcp] tools names {t:?}, which is not a tool; the tools are {}",
                    all.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The file `vivim init` writes: the defaults, commented.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&Config::default()).unwrap_or_default();
        format!(
            "# VIVIM node configuration. Every setting has a default; delete what you do not change.\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_back_to_defaults() {
        let parsed: Config = toml::from_str(&Config::default_toml()).unwrap();
        assert_eq!(parsed, Config::default());
        let empty: Config = toml::from_str("").unwrap();
        assert_eq!(empty, Config::default());
        assert!(toml::from_str::<Config>("[gateway]\nlisten = \"nope\"").is_err());
        assert!(toml::from_str::<Config>("[gatway]\n").is_err());
        let mcp: Config = toml::from_str("[mcp]\ntools = [\"search\", \"remember\"]").unwrap();
        assert!(mcp.validate().is_ok());
        let bad: Config = toml::from_str("[mcp]\ntools = [\"serach\"]").unwrap();
        assert!(bad.validate().unwrap_err().contains("serach"));
        let star: Config = toml::from_str("[gateway]\ncors_origins = [\"*\"]").unwrap();
        assert!(star.validate().unwrap_err().contains("wildcard"));
        let path: Config = toml::from_str("[gateway]\ncors_origins = [\"localhost\"]").unwrap();
        assert!(path.validate().unwrap_err().contains("not an origin"));
        let ok: Config =
            toml::from_str("[gateway]\ncors_origins = [\"http://localhost:5173\"]").unwrap();
        assert!(ok.validate().is_ok());
    }
}
