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
}

/// Gateway settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where the gateway listens. Keep it on loopback unless you know why not.
    pub listen: SocketAddr,
    /// Browser origins allowed by CORS (e.g. `http://localhost:5173`). Empty: none.
    pub cors_origins: Vec<String>,
    /// Largest JSON request body in bytes.
    pub max_body_bytes: usize,
    /// Largest upload (import) in bytes.
    pub max_upload_bytes: usize,
    /// Requests per second the gateway serves before answering 429 (0: unlimited). All clients
    /// are local, so the bucket is shared.
    pub rate_limit_per_sec: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7777)),
            cors_origins: Vec::new(),
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            rate_limit_per_sec: 0,
        }
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
    }
}
