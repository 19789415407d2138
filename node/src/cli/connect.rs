//! Opening the node: the global flags (which data dir, which passphrase) and the one
//! connect → call → close helper every command that talks to the node goes through.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use vivim_node::{
    client::Client,
    datadir::{DATA_DIR_ENV, DataDir},
};

/// The flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Data directory (default: the platform data dir, e.g. ~/.local/share/vivim).
    #[arg(long, global = true, env = DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    /// Read the key's passphrase from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

impl Global {
    /// The data directory: `--data-dir`, else `$VIVIM_DATA_DIR`, else the platform's.
    pub fn dir(&self) -> Result<DataDir> {
        Ok(DataDir::resolve(self.data_dir.clone())?)
    }

    /// The key's passphrase from the variable `--passphrase-env` names (`None` without the
    /// flag); an unset or empty variable is an error.
    pub fn passphrase(&self) -> Result<Option<Vec<u8>>> {
        match &self.passphrase_env {
            None => Ok(None),
            Some(var) => {
                let v = std::env::var(var).with_context(|| {
                    format!("environment variable {var} (--passphrase-env) is not set")
                })?;
                if v.is_empty() {
                    bail!("environment variable {var} (--passphrase-env) is empty");
                }
                Ok(Some(v.into_bytes()))
            }
        }
    }
}

/// Connects to the node (the running one's gateway, else the data dir in-process), runs `call`
/// on it, then closes it — also when `call` failed, so an in-process node always flushes. A
/// failed close is reported before `call`'s own error. What `call` returns comes back after the
/// close: commands that print only once the node is closed print from it.
pub async fn with_client<T, E>(
    global: &Global,
    call: impl AsyncFnOnce(&Client) -> Result<T, E>,
) -> Result<T>
where
    anyhow::Error: From<E>,
{
    let client = Client::connect(global.dir()?, global.passphrase()?.as_deref()).await?;
    let result = call(&client).await;
    client.close().await?;
    Ok(result?)
}
