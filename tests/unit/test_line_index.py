"""LineIndex: the lines of a big document, exactly as split_lines gives them,
without splitting it."""

from __future__ import annotations

import random

import pytest

from assistant_router.engine import text as text_module
from assistant_router.engine.text import LineIndex, Span, clamp, split_lines, text_in

# Every break str.splitlines knows, \r\n pairs, and characters of 1, 2 and 4 bytes.
ALPHABET = ["a", "b", " ", "\n", "\r", "\r\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
            "é", "😀"]


def texts(seed: int, count: int = 300) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 60))) for _ in range(count)]


@pytest.mark.parametrize("chunk", [3, 7, text_module.INDEX_CHUNK])
def test_agrees_with_split_lines(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(text_module, "INDEX_CHUNK", chunk)  # tiny chunks: every pair split at a boundary
    rng = random.Random(chunk)
    for text in texts(chunk):
        index, lines = LineIndex(text), split_lines(text)
        assert list(index) == lines, text
        assert index[-1] == lines[-1]
        starts = [sum(map(len, lines[:i])) for i in range(len(lines))]
        for offset in range(len(text) + 1):
            assert index.line_of(offset) == max(i for i, s in enumerate(starts) if s <= offset), (text, offset)
        for _ in range(10):
            first, last = sorted(rng.randrange(0, len(lines) + 2) for _ in range(2))
            span = Span.of(first, rng.randrange(0, 8), last, rng.randrange(0, 8))
            assert index.text_in(span) == text_in(lines, span), (text, span)
            assert index.clamp(first, span.start.character) == clamp(lines, first, span.start.character)


def test_out_of_range() -> None:
    index = LineIndex("one\ntwo")
    assert len(index) == 2 and index.start(5) == len("one\ntwo") and index.line_of(99) == 1
    with pytest.raises(IndexError):
        index[2]
    assert len(LineIndex("")) == 1 and LineIndex("")[0] == ""  # as split_lines: one empty line


def test_big_document_costs_a_small_index() -> None:
    line = "    value = compute(alpha, beta) + 12345  # padding to a realistic width\n"
    text = line * (5_000_000 // len(line))
    index = LineIndex(text)
    assert len(index) == text.count("\n")
    assert len(index._bounds) <= len(text) // text_module.INDEX_CHUNK + 2  # kilobytes, not a list of lines
    assert index[len(index) // 2] == line and index.line_of(len(text) // 2) == (len(text) // 2) // len(line)


# --------------------------------------------------------------------------- #
# server/text_documents.py: pygls's TextDocument with the index


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_incremental_changes_give_what_pygls_gives(encoding: str) -> None:
    """Random valid changes (between whole characters, or at the very end)
    leave the same text in both documents."""
    from lsprotocol import types
    from pygls.workspace import TextDocument
    from pygls.workspace.position_codec import PositionCodec

    from assistant_router.server.text_documents import IndexedTextDocument

    codec = PositionCodec(types.PositionEncodingKind(encoding))
    rng = random.Random(encoding)
    alphabet = ["a", "b", " ", "\n", "\r\n", "é", "😀", "\r", "\u2028"]
    for text in texts(7, 1500):
        ours, theirs = (kind("file:///a", text, version=1, sync_kind=types.TextDocumentSyncKind.Incremental,
                             position_codec=codec) for kind in (IndexedTextDocument, TextDocument))

        def position(lines: tuple[str, ...]) -> types.Position:
            if not lines or rng.random() < 0.1:
                return types.Position(len(lines), 0)  # the very end
            line = rng.randrange(0, len(lines))
            content = lines[line].rstrip("\r\n")
            return types.Position(line, codec.client_num_units(content[: rng.randrange(0, len(content) + 1)]))

        for _ in range(4):
            first, last = sorted([position(theirs.lines), position(theirs.lines)], key=lambda p: (p.line, p.character))
            change = types.TextDocumentContentChangePartial(
                range=types.Range(first, last), text="".join(rng.choice(alphabet) for _ in range(rng.randrange(4))))
            theirs.apply_change(change)
            ours.apply_change(change)
            assert ours.source == theirs.source, (text, change)
            assert list(ours.lines) == list(theirs.lines) or (ours.source == "" and list(ours.lines) == [""])
