"""`vivim mcp` and `/api/mcp` driven by the official MCP Python SDK (PyPI `mcp`), as an
assistant would: over stdio (with and without a running node) and over streamable HTTP (with
and without the gateway's token), against a node holding a real ChatGPT export written by
someone else (../shared/fixtures/chatgpt-export-2023).

Run with .ci/mcp (it builds nothing: it needs the debug `vivim` binary and makes its venv).
Environment: VIVIM_BIN (the binary), VIVIM_SHARED (the shared folder; default ../shared from
the repo root), VIVIM_REQUIRE_SHARED=1 (fail instead of skipping without the export).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("VIVIM_BIN") or str(
    pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/vivim-target"))
    / "debug/vivim"
)
SHARED = pathlib.Path(os.environ.get("VIVIM_SHARED", ROOT.parent / "shared"))
EXPORT = SHARED / "fixtures/chatgpt-export-2023/conversations.json"
READ_TOOLS = {
    "search",
    "get_conversation",
    "list_conversations",
    "related",
    "memories",
    "context",
    "feed",
}

if not EXPORT.exists():
    if os.environ.get("VIVIM_REQUIRE_SHARED") == "1":
        raise RuntimeError(f"{EXPORT} is missing and VIVIM_REQUIRE_SHARED=1")
    pytest.skip(f"skipped: {EXPORT} is not here (clone without ../shared)", allow_module_level=True)


def vivim(data: pathlib.Path, *args: str) -> str:
    out = subprocess.run(
        [BIN, "--data-dir", str(data), *args], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"vivim {args}: {out.stderr}"
    return out.stdout


def make_node(root: pathlib.Path, name: str, toml: str = "") -> pathlib.Path:
    data = root / name
    vivim(data, "init")
    if toml:
        (data / "vivim.toml").write_text(toml)
    vivim(data, "import", str(EXPORT))
    return data


# The fixture's own order, the way ChatGPT shows it: from current_node up to the root, hidden
# nodes dropped (see ../shared/fixtures/README.md).
def visible_turns(conv: dict) -> list[tuple[str, str]]:
    out = []
    node = conv.get("current_node")
    while node:
        n = conv["mapping"][node]
        m = n.get("message")
        if m:
            role = m["author"]["role"]
            meta = m.get("metadata") or {}
            parts = (m.get("content") or {}).get("parts") or []
            text = "\n".join(p for p in parts if isinstance(p, str)).strip()
            hidden = (
                role not in ("user", "assistant")
                or m.get("weight", 1) == 0
                or m.get("recipient", "all") != "all"
                or meta.get("is_visually_hidden_from_conversation")
            )
            if not hidden and text:
                out.append((role, text))
        node = n.get("parent")
    out.reverse()
    return out


@pytest.fixture(scope="session")
def export() -> list[dict]:
    return json.loads(EXPORT.read_text())


@pytest.fixture(scope="session")
def work():
    d = pathlib.Path(tempfile.mkdtemp(prefix="vivim-mcp-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def node_dir(work) -> pathlib.Path:
    # A small answer limit, so paging shows on a real export.
    return make_node(work, "node", "[mcp]\nmax_answer_chars = 6000\n")


@pytest.fixture(scope="session")
def writer_dir(work) -> pathlib.Path:
    return make_node(
        work,
        "writer",
        '[mcp]\ntools = ["search", "get_conversation", "memories", "remember", "capture"]\n',
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def running(work):
    """A second node, running (`vivim up --no-network`), for HTTP and the stdio bridge."""
    data = make_node(work, "up", "[mcp]\nmax_answer_chars = 6000\n")
    port = free_port()
    log = open(work / "up.log", "w")
    proc = subprocess.Popen(
        [BIN, "--data-dir", str(data), "up", "--no-network", "--gateway", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("vivim up did not answer")
    token = (data / "token").read_text().strip()
    yield {"data": data, "base": base, "token": token}
    proc.terminate()
    proc.wait(timeout=30)


def run(coro):
    return asyncio.run(coro)


def stdio(data: pathlib.Path, name: str = "pytest-assistant", env: dict | None = None, errlog=None) -> "Session":
    params = StdioServerParameters(command=BIN, args=["--data-dir", str(data), "mcp"], env=env)
    return Session(params, name, errlog=errlog)


class Session:
    """One connected MCP client session (stdio or HTTP), opened with `async with`."""

    def __init__(self, target, name: str = "pytest-assistant", headers: dict | None = None, errlog=None):
        self.target, self.name, self.headers, self.errlog = target, name, headers, errlog

    async def __aenter__(self) -> ClientSession:
        self._stack = contextlib_stack = __import__("contextlib").AsyncExitStack()
        if isinstance(self.target, StdioServerParameters):
            kw = {"errlog": self.errlog} if self.errlog else {}
            read, write = await contextlib_stack.enter_async_context(stdio_client(self.target, **kw))
        else:
            http = await contextlib_stack.enter_async_context(
                httpx2.AsyncClient(headers=self.headers or {}, timeout=60)
            )
            read, write = await contextlib_stack.enter_async_context(
                streamable_http_client(self.target, http_client=http)
            )
        session = await contextlib_stack.enter_async_context(
            ClientSession(read, write, client_info=Implementation(name=self.name, version="1.0"))
        )
        await session.initialize()
        return session

    async def __aexit__(self, *exc):
        await self._stack.aclose()


def data_of(result) -> dict:
    """A tool's answer: the structured content, checked against the text content."""
    assert not result.is_error, result.content
    text = json.loads(result.content[0].text)
    assert text == result.structured_content
    return result.structured_content


