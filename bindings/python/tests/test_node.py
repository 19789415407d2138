"""The Python package against the library built from this repo: a real export, real errors,
a real running node, and a share link opened by a second node over 127.0.0.1."""

import asyncio
import threading

import pytest

import vivim

# The shared ChatGPT export: 192 conversations, 1,298 messages on their head branches.
CONVERSATIONS = 192
HEAD_MESSAGES = 1298


def test_open_import_list_read_search_context(datadir, chatgpt_export):
    with vivim.open(datadir, create=True, organize=False) as node:
        assert node.did.startswith("did:key:z6Mk")
        assert not node.is_remote
        events = node.events()
        summary = node.import_path(chatgpt_export)
        assert summary.format == "chatgpt"
        assert summary.conversations == CONVERSATIONS
        assert summary.skipped == []

        # Events seen during the import: one per conversation, then the summary.
        seen = list(events.drain())
        kinds = [e.kind for e in seen]
        assert kinds.count("conversation_imported") == CONVERSATIONS
        assert kinds[-1] == "import_finished"
        assert all(e.skipped == 0 for e in seen)

        convs = node.conversations(limit=1000)
        assert len(convs) == CONVERSATIONS
        assert sum(c.message_count for c in convs) == HEAD_MESSAGES
        assert all(c.provider == "chatgpt" for c in convs)
        assert convs == sorted(convs, key=lambda c: -c.updated_at_ms)

        detail = node.conversation(convs[0].id[:12])
        assert detail.conversation.id == convs[0].id
        visible = [m for m in detail.messages if m.role in ("user", "assistant")]
        assert visible and all(m.author == node.did for m in detail.messages)

        hits = node.search("python", limit=5)
        assert 0 < len(hits) <= 5
        assert all("python" in (h.snippet + h.title).lower() for h in hits)
        assert node.search("zzqqxxnotaword") == []

        ctx = node.context("python interview questions", budget_tokens=800)
        assert 0 < ctx.total_tokens <= 800
        assert ctx.acu_ids

        # A second import of the same export stores nothing new.
        again = node.import_path(chatgpt_export)
        assert again.conversations == 0 and again.duplicates == CONVERSATIONS


def test_errors_are_one_family(datadir, tmp_path):
    with pytest.raises(vivim.VivimError.NotInitialized):
        vivim.open(tmp_path / "nothing-here")
    node = vivim.open(datadir, create=True, passphrase="correct horse", organize=False)
    with pytest.raises(vivim.VivimError.NotFound):
        node.conversation("ffffffffffff")
    with pytest.raises(vivim.VivimError.NotFound):
        node.import_path(tmp_path / "no-such-export.zip")
    with pytest.raises(vivim.VivimError.Invalid):
        node.import_path(__file__, format="not-a-format")
    bad = tmp_path / "bad.json"
    bad.write_text('{"this is": "no export"}')
    with pytest.raises(vivim.VivimError.Invalid):
        node.import_path(bad)
    with pytest.raises(vivim.VivimError.Network):
        asyncio.run(node.open_link("vivim://share/" + "ab" * 32 + "?from=" + node.did + "#" + "00" * 32))
    with pytest.raises(vivim.VivimError.Invalid):
        asyncio.run(node.open_link("https://example.invalid/not-a-link"))
    # The same dir opened twice in one process: the store is locked.
    with pytest.raises(vivim.VivimError.Locked):
        vivim.open(datadir, passphrase="correct horse")
    node.close()
    node.close()
    with pytest.raises(vivim.VivimError.Closed):
        node.conversations()
    with pytest.raises(vivim.VivimError.WrongPassphrase):
        vivim.open(datadir, passphrase="wrong")
    with pytest.raises(vivim.VivimError.WrongPassphrase):
        vivim.open(datadir)
    # Every variant is a VivimError.
    assert issubclass(vivim.VivimError.Locked, vivim.VivimError)
    with vivim.open(datadir, passphrase="correct horse", organize=False) as node:
        assert node.conversations() == []


def test_a_running_node_is_used_through_its_gateway(running_node, chatgpt_export):
    with vivim.open(running_node) as node:
        assert node.is_remote
        events = node.events()  # the running node's /api/ws
        summary = node.import_path(chatgpt_export)
        assert summary.conversations == CONVERSATIONS
        kinds = []
        while "import_finished" not in kinds:
            e = events.next(timeout=15)
            assert e is not None, f"no import_finished after {len(kinds)} events"
            kinds.append(e.kind)
        assert kinds.count("conversation_imported") == CONVERSATIONS
        convs = node.conversations(limit=1000)
        assert len(convs) == CONVERSATIONS
        assert node.conversation(convs[0].id).conversation.title == convs[0].title
        assert node.search("python", limit=3)
        with pytest.raises(vivim.VivimError.NotFound):
            node.conversation("ffffffffffff")
    # In-process network on a dir a running node holds: refused, with what to do.
    with pytest.raises(vivim.VivimError.Locked) as e:
        vivim.open(running_node, network=True)
    assert "in use" in str(e.value)
    # And through the gateway explicitly.
    token = (running_node / "token").read_text().strip()
    addr = (running_node / "gateway.addr").read_text().strip()
    with vivim.connect(f"http://{addr}", token) as node:
        assert len(node.conversations(limit=5)) == 5
    with pytest.raises(vivim.VivimError.Invalid):
        vivim.connect(f"http://{addr}", "not-the-token")


def loopback(**kw):
    return dict(network=True, listen=["/ip4/127.0.0.1/tcp/0"], iroh_bind="127.0.0.1:0",
                mdns=False, organize=False, **kw)


def test_a_share_link_opens_on_a_second_embedded_node(tmp_path, chatgpt_export):
    async def run():
        alice = vivim.open(tmp_path / "alice", create=True, **loopback())
        alice.import_path(chatgpt_export)
        conv = max(alice.conversations(limit=1000), key=lambda c: c.message_count)
        share = await alice.share(conv.id, link=True)
        assert share.audience == "link" and share.link.startswith("vivim://share/")
        addrs = await alice.listen_addrs()
        assert addrs
        bob = vivim.open(tmp_path / "bob", create=True, **loopback(bootstrap=addrs))
        events = bob.events()
        opened = await asyncio.wait_for(bob.open_link(share.link), 60)
        assert opened.conversation == conv.id
        assert opened.owner == alice.did
        got = bob.conversation(conv.id)
        assert got.conversation.message_count == conv.message_count
        assert [m.text for m in got.messages] == [m.text for m in alice.conversation(conv.id).messages]
        # The async iterator sees what the open stored.
        first = await asyncio.wait_for(events.__anext__(), 10)
        assert first.id == conv.id
        # A link whose key was changed does not open.
        tampered = share.link[:-2] + ("00" if share.link[-2:] != "00" else "11")
        with pytest.raises(vivim.VivimError):
            await asyncio.wait_for(bob.open_link(tampered), 60)
        bob.close()
        alice.close()

    asyncio.run(run())


def test_events_from_another_thread(datadir, chatgpt_export):
    with vivim.open(datadir, create=True, organize=False) as node:
        events = node.events()
        t = threading.Thread(target=node.import_path, args=(chatgpt_export,))
        t.start()
        first = events.next(timeout=30)
        assert first is not None and first.kind == "conversation_imported"
        t.join()
        rest = list(events.drain())
        assert rest[-1].kind == "import_finished"
        assert 1 + len(rest) == CONVERSATIONS + 1
