//! One error type for every call, so that each foreign language sees one exception family
//! (`vivim.VivimError` in Python, with a subclass per variant).

use vivim_identity::KeystoreError;
use vivim_node::{ClientError, NodeError, StoreError, datadir::DataDirError, net::p2p::P2pError};

/// Why a call failed. Each variant carries the node's own message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum VivimError {
    /// No such conversation, share or file.
    #[error("{0}")]
    NotFound(String),
    /// The input was refused (an unknown format, a malformed link, a bad argument).
    #[error("{0}")]
    Invalid(String),
    /// The data dir holds no identity yet (open it with `create=True`).
    #[error("{0}")]
    NotInitialized(String),
    /// Another process holds the data dir and its gateway does not answer.
    #[error("{0}")]
    Locked(String),
    /// The key file is encrypted and the passphrase is missing or wrong.
    #[error("{0}")]
    WrongPassphrase(String),
    /// A peer or the running node's gateway could not be reached, or the network is off.
    #[error("{0}")]
    Network(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// The node was closed.
    #[error("{0}")]
    Closed(String),
    /// Anything else (a bug: please report it with its message).
    #[error("{0}")]
    Internal(String),
}

impl From<NodeError> for VivimError {
    fn from(e: NodeError) -> Self {
        let m = e.to_string();
        match e {
            NodeError::NotFound(_) => VivimError::NotFound(m),
            NodeError::Invalid(_) | NodeError::Import(_) => VivimError::Invalid(m),
            NodeError::Store(s) => s.into(),
            NodeError::DataDir(d) => d.into(),
            _ => VivimError::Internal(m),
        }
    }
}

impl From<StoreError> for VivimError {
    fn from(e: StoreError) -> Self {
        let m = e.to_string();
        match e {
            StoreError::NotFound(_) => VivimError::NotFound(m),
            StoreError::Invalid(_) => VivimError::Invalid(m),
            StoreError::Locked(p) => VivimError::Locked(format!(
                "{p} is in use by another process (a running node whose gateway does not answer, \
                 or another embedded node); stop it, or open the data dir without network to \
                 use a running node through its gateway"
            )),
            _ => VivimError::Internal(m),
        }
    }
}

impl From<DataDirError> for VivimError {
    fn from(e: DataDirError) -> Self {
        let m = e.to_string();
        match e {
            DataDirError::NotInitialized(_) => VivimError::NotInitialized(m),
            DataDirError::Keystore {
                source: KeystoreError::WrongPassphrase | KeystoreError::PassphraseRequired,
                ..
            } => VivimError::WrongPassphrase(m),
            DataDirError::Io { .. } => VivimError::Io(m),
            DataDirError::Config { .. } | DataDirError::AlreadyInitialized(_) => {
                VivimError::Invalid(m)
            }
            _ => VivimError::Internal(m),
        }
    }
}

impl From<ClientError> for VivimError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Node(n) => n.into(),
            ClientError::NotFound(m) => VivimError::NotFound(m),
            ClientError::Api { status, message } => match status {
                404 => VivimError::NotFound(message),
                423 => VivimError::Locked(message),
                400..=499 => VivimError::Invalid(message),
                502..=504 => VivimError::Network(message),
                _ => VivimError::Internal(format!("{message} (HTTP {status})")),
            },
            ClientError::Http(m) => VivimError::Network(m),
        }
    }
}

impl From<P2pError> for VivimError {
    fn from(e: P2pError) -> Self {
        let m = e.to_string();
        match e {
            P2pError::Node(n) => n.into(),
            P2pError::NotFound(_) => VivimError::NotFound(m),
            P2pError::Rejected { .. } => VivimError::Invalid(m),
            _ => VivimError::Network(m),
        }
    }
}