def error_of(result) -> str:
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    return result.content[0].text


# ---------------------------------------------------------------------------------------------
# stdio, no node running


def test_tools_are_listed_with_schemas_and_write_tools_are_off(node_dir):
    async def go():
        async with stdio(node_dir) as s:
            tools = (await s.list_tools()).tools
            return {t.name: t for t in tools}

    tools = run(go())
    assert set(tools) == READ_TOOLS
    for t in tools.values():
        assert t.input_schema["type"] == "object", t.name
        assert t.description and len(t.description) > 30, t.name
        assert t.annotations.read_only_hint is True, t.name
    assert "query" in tools["search"].input_schema["required"]
    assert tools["search"].input_schema["properties"]["mode"]


def test_search_finds_a_known_conversation_and_get_conversation_reads_it_in_order(
    node_dir, export
):
    conv = next(c for c in export if c["title"] == "Django Multi-DB Setup")
    expected = visible_turns(conv)
    assert len(expected) >= 2

    async def go():
        async with stdio(node_dir) as s:
            found = data_of(await s.call_tool("search", {"query": "Django multiple databases"}))
            hit = next(h for h in found["hits"] if h["title"] == "Django Multi-DB Setup")
            assert hit["uri"] == f"vivim://conversation/{hit['conversation']}"
            # By a prefix, as a person would paste it.
            pages, offset = [], 0
            while True:
                page = data_of(
                    await s.call_tool(
                        "get_conversation",
                        {"id": hit["conversation"][:10], "offset": offset},
                    )
                )
                pages.append(page)
                if "next_offset" not in page:
                    return hit, pages
                offset = page["next_offset"]

    hit, pages = run(go())
    assert pages[0]["conversation"]["id"] == hit["conversation"]
    messages = [m for p in pages for m in p["messages"]]
    assert [m["index"] for m in messages] == list(range(len(messages)))
    shown = [(m["role"], m["text"].strip()) for m in messages if "folded" not in m]
    assert [r for r, _ in shown] == [r for r, _ in expected]
    for (role, got), (_, want) in zip(shown, expected):
        if role == "user":
            assert got == want
        else:
            assert want.startswith(got[:200].rstrip()) or got.startswith(want[:200])
    times = [m["created_at"] for m in messages]
    assert times == sorted(times)


def test_a_long_conversation_comes_in_bounded_pages(node_dir, export):
    longest = max(export, key=lambda c: sum(len(t) for _, t in visible_turns(c)))
    chars = sum(len(t) for _, t in visible_turns(longest))
    assert chars > 6000  # more than the node's answer limit

    async def go():
        async with stdio(node_dir) as s:
            listed = data_of(await s.call_tool("search", {"query": longest["title"], "limit": 5}))
            cid = next(h["conversation"] for h in listed["hits"] if h["title"] == longest["title"])
            pages, offset = [], 0
            while True:
                r = await s.call_tool("get_conversation", {"id": cid, "offset": offset})
                pages.append((len(r.content[0].text), data_of(r)))
                if "next_offset" not in pages[-1][1]:
                    return pages
                offset = pages[-1][1]["next_offset"]

    pages = run(go())
    assert len(pages) > 1
    for size, page in pages:
        assert size <= 6000 + 500, size  # the limit, plus the closing of the JSON
        if "next_offset" in page:
            assert "offset" in page["note"]
    total = pages[0][1]["total_messages"]
    assert sum(len(p["messages"]) for _, p in pages) == total


