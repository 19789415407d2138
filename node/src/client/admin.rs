//! The CLI's side of data care: `vivim backup`, `check`, `rebuild` — through the gateway when
//! a node runs (a backup is then streamed into the file), on the data dir when none does.

use std::{io::Write, path::Path};

use super::{Client, ClientError, api_error};
use crate::admin::{AdminError, backup::BackupSummary};

fn local(e: AdminError) -> ClientError {
    super::from_api(crate::gateway::ApiError::from(e))
}

impl Client {
    /// Writes a backup of the node to `out` (keys inside, sealed, when `keys` is a
    /// passphrase).
    pub async fn backup(
        &self,
        out: &Path,
        keys: Option<&str>,
    ) -> Result<BackupSummary, ClientError> {
        match self {
            Client::Local(node) => node.backup(out, keys).await.map_err(local),
            Client::Remote { base, token, http } => {
                let started = std::time::Instant::now();
                let body = serde_json::json!({ "keys": keys.is_some(), "passphrase": keys });
                let mut r = http
                    .post(format!("{base}/api/admin/backup"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?;
                if !r.status().is_success() {
                    return Err(api_error(r).await);
                }
                let tmp = out.with_extension("partial");
                let io = |e: std::io::Error| ClientError::Http(format!("{}: {e}", tmp.display()));
                let mut file = std::fs::File::create(&tmp).map_err(io)?;
                let mut bytes = 0u64;
                while let Some(chunk) = r
                    .chunk()
                    .await
                    .map_err(|e| ClientError::Http(e.to_string()))?
                {
                    file.write_all(&chunk).map_err(io)?;
                    bytes += chunk.len() as u64;
                }
                file.sync_all().map_err(io)?;
                drop(file);
                std::fs::rename(&tmp, out).map_err(io)?;
                let manifest = crate::admin::restore::read_manifest(out).map_err(local)?;
                Ok(BackupSummary {
                    manifest,
                    bytes,
                    took_ms: started.elapsed().as_millis() as u64,
                })
            }
        }
    }
}
