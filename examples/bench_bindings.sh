#!/usr/bin/env bash
# Bindings figures (release builds, loopback only):
#  - Python: conversation(id) calls/s embedded vs the gateway over HTTP; import msg/s vs the CLI;
#  - wasm: ACU verification rate vs native on the same records, and the package size.
#   bash examples/bench_bindings.sh [CONVERSATIONS] [MESSAGES]   (default 400 × 50 = 20,000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vivim-target}"
CONVS="${1:-400}"; MSGS="${2:-50}"
bindings/wasm/build.sh "$CARGO_TARGET_DIR/wasm-pkg" >/dev/null
export VIVIM_WASM_PKG="$CARGO_TARGET_DIR/wasm-pkg/web"
# One invocation, so node is built once: vivim and uniffi-bindgen, libvivim_ffi.so, the examples.
cargo build -q --release -p vivim-node -p vivim-ffi -p vivim-examples --bins --lib \
  --example gen_export --example bench_verify_native
R="$CARGO_TARGET_DIR/release"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/py/vivim"
"$R/uniffi-bindgen" generate --library "$R/libvivim_ffi.so" --language python --out-dir "$TMP/py/vivim" --no-format >/dev/null
cp "$R/libvivim_ffi.so" "$TMP/py/vivim/" && cp bindings/python/vivim/*.py "$TMP/py/vivim/"
"$R/examples/gen_export" "$TMP/export.json" "$CONVS" "$MSGS" 60 >/dev/null
echo "== Python (release library; export of $CONVS conversations × $MSGS messages)"
# Run a copy next to the generated package (a script's own folder comes first on sys.path).
cp bindings/python/bench.py "$TMP/py/"
python3 "$TMP/py/bench.py" "$TMP/export.json" "$R/vivim"
echo "== wasm vs native (the same 5,000 signed ACUs, one core)"
"$R/examples/bench_verify_native" "$TMP/acus.bin" 5000
node bindings/wasm/bench.mjs "$TMP/acus.bin" "$CARGO_TARGET_DIR/wasm-pkg/node"