def test_list_conversations_pages_through_the_whole_library_and_filters(node_dir, export):
    async def go():
        async with stdio(node_dir) as s:
            seen, cursor = [], None
            while True:
                args = {"limit": 100}
                if cursor:
                    args["cursor"] = cursor
                page = data_of(await s.call_tool("list_conversations", args))
                seen += page["conversations"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            none = data_of(await s.call_tool("list_conversations", {"provider": "claude"}))
            dated = data_of(
                await s.call_tool(
                    "list_conversations", {"after": "2023-05-01", "before": "2023-06-01", "limit": 100}
                )
            )
            return seen, none, dated

    seen, none, dated = run(go())
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)) == len(export)
    updated = [c["updated_at"] for c in seen]
    assert updated == sorted(updated, reverse=True)
    assert none["conversations"] == []
    assert dated["conversations"], "the export has conversations from May 2023"
    assert all("2023-05" <= c["updated_at"][:7] < "2023-06" for c in dated["conversations"])


def test_context_stays_within_its_budget(node_dir):
    async def go():
        async with stdio(node_dir) as s:
            out = []
            for budget in (300, 1200):
                out.append(
                    data_of(
                        await s.call_tool(
                            "context", {"query": "How do I use two databases in Django?", "budget_tokens": budget}
                        )
                    )
                )
            too_big = error_of(await s.call_tool("context", {"query": "x", "budget_tokens": 100000}))
            return out, too_big

    (small, large), too_big = run(go())
    assert 0 < small["total_tokens"] <= 300 and small["budget_tokens"] == 300
    assert small["total_tokens"] < large["total_tokens"] <= 1200
    assert "Django" in large["prompt"]
    assert "budget_tokens" in too_big


def test_the_other_read_tools_answer(node_dir):
    async def go():
        async with stdio(node_dir) as s:
            hit = data_of(await s.call_tool("search", {"query": "Docker", "limit": 1}))["hits"][0]
            related = data_of(await s.call_tool("related", {"id": hit["conversation"], "limit": 3}))
            memories = data_of(await s.call_tool("memories", {"query": "Django", "limit": 5}))
            feed = data_of(await s.call_tool("feed", {}))
            hybrid = data_of(await s.call_tool("search", {"query": "Docker image tag", "mode": "hybrid"}))
            return hit, related, memories, feed, hybrid

    hit, related, memories, feed, hybrid = run(go())
    assert 0 < len(related["related"]) <= 3
    assert all(r["conversation"] != hit["conversation"] for r in related["related"])
    assert isinstance(memories["memories"], list)
    assert feed["items"] == []
    assert hybrid["hits"]


def test_malformed_arguments_and_disabled_tools_are_tool_errors(node_dir):
    async def go():
        async with stdio(node_dir) as s:
            errors = {
                "wrong type": error_of(await s.call_tool("search", {"query": 5})),
                "missing": error_of(await s.call_tool("search", {})),
                "unknown field": error_of(await s.call_tool("search", {"query": "x", "lmit": 3})),
                "bad mode": error_of(await s.call_tool("search", {"query": "x", "mode": "fuzzy"})),
                "limit": error_of(await s.call_tool("get_conversation", {"id": "abcdef", "limit": 0})),
                "no such conv": error_of(await s.call_tool("get_conversation", {"id": "f" * 64})),
                "bad date": error_of(await s.call_tool("list_conversations", {"after": "May"})),
                "bad cursor": error_of(await s.call_tool("list_conversations", {"cursor": "zz"})),
                "disabled": error_of(await s.call_tool("remember", {"content": "I like tea"})),
                "capture": error_of(
                    await s.call_tool("capture", {"messages": [{"role": "user", "text": "hi"}]})
                ),
            }
            # The session is still good after all that.
            ok = data_of(await s.call_tool("search", {"query": "Django", "limit": 1}))
            return errors, ok

    errors, ok = run(go())
    for what, msg in errors.items():
        assert msg, what
    assert "invalid arguments" in errors["wrong type"]
    assert "query" in errors["missing"]
    assert "lmit" in errors["unknown field"]
    assert "not found" in errors["no such conv"]
    assert "disabled" in errors["disabled"] and "vivim.toml" in errors["disabled"]
    assert "disabled" in errors["capture"]
    assert ok["hits"]


