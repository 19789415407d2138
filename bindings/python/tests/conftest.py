"""Fixtures: fresh data dirs, the shared real exports, and a real `vivim up` process."""

import os
import pathlib
import shutil
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "fixtures"


def shared(rel: str) -> pathlib.Path:
    """A real export from ../shared/fixtures; skipped when the folder is absent (a clone
    without it), a failure when VIVIM_REQUIRE_SHARED=1 (CI)."""
    p = SHARED / rel
    if not p.exists():
        if os.environ.get("VIVIM_REQUIRE_SHARED") == "1":
            pytest.fail(f"{p} is missing and VIVIM_REQUIRE_SHARED=1")
        pytest.skip(f"skipped: {p} is not here (../shared is not next to the clone)")
    return p


@pytest.fixture
def chatgpt_export() -> pathlib.Path:
    return shared("chatgpt-export-2023/conversations.json")


@pytest.fixture
def datadir(tmp_path) -> pathlib.Path:
    return tmp_path / "vivim"


def vivim_bin() -> str:
    b = os.environ.get("VIVIM_BIN") or shutil.which("vivim")
    if not b:
        pytest.skip("skipped: set VIVIM_BIN to the vivim binary for tests against a running node")
    return b


@pytest.fixture
def running_node(tmp_path):
    """`vivim up` on a fresh data dir, gateway on 127.0.0.1, no network; yields the dir."""
    binary = vivim_bin()
    d = tmp_path / "running"
    env = dict(os.environ, VIVIM_DATA_DIR=str(d))
    subprocess.run([binary, "init"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([binary, "up", "--gateway", "127.0.0.1:0", "--no-network"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    addr = d / "gateway.addr"
    deadline = time.time() + 60
    while not (addr.exists() and addr.read_text().strip()):
        assert proc.poll() is None, "vivim up exited"
        assert time.time() < deadline, "vivim up did not start"
        time.sleep(0.05)
    try:
        yield d
    finally:
        proc.terminate()
        proc.wait(timeout=30)
