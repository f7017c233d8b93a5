"""Big inputs: work in proportion to what is sent (engine/limits.py).

A long document is read only around the selection, with the document's own
line numbers; a selection over the limit is refused before anything is
estimated; slices give exactly what one pass over the whole text gives.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support import FUNCTION, long_module

from assistant_router.engine import limits, tokens
from assistant_router.engine.assembly import assemble
from assistant_router.engine.context import gather
from assistant_router.engine.policies import StaticPolicies
from assistant_router.engine.request import Document, build_request
from assistant_router.engine.results import Refused
from assistant_router.engine.secrets import (
    _block_findings,
    _kubernetes_findings,
    _line_findings,
    find_secrets,
    merge,
)
from assistant_router.engine.text import LineIndex, Span, slices
from assistant_router.engine.tokens import _estimate, estimate_tokens
from assistant_router.routing.policy import build_policy, builtin_layer
from assistant_router.routing.tasks import Task

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "".join(f"MIIEowIBAAKCAQEA{n:04d}x9Qv2Lm8Zr7Tk4Wq1Yp6Hs3Jd5Nf0Bc8Ve2Xg7Ka9Lm\n" for n in range(12))
    + "-----END RSA PRIVATE KEY-----\n"
)


def policies(root: Path) -> StaticPolicies:
    policy, _ = build_policy([builtin_layer()])
    assert policy is not None
    return StaticPolicies(root, policy)


def request_for(text: str, span: Span, tmp_path: Path, task: Task = Task.REVIEW):
    document = Document("file:///w/big.py", text, "python", tmp_path, "big.py", open=True)
    return build_request(task, document, span, policies(tmp_path))


def test_a_selection_over_the_limit_is_refused_before_anything_is_estimated(tmp_path, monkeypatch):
    def never(text: str) -> int:
        raise AssertionError("estimated a selection that is refused anyway")

    monkeypatch.setattr(tokens, "estimate_tokens", never)
    line = "x" * 99 + "\n"
    text = line * (limits.MAX_SELECTION_CHARS // len(line) + 10)
    lines = text.count("\n")
    with pytest.raises(Refused, match=r"the selection is 2,\d{3},\d{3} characters, and at most 2,000,000 are sent"):
        request_for(text, Span.of(0, 0, lines, 0), tmp_path)
    # Just under the limit is not refused by it.
    request_for(text, Span.of(0, 0, lines - 20, 0), tmp_path)


def test_a_long_document_is_read_around_the_selection_with_its_own_line_numbers(tmp_path):
    text = long_module(3 * limits.WHOLE_DOCUMENT_CHARS)
    index = LineIndex(text)
    first = index.line_of(len(text) // 2)
    first -= first % 5  # the start of a function
    request = request_for(text, Span.of(first + 1, 0, first + 3, 0), tmp_path)
    source = request.source

    assert source.window is not None
    assert len(source.window) <= 2 * (limits.CONTEXT_REACH_CHARS + limits.LINE_SLACK_CHARS) + 100
    assert source.window_line > 0 and source.window_column == 0  # cut at a line start
    assert source.selection == index.text_in(Span.of(first + 1, 0, first + 3, 0))
    assembled = assemble(source, request.decision.primary)
    n = first // 5
    assert f"enclosing function definition `helper_{n}` (lines {first + 1}-{first + 3})" in assembled.prompt
    assert f"lines {first + 2}-{first + 3}" in assembled.prompt  # the selection, as the document numbers it


def test_a_line_too_long_to_end_nearby_is_cut_mid_line(tmp_path):
    minified = "var a=1;" * (limits.WHOLE_DOCUMENT_CHARS // 4)  # one line of 1 MB
    text = "// header\n" + minified + "\n"
    request = request_for(text, Span.of(1, 500_000, 1, 500_040), tmp_path, Task.EXPLAIN)
    source = request.source
    assert source.window is not None and len(source.window) <= 2 * limits.CONTEXT_REACH_CHARS + 40
    assert source.window_line == 1 and source.window_column == 500_000 - limits.CONTEXT_REACH_CHARS
    assert source.selection == minified[500_000:500_040]


def test_a_key_block_reaching_into_the_selection_is_found_whole_in_a_long_document(tmp_path):
    head = long_module(2 * limits.WHOLE_DOCUMENT_CHARS)
    text = head + 'KEY = """\n' + PEM + '"""\n' + long_module(limits.WHOLE_DOCUMENT_CHARS)
    lines = LineIndex(text)
    key_line = lines.line_of(len(head)) + 1  # the BEGIN line
    # Select only the last lines of the block: the BEGIN line is not in the selection.
    request = request_for(text, Span.of(key_line + 9, 0, key_line + 15, 0), tmp_path, Task.EXPLAIN)
    assembled = assemble(request.source, request.decision.primary)
    assert "x9Qv2Lm8Zr7Tk4Wq1Yp6Hs3Jd5Nf0Bc8Ve2Xg7Ka9Lm" not in assembled.prompt
    assert "REDACTED_SECRET_" in assembled.prompt


def test_gather_numbers_lines_from_the_window_start():
    text = FUNCTION.format(n=1) + FUNCTION.format(n=2)
    titles = [p.title for p in gather(text, "python", (6, 0), (7, 0), first_line=1000)]
    assert "enclosing function definition `helper_2` (lines 1006-1008)" in titles
    plain = [p.title for p in gather(text, "text", (6, 0), (7, 0), first_line=1000)]
    assert plain == ["lines 1001-1006 (before the selection)", "lines 1008-1010 (after the selection)"]


def test_sliced_token_estimates_add_up_to_one_pass():
    text = long_module(5 * limits.SLICE_CHARS) + "naïve  café 😀 " * 10_000 + "\n" + long_module(limits.SLICE_CHARS)
    assert len(list(slices(text, limits.SLICE_CHARS))) > 4
    assert estimate_tokens(text) == max(1, round(_estimate(text)))


def test_sliced_secret_scans_find_what_one_pass_finds():
    """Secrets placed across every slice boundary are found, at the same spans."""
    filler = "# " + "lorem ipsum " * 5 + "\n"
    parts = []
    for n in range(12):
        parts.append(filler * (limits.SLICE_CHARS // len(filler) - 1))
        parts.append(f'token = "ghp_{n:02d}AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"\n')
        parts.append(f'password = "Zq8!vR{n:02d}mW3#kP9x"\n')
    text = "".join(parts) + PEM
    sliced = find_secrets(text, "settings.py")
    one_pass = merge([*_block_findings(text), *_line_findings(text, "settings.py", False), *_kubernetes_findings(text)])
    assert list(sliced) == one_pass
    assert sorted({text[f.start:f.end][:4] for f in sliced}) == ["----", "Zq8!", "ghp_"]
    assert len(sliced) == 12 * 2 + 1


def test_diagnostics_and_prompts_have_bounds():
    from assistant_router.server.arguments import ArgumentError, parse_task_args

    argument = {"task": "fix", "uri": "file:///w/a.py",
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}
    many = [{"message": "bad", "line": 0}] * (limits.MAX_DIAGNOSTICS + 1)
    with pytest.raises(ArgumentError, match=r"diagnostics: at most 100 \(got 101\)"):
        parse_task_args({**argument, "diagnostics": many})
    with pytest.raises(ArgumentError, match="prompt"):
        parse_task_args({**argument, "prompt": "x" * (limits.MAX_PROMPT_CHARS + 1)})
    with pytest.raises(ArgumentError, match="message"):
        parse_task_args({**argument, "diagnostics": [{"message": "x" * (limits.MAX_DIAGNOSTIC_CHARS + 1), "line": 0}]})
    assert parse_task_args({**argument, "diagnostics": many[:100]}).diagnostics[99].message == "bad"


def test_neighbours_are_bounded_in_size_and_number(tmp_path):
    small = [Document(f"file:///w/n{i}.py", "def f():\n    pass\n", "python", tmp_path, f"n{i}.py", open=True)
             for i in range(limits.MAX_NEIGHBOURS + 5)]
    huge = Document("file:///w/huge.py", "x = 1\n" * limits.MAX_NEIGHBOUR_CHARS, "python", tmp_path, "huge.py",
                    open=True)
    document = Document("file:///w/a.py", "f()\n", "python", tmp_path, "a.py", open=True)
    request = build_request(Task.EXPLAIN, document, Span.of(0, 0, 1, 0), policies(tmp_path),
                            open_documents=[huge, *small])
    paths = [n.path for n in request.source.neighbours]
    assert "huge.py" not in paths and len(paths) == limits.MAX_NEIGHBOURS


def test_a_short_document_is_read_whole(tmp_path):
    request = request_for(long_module(10_000), Span.of(5, 0, 8, 0), tmp_path)
    assert request.source.window is None and request.source.context is request.source.text
    assert replace(request.source, window="x\n").context == "x\n"


@pytest.mark.parametrize("block", [4, 65_536])
def test_rebasing_finds_the_selection_where_it_moved(monkeypatch, block):
    """Whatever the user typed, an edit that is not a conflict lands on the
    same lines of text, at their new place."""
    import random

    from assistant_router.delivery import text_edits
    from assistant_router.delivery.text_edits import EditConflict, rebase_range
    from assistant_router.engine.text import split_lines

    monkeypatch.setattr(text_edits, "_BLOCK", block)  # small blocks: every boundary case of the C-speed scan
    rng = random.Random(block)
    words = ["a\n", "b\n", "cc\n", "x", "\n", "dd\n", "e\r\n"]
    applied = 0
    for _ in range(3000):
        before = [rng.choice(words) for _ in range(rng.randrange(1, 12))]
        after = list(before)
        for _ in range(rng.randrange(1, 3)):
            at = rng.randrange(0, len(after) + 1)
            match rng.randrange(3):
                case 0:
                    after.insert(at, rng.choice(words))
                case 1 if after:
                    after.pop(min(at, len(after) - 1))
                case _ if after:
                    after[min(at, len(after) - 1)] = rng.choice(words)
        old, new = split_lines("".join(before)), split_lines("".join(after))
        first = rng.randrange(0, len(old))
        last = rng.randrange(first, len(old))
        try:
            shift = rebase_range("".join(before), "".join(after), first, last)
        except EditConflict:
            continue
        applied += 1
        assert first + shift >= 0 and new[first + shift : last + 1 + shift] == old[first : last + 1]
    assert applied > 1000


def test_rebasing_a_long_document_compares_only_what_changed(monkeypatch):
    import difflib

    from assistant_router.delivery.text_edits import MAX_DIFF_LINES, EditConflict, rebase_range

    compared: list[int] = []
    real = difflib.SequenceMatcher

    def counting(junk, a, b, autojunk=True):
        compared.append(len(a) + len(b))
        return real(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", counting)
    text = long_module(3_000_000)
    index = LineIndex(text)
    middle = index.line_of(len(text) // 2)
    near = index.start(middle + 100)
    # Typed above the selection, or below it: placed at once. Close by on both sides: the changed lines compared.
    assert rebase_range(text, "# typed\n" + text, middle, middle + 2) == 1
    assert rebase_range(text, text + "# typed\n", middle, middle + 2) == 0
    assert compared == []
    nearby = text[: index.start(middle - 10)] + "# a\n" + text[index.start(middle - 10) : near] + "# b\n" + text[near:]
    assert rebase_range(text, nearby, middle, middle + 2) == 1
    assert sum(compared) < 300  # the 110 lines between the two changes, not 2 x 300,000
    # Far apart on both sides: refused rather than diffing a million repetitive lines.
    with pytest.raises(EditConflict, match="changed both before and after the target lines"):
        rebase_range(text, "# typed\n" + text + "# typed\n", middle, middle + 2)
    assert MAX_DIFF_LINES < index.line_of(len(text))
