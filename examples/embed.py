"""Embedding a node in a Python app (README: install with `pip install ./bindings/python`).

    python examples/embed.py EXPORT [DATA_DIR]
"""

import asyncio
import sys
import tempfile

import vivim


async def main(export: str, data_dir: str) -> None:
    # Opens (or creates) the node; with a node already running on the dir, its gateway is used.
    with vivim.open(data_dir, create=True) as node:
        print("node", node.did, "(through its gateway)" if node.is_remote else "(embedded)")
        summary = node.import_path(export)
        print(f"imported {summary.conversations} new conversations, {summary.messages} messages")
        convs = node.conversations(limit=20)
        for c in convs[:5]:
            print(f"  {c.id[:12]}  {c.message_count:>4} messages  {c.title}")
        detail = node.conversation(convs[0].id)
        first = next((m for m in detail.messages if m.text), None)
        print("first message:", (first.text if first else "")[:80])
        for hit in node.search("python", mode="hybrid", limit=3):
            print(f"hit {hit.score:.2f} {hit.title}: {hit.snippet[:60]}")
        ctx = node.context("which database did I pick?", budget_tokens=1500)
        print(f"context: {ctx.total_tokens} of {ctx.budget_tokens} tokens")
        if not node.is_remote:
            share = await node.share(convs[0].id, link=True)
            print("share link:", share.link[:48] + "…")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()))
