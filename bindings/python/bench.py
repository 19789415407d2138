"""Bindings figures: Python calls against the same work through the gateway and the CLI.

    python bench.py EXPORT VIVIM_BIN    (with the generated `vivim` package on PYTHONPATH;
                                         examples/bench_bindings.sh sets everything up)

Prints: conversation(id) calls/s embedded vs GET /api/v1/conversations/{id} with a keep-alive
HTTP client (goal >= 5x), and import messages/s through Python vs `vivim import` (goal >= 0.9x).
"""

import http.client
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import vivim

export, binary = sys.argv[1], sys.argv[2]
tmp = pathlib.Path(tempfile.mkdtemp(prefix="vivim-bench-"))


def cli(d, *args):
    env = dict(os.environ, VIVIM_DATA_DIR=str(d))
    return subprocess.run([binary, *args], env=env, check=True, capture_output=True, text=True).stdout


def best_of(n, f):
    return min(f() for _ in range(n))


# --- import: Python vs the CLI, each into a fresh data dir (best of 3) ---
def py_import():
    d = tmp / f"py{time.monotonic_ns()}"
    t = time.perf_counter()
    with vivim.open(d, create=True, organize=False) as node:
        s = node.import_path(export)
    took = time.perf_counter() - t
    py_import.messages = s.messages
    return took


def cli_import():
    d = tmp / f"cli{time.monotonic_ns()}"
    cli(d, "init")
    t = time.perf_counter()
    cli(d, "import", export)
    return time.perf_counter() - t


py_s = best_of(5, py_import)
cli_s = best_of(5, cli_import)
msgs = py_import.messages
print(f"import ({msgs} messages): python {msgs / py_s:,.0f} msg/s ({py_s:.2f} s, open+import+close)"
      f" | vivim import {msgs / cli_s:,.0f} msg/s ({cli_s:.2f} s, the whole process)"
      f" | ratio {cli_s / py_s:.2f}x (goal >= 0.9x)")

# --- conversation(id): embedded vs the gateway over HTTP ---
emb = tmp / "embedded"
with vivim.open(emb, create=True, organize=False) as node:
    node.import_path(export)
gw_dir = tmp / "gateway"
cli(gw_dir, "init")
cli(gw_dir, "import", export)
env = dict(os.environ, VIVIM_DATA_DIR=str(gw_dir))
proc = subprocess.Popen([binary, "up", "--gateway", "127.0.0.1:0", "--no-network"], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    addr_file = gw_dir / "gateway.addr"
    while not (addr_file.exists() and addr_file.read_text().strip()):
        time.sleep(0.05)
    host, port = addr_file.read_text().strip().rsplit(":", 1)
    token = (gw_dir / "token").read_text().strip()
    with vivim.open(emb, organize=False) as node:
        convs = node.conversations(limit=1000)
        # Conversations of typical length: the median by message count.
        ids = [c.id for c in sorted(convs, key=lambda c: c.message_count)][len(convs) // 4: 3 * len(convs) // 4][:50]
        avg = sum(c.message_count for c in convs if c.id in ids) / len(ids)
        calls = 3000

        def embedded():
            t = time.perf_counter()
            for i in range(calls):
                d = node.conversation(ids[i % len(ids)])
                assert d.messages
            return time.perf_counter() - t

        emb_s = best_of(3, embedded)

        def boundary():
            t = time.perf_counter()
            for i in range(calls):
                assert node._inner.conversation_json(ids[i % len(ids)])
            return time.perf_counter() - t

        raw_s = best_of(3, boundary)

    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Authorization": f"Bearer {token}"}
    # The same conversations there (ids derive from the owner, so each node has its own).
    conn.request("GET", "/api/v1/conversations?limit=500", headers=headers)
    listed = json.loads(conn.getresponse().read())["items"]
    gw_ids = [c["id"] for c in sorted(listed, key=lambda c: c["message_count"])][len(listed) // 4: 3 * len(listed) // 4][:50]

    def over_http():
        t = time.perf_counter()
        for i in range(calls):
            conn.request("GET", f"/api/v1/conversations/{gw_ids[i % len(gw_ids)]}", headers=headers)
            r = conn.getresponse()
            d = json.loads(r.read())
            assert r.status == 200 and d["messages"]
        return time.perf_counter() - t

    http_s = best_of(3, over_http)
    print(f"conversation(id) (~{avg:.0f} messages each): embedded {calls / emb_s:,.0f} calls/s"
          f" | gateway over HTTP (keep-alive, http.client + json) {calls / http_s:,.0f} calls/s"
          f" | ratio {http_s / emb_s:.1f}x (goal >= 5x)")
    print(f"  of which crossing the boundary (the JSON string, before Python builds its objects):"
          f" {calls / raw_s:,.0f} calls/s, {http_s / raw_s:.1f}x the gateway")
finally:
    proc.terminate()
    proc.wait(timeout=30)