def test_resources_and_prompts(node_dir, export):
    async def go():
        async with stdio(node_dir) as s:
            listed = await s.list_resources()
            convs = [r for r in listed.resources if str(r.uri).startswith("vivim://conversation/")]
            pick = next(r for r in convs if r.name == "Django Multi-DB Setup")
            text = (await s.read_resource(str(pick.uri))).contents[0]
            templates = await s.list_resource_templates()
            prompts = await s.list_prompts()
            decide = await s.get_prompt("what_did_i_decide", {"topic": "Django databases"})
            cont = await s.get_prompt("continue_conversation", {"id": str(pick.uri).rsplit("/", 1)[1][:12]})
            return listed, convs, text, templates, prompts, decide, cont

    listed, convs, text, templates, prompts, decide, cont = run(go())
    assert len(convs) == 100 and listed.next_cursor
    assert text.mime_type == "text/markdown"
    assert text.text.startswith("# Django Multi-DB Setup")
    assert {t.uri_template for t in templates.resource_templates} == {
        "vivim://conversation/{id}",
        "vivim://memory/{id}",
    }
    assert {p.name for p in prompts.prompts} == {"continue_conversation", "what_did_i_decide"}
    assert "What did I decide about Django databases?" in decide.messages[0].content.text
    assert "Django Multi-DB Setup" in cont.messages[0].content.text


def test_write_tools_when_enabled_store_with_the_assistant_as_source(writer_dir):
    async def go():
        async with stdio(writer_dir, name="test-assistant") as s:
            names = {t.name for t in (await s.list_tools()).tools}
            mem = data_of(
                await s.call_tool("remember", {"content": "I prefer PostgreSQL for new projects."})
            )
            cap = data_of(
                await s.call_tool(
                    "capture",
                    {
                        "title": "Picking a queue",
                        "messages": [
                            {"role": "user", "text": "Should I use NATS or Kafka for 10 msgs/s?"},
                            {"role": "assistant", "text": "NATS: Kafka is heavy for that rate."},
                        ],
                    },
                )
            )
            more = data_of(
                await s.call_tool(
                    "capture",
                    {
                        "conversation": cap["conversation"][:12],
                        "messages": [{"role": "user", "text": "Thanks, NATS it is."}],
                    },
                )
            )
            read = data_of(await s.call_tool("get_conversation", {"id": cap["conversation"]}))
            found = data_of(await s.call_tool("search", {"query": "NATS Kafka"}))
            return names, mem, cap, more, read, found

    names, mem, cap, more, read, found = run(go())
    assert names == {"search", "get_conversation", "memories", "remember", "capture"}
    assert mem["memory"]["source"] == "mcp:test-assistant"
    assert cap["provider"] == "test-assistant" and cap["messages_stored"] == 2
    assert more["conversation"] == cap["conversation"]
    assert read["conversation"]["provider"] == "test-assistant"
    assert read["conversation"]["title"] == "Picking a queue"
    assert [m["text"] for m in read["messages"]] == [
        "Should I use NATS or Kafka for 10 msgs/s?",
        "NATS: Kafka is heavy for that rate.",
        "Thanks, NATS it is.",
    ]
    assert any(h["conversation"] == cap["conversation"] for h in found["hits"])
    listed = json.loads(vivim(writer_dir, "conversations", "list", "--json"))
    assert any(c["id"] == cap["conversation"] for c in listed)


# ---------------------------------------------------------------------------------------------
# A running node: streamable HTTP on the gateway, and stdio bridged to it


