//! The data directory: where a node keeps its key, database, blobs, index, config and token.
//!
//! ```text
//! <data dir>/
//!   keys/node.key   the identity (sealed with a passphrase, or plain with mode 0600)
//!   db/vivim.redb   redb: records, indexes and ACU bytes
//!   blobs/          iroh-blobs file store: ACU bytes and hash sequences
//!   index/          full-text search index (rebuilt from db/ if missing or damaged)
//!   vivim.toml      configuration
//!   token           bearer token for the local gateway (mode 0600)
//! ```

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use vivim_identity::{KdfParams, Keypair, KeystoreError, SealedKey};

use crate::config::Config;

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "VIVIM_DATA_DIR";

/// What went wrong with the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// No identity yet.
    #[error("no VIVIM identity in {0}: run `vivim init` first (or pass --data-dir)")]
    NotInitialized(PathBuf),
    /// `init` on a directory that already has a key.
    #[error("{0} already holds a VIVIM identity; refusing to overwrite it")]
    AlreadyInitialized(PathBuf),
    /// No platform data directory could be found.
    #[error("cannot find a home directory; pass --data-dir or set {DATA_DIR_ENV}")]
    NoDefault,
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file could not be opened.
    #[error("key file {path}: {source}")]
    Keystore {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: KeystoreError,
    },
    /// The config file is invalid.
    #[error("config file {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A data directory (which may not be initialized yet).
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The directory given, or the platform default (e.g. `~/.local/share/vivim`).
    pub fn resolve(given: Option<PathBuf>) -> Result<Self, DataDirError> {
        let root = match given {
            Some(p) => p,
            None => directories::ProjectDirs::from("", "", "vivim")
                .map(|d| d.data_dir().to_path_buf())
                .ok_or(DataDirError::NoDefault)?,
        };
        Ok(DataDir { root })
    }

    /// A data directory at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keys/node.key`
    pub fn key_path(&self) -> PathBuf {
        self.root.join("keys").join("node.key")
    }

    /// `db/` (holds `vivim.redb`)
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// `blobs/`
    pub fn blobs_path(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `index/`
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index")
    }

    /// `vivim.toml`
    pub fn config_path(&self) -> PathBuf {
        self.root.join("vivim.toml")
    }

    /// `token`
    pub fn token_path(&self) -> PathBuf {
        self.root.join("token")
    }

    /// `gateway.addr`: where a running node's gateway listens (removed on shutdown).
    pub fn gateway_addr_path(&self) -> PathBuf {
        self.root.join("gateway.addr")
    }

    /// Whether an identity exists here.
    pub fn is_initialized(&self) -> bool {
        self.key_path().exists()
    }

    /// Creates the directory layout and a new identity. Fails if one exists.
    pub fn init(&self, passphrase: Option<&[u8]>, kdf: KdfParams) -> Result<Keypair, DataDirError> {
        self.init_with(Keypair::generate(), passphrase, kdf)
    }

    /// Creates the layout around a given key (restore from a mnemonic).
    pub fn init_with(
        &self,
        key: Keypair,
        passphrase: Option<&[u8]>,
        kdf: KdfParams,
    ) -> Result<Keypair, DataDirError> {
        let key_path = self.key_path();
        if key_path.exists() {
            return Err(DataDirError::AlreadyInitialized(self.root.clone()));
        }
        for dir in [self.root.clone(), self.root.join("keys")] {
            fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        }
        set_mode(&self.root, 0o700)?;
        set_mode(&self.root.join("keys"), 0o700)?;
        let sealed =
            SealedKey::seal(&key, passphrase, kdf).map_err(|source| DataDirError::Keystore {
                path: key_path.clone(),
                source,
            })?;
        write_private(&key_path, &sealed.to_bytes())?;
        let cfg = self.config_path();
        if !cfg.exists() {
            write_private(&cfg, Config::default_toml().as_bytes())?;
        }
        self.token()?;
        Ok(key)
    }

    /// Opens the identity. A sealed key needs its passphrase.
    pub fn load_key(&self, passphrase: Option<&[u8]>) -> Result<Keypair, DataDirError> {
        let path = self.key_path();
        if !path.exists() {
            return Err(DataDirError::NotInitialized(self.root.clone()));
        }
        let bytes = read_limited(&path, vivim_identity::keystore_limit())?;
        let sealed = SealedKey::from_bytes(&bytes).map_err(|source| DataDirError::Keystore {
            path: path.clone(),
            source,
        })?;
        sealed
            .open(passphrase)
            .map_err(|source| DataDirError::Keystore { path, source })
    }

    /// Takes group and other access away from the data dir (0700: it holds share content keys)
    /// and `vivim.toml` (0600: it may hold API keys) when they have it; data dirs made before
    /// this rule followed the umask. Called when a node opens.
    pub fn tighten(&self) -> Result<(), DataDirError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for (path, mode) in [(self.root.clone(), 0o700), (self.config_path(), 0o600)] {
                if let Ok(meta) = fs::metadata(&path)
                    && meta.permissions().mode() & 0o077 != 0
                {
                    set_mode(&path, mode)?;
                }
            }
        }
        Ok(())
    }

    /// The configuration (defaults where the file is silent or missing).
    pub fn config(&self) -> Result<Config, DataDirError> {
        let path = self.config_path();
        if !path.exists() {
            return Ok(Config::default());
        }
        let bytes = read_limited(&path, 1024 * 1024)?;
        let text = String::from_utf8(bytes).map_err(|_| DataDirError::Config {
            path: path.clone(),
            message: "not UTF-8".into(),
        })?;
        let cfg: Config = toml::from_str(&text).map_err(|e| DataDirError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        cfg.validate()
            .map_err(|message| DataDirError::Config { path, message })?;
        Ok(cfg)
    }

    /// The gateway bearer token, created (random, mode 0600) if missing.
    pub fn token(&self) -> Result<String, DataDirError> {
        let path = self.token_path();
        if path.exists() {
            let bytes = read_limited(&path, 4096)?;
            let t = String::from_utf8_lossy(&bytes).trim().to_string();
            if !t.is_empty() {
                return Ok(t);
            }
        }
        fs::create_dir_all(&self.root).map_err(io("create directory", &self.root))?;
        let mut raw = [0u8; 32];
        getrandom::getrandom(&mut raw).map_err(|e| DataDirError::Io {
            action: "read random bytes for",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let token = format!("vivim_{}", vivim_protocol::Hash(raw).to_hex());
        write_private(&path, format!("{token}\n").as_bytes())?;
        Ok(token)
    }
}

/// Reads a file, refusing files over `max` bytes.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, DataDirError> {
    let meta = fs::metadata(path).map_err(io("read", path))?;
    if meta.len() > max {
        return Err(DataDirError::Io {
            action: "read",
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "file is {} bytes, over the {max}-byte limit",
                meta.len()
            )),
        });
    }
    fs::read(path).map_err(io("read", path))
}

