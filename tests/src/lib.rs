//! Multi-node and end-to-end tests for VIVIM live in `tests/tests/`. This library holds the
//! helpers they share.

use vivim_identity::KdfParams;
use vivim_node::datadir::DataDir;

/// A fresh initialized data directory in a temporary folder (removed on drop).
pub fn temp_node() -> (tempfile::TempDir, DataDir) {
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    let dir = DataDir::at(tmp.path().join("node"));
    dir.init(None, KdfParams::default())
        .expect("initialize a data directory");
    (tmp, dir)
}
