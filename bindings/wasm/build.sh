#!/usr/bin/env bash
# Builds the wasm package: `vivim-wasm` for wasm32-unknown-unknown, then wasm-bindgen (the CLI
# pinned to the lockfile's wasm-bindgen, installed under the target dir when missing) into
#   <out>/web   ES module for browsers (the web app embeds it when VIVIM_WASM_PKG points here)
#   <out>/node  CommonJS for Node.js
# Usage: bindings/wasm/build.sh [out]   (default: $CARGO_TARGET_DIR/wasm-pkg)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vivim-target}"
out="${1:-$CARGO_TARGET_DIR/wasm-pkg}"

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
tools="$CARGO_TARGET_DIR/tools"
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
  echo "installing wasm-bindgen-cli $want (once; under $tools)" >&2
  cargo install -q wasm-bindgen-cli --version "$want" --locked --root "$tools" \
    --target-dir "$CARGO_TARGET_DIR/tools-build"
fi
cargo build -q -p vivim-wasm --target wasm32-unknown-unknown --release --locked
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/vivim_wasm.wasm"
# Generated beside the packages, then copied over only where a file changed: node's build
# script watches these files, and a fresh mtime alone would rebuild the node.
tmp="$out.new"
rm -rf "$tmp" && mkdir -p "$tmp"
"$tools/bin/wasm-bindgen" --target web --out-dir "$tmp/web" "$wasm"
"$tools/bin/wasm-bindgen" --target nodejs --out-dir "$tmp/node" "$wasm"
for kind in web node; do
  mkdir -p "$out/$kind"
  for f in "$tmp/$kind"/*; do
    cmp -s "$f" "$out/$kind/$(basename "$f")" || cp "$f" "$out/$kind/"
  done
done
rm -rf "$tmp"
echo "wasm package: $out ($(wc -c < "$out/web/vivim_wasm_bg.wasm") bytes, $(gzip -9c "$out/web/vivim_wasm_bg.wasm" | wc -c) gzipped)"