/// Writes a file readable only by its owner (0600), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    write_atomic(path, bytes, 0o600)
}

/// Writes `bytes` to a temporary file, syncs it, and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        let mut f = opts.open(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
    }
    set_mode(&tmp, mode)?;
    fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    if let Some(parent) = path.parent()
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DataDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io("set permissions on", path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_load_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::at(dir.path().join("d"));
        assert!(matches!(
            dd.load_key(None),
            Err(DataDirError::NotInitialized(_))
        ));
        let kp = dd.init(None, KdfParams::default()).unwrap();
        assert_eq!(dd.load_key(None).unwrap().did(), kp.did());
        assert!(matches!(
            dd.init(None, KdfParams::default()),
            Err(DataDirError::AlreadyInitialized(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dd.key_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = fs::metadata(dd.token_path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dd.root()), 0o700);
            assert_eq!(mode(&dd.config_path()), 0o600);
            // A data dir made under a loose umask is tightened when a node opens it.
            fs::set_permissions(dd.root(), fs::Permissions::from_mode(0o755)).unwrap();
            fs::set_permissions(dd.config_path(), fs::Permissions::from_mode(0o644)).unwrap();
            dd.tighten().unwrap();
            assert_eq!(mode(dd.root()), 0o700);
            assert_eq!(mode(&dd.config_path()), 0o600);
        }
        let t1 = dd.token().unwrap();
        assert_eq!(dd.token().unwrap(), t1);
        assert!(dd.config().is_ok());
    }

    #[test]
    fn passphrase_protected_key() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::at(dir.path());
        let kp = dd
            .init(Some(b"pw"), KdfParams::insecure_for_tests())
            .unwrap();
        assert_eq!(dd.load_key(Some(b"pw")).unwrap().did(), kp.did());
        let err = dd.load_key(Some(b"nope")).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        let err = dd.load_key(None).unwrap_err();
        assert!(err.to_string().contains("passphrase"), "{err}");
    }

    #[test]
    fn bad_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::at(dir.path());
        fs::write(dd.config_path(), "[gateway\nlisten = 5").unwrap();
        let err = dd.config().unwrap_err();
        assert!(err.to_string().contains("vivim.toml"), "{err}");
    }
}
