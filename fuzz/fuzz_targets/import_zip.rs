#![no_main]
//! Any bytes as a zip archive (what `vivim import export.zip` opens): an error or what its
//! members hold, never a panic, and never more than the member and size limits allow.
use libfuzzer_sys::fuzz_target;
use vivim_node::import::{Format, Limits, parse_path};

fuzz_target!(|data: &[u8]| {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(data);
    let dir = std::env::temp_dir().join(format!("vivim-fuzz-zip-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("export.zip");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let limits = Limits {
        max_file_bytes: 4 << 20,
        max_member_bytes: 1 << 20,
        max_zip_bytes: 2 << 20,
        max_zip_members: 64,
        ..Limits::default()
    };
    let _ = parse_path(&path, Format::Auto, &limits, &mut |_| Ok(()));
});
