#!/usr/bin/env bash
# Gateway requests/s for GET of one conversation, next to a bare axum hello-world, both under
# wrk from a second process on the same machine (loopback only).
#   bash examples/bench_gateway.sh            (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vivim-target}"
DUR="${DUR:-10s}"; CONNS="${CONNS:-64}"; THREADS="${THREADS:-2}"
cargo build -q --release -p vivim-node --bin vivim -p vivim-examples --example hello_axum
BIN="$CARGO_TARGET_DIR/release"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
export VIVIM_DATA_DIR="$TMP/node"
"$BIN/vivim" init >/dev/null 2>&1
"$BIN/vivim" import ../shared/fixtures/chatgpt-export-2023/conversations.json >/dev/null
"$BIN/vivim" up --gateway 127.0.0.1:0 --no-network >/dev/null 2>&1 &
for _ in $(seq 100); do [ -s "$VIVIM_DATA_DIR/gateway.addr" ] && break; sleep 0.1; done
ADDR=$(cat "$VIVIM_DATA_DIR/gateway.addr"); TOKEN=$("$BIN/vivim" token)
ID=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/conversations?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
BYTES=$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/conversations/$ID" | wc -c)
"$BIN/examples/hello_axum" 127.0.0.1:7788 >/dev/null &
sleep 0.5
echo "== hello-world (axum)"
wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency http://127.0.0.1:7788/ | grep -E "Requests/sec|50%|99%"
echo "== vivim GET /api/v1/conversations/{id} ($BYTES bytes of JSON)"
wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/conversations/$ID" | grep -E "Requests/sec|50%|99%"
PID=$(pgrep -f "$BIN/vivim up" | head -1)
echo "== vivim node RSS after the load: $(( $(grep VmRSS /proc/$PID/status | awk '{print $2}') / 1024 )) MB"
# The same node without the admin panel's sampler and request timing (VIVIM_METRICS_SAMPLER=off):
# what they cost per request.
kill "$PID"; while kill -0 "$PID" 2>/dev/null; do sleep 0.1; done
rm -f "$VIVIM_DATA_DIR/gateway.addr"
VIVIM_METRICS_SAMPLER=off "$BIN/vivim" up --gateway 127.0.0.1:0 --no-network >/dev/null 2>&1 &
for _ in $(seq 100); do [ -s "$VIVIM_DATA_DIR/gateway.addr" ] && break; sleep 0.1; done
ADDR=$(cat "$VIVIM_DATA_DIR/gateway.addr")
echo "== vivim GET /api/v1/conversations/{id}, sampler off"
wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/conversations/$ID" | grep -E "Requests/sec|50%|99%"