def test_http_with_the_token(running):
    async def go():
        headers = {"Authorization": f"Bearer {running['token']}"}
        async with Session(f"{running['base']}/api/mcp", headers=headers) as s:
            names = {t.name for t in (await s.list_tools()).tools}
            found = data_of(await s.call_tool("search", {"query": "Django"}))
            conv = data_of(await s.call_tool("get_conversation", {"id": found["hits"][0]["conversation"]}))
            bad = error_of(await s.call_tool("search", {"query": []}))
            return names, found, conv, bad

    names, found, conv, bad = run(go())
    assert names == READ_TOOLS
    assert found["hits"] and conv["messages"]
    assert "invalid arguments" in bad


def test_http_without_or_with_a_wrong_token_is_refused(running):
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "x", "version": "1"},
            },
        }
    ).encode()
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        req = urllib.request.Request(
            f"{running['base']}/api/mcp",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401

    async def go():
        async with Session(f"{running['base']}/api/mcp") as s:
            await s.list_tools()

    with pytest.raises(Exception):
        run(go())


def test_stdio_while_the_node_runs_goes_through_its_gateway(running):
    async def go():
        async with stdio(running["data"]) as s:
            names = {t.name for t in (await s.list_tools()).tools}
            found = data_of(await s.call_tool("search", {"query": "Docker"}))
            bad = error_of(await s.call_tool("get_conversation", {"id": "nothex"}))
            res = await s.list_resources()
            return names, found, bad, res

    names, found, bad, res = run(go())
    assert names == READ_TOOLS
    assert found["hits"]
    assert bad
    assert res.resources


def test_the_2026_protocol_without_a_handshake_over_each_transport(running, node_dir):
    """The SDK's `Client` in `auto` mode speaks 2026-07-28 (server/discover, no initialize)
    when the server offers it: in-process stdio, stdio bridged to a running node, and HTTP."""
    from mcp import Client

    async def use(target):
        async with Client(target, mode="auto", client_info=Implementation(name="modern", version="1")) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            found = await c.call_tool("search", {"query": "Django", "limit": 2})
            bad = await c.call_tool("search", {"query": 1})
            return c.protocol_version, names, data_of(found), error_of(bad)

    async def go():
        out = [await use(StdioServerParameters(command=BIN, args=["--data-dir", str(node_dir), "mcp"]))]
        out.append(
            await use(StdioServerParameters(command=BIN, args=["--data-dir", str(running["data"]), "mcp"]))
        )
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {running['token']}"}, timeout=60)
        async with http:
            out.append(await use(streamable_http_client(f"{running['base']}/api/mcp", http_client=http)))
        return out

    results = run(go())
    assert [r[0] for r in results] == ["2026-07-28"] * 3
    for version, names, found, bad in results:
        assert version == "2026-07-28"
        assert names == READ_TOOLS
        assert len(found["hits"]) == 2
        assert "invalid arguments" in bad


def test_the_log_names_tools_and_timings_never_arguments_or_answers(node_dir, work):
    log_path = work / "mcp-debug.log"
    secret = "Zanzibar-7f3e"

    async def go():
        with open(log_path, "w") as log:
            async with stdio(node_dir, env={"VIVIM_LOG": "debug"}, errlog=log) as s:
                await s.call_tool("search", {"query": f"Django {secret}"})
                await s.call_tool("get_conversation", {"id": secret})
                await s.call_tool("context", {"query": secret, "budget_tokens": 200})

    run(go())
    log = log_path.read_text()
    assert "mcp tool call" in log and "tool=search" in log and "ms=" in log
    assert "tool=get_conversation" in log and "error=" in log
    assert secret not in log
    assert "Django Multi-DB" not in log  # no answer text either


def test_the_configuration_readme_shows_works_as_printed(node_dir):
    """`vivim mcp --print-config` prints the `mcpServers` entry README tells people to add;
    an assistant that launches exactly that command can search and read."""
    entry = json.loads(vivim(node_dir, "mcp", "--print-config"))["mcpServers"]["vivim"]
    assert pathlib.Path(entry["command"]).resolve() == pathlib.Path(BIN).resolve()
    assert entry["args"] == ["mcp", "--data-dir", str(node_dir)]

    async def go():
        target = StdioServerParameters(command=entry["command"], args=entry["args"])
        async with Session(target) as s:
            found = data_of(await s.call_tool("search", {"query": "Django"}))
            read = data_of(await s.call_tool("get_conversation", {"id": found["hits"][0]["conversation"]}))
            return found, read

    found, read = run(go())
    assert found["hits"] and read["messages"]
