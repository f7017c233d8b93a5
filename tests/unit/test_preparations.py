"""DocumentPreparations: an open document left unchanged for a moment is
prepared (parsed, scanned for secrets) off the loop, once per resting text."""

from __future__ import annotations

import asyncio

import pytest

from assistant_router.engine import assembly
from assistant_router.engine.limits import WHOLE_DOCUMENT_CHARS
from assistant_router.engine.request import Document
from assistant_router.server.background import BackgroundLane
from assistant_router.server.preparations import DocumentPreparations


@pytest.fixture
def prepared(monkeypatch) -> list[tuple[str, str, str]]:
    calls: list[tuple[str, str, str]] = []
    monkeypatch.setattr(assembly, "prepare_document", lambda *args: calls.append(args))
    return calls


class Editor:
    """The open documents, as the server's Services.open_document sees them."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def document(self, uri: str) -> Document | None:
        text = self.texts.get(uri)
        return None if text is None else Document(uri, text, "python", None, uri.rsplit("/", 1)[-1], open=True)


async def settle(preparations: DocumentPreparations) -> None:
    for _ in range(3):  # the timer (delay 0) fires, then the preparation runs
        await asyncio.sleep(0)
    await preparations.settled()


async def test_a_resting_document_is_prepared_once_with_its_latest_text(prepared):
    editor = Editor()
    preparations = DocumentPreparations(editor.document, BackgroundLane(), delay_s=0)
    for text in ("x = 1\n", "x = 12\n", "x = 123\n"):  # typing: each change restarts the wait
        editor.texts["file:///a.py"] = text
        preparations.changed("file:///a.py")

    await settle(preparations)

    assert prepared == [("a.py", "python", "x = 123\n")]


async def test_a_preparation_waits_for_the_background_work_before_it(prepared):
    """One piece of background work at a time (the warm-up holds the lane): the
    document is read when its turn comes, so a change meanwhile is what is prepared."""
    editor = Editor()
    lane = BackgroundLane()
    preparations = DocumentPreparations(editor.document, lane, delay_s=0)
    editor.texts["file:///a.py"] = "x = 1\n"
    async with lane.turn():
        preparations.changed("file:///a.py")
        for _ in range(5):
            await asyncio.sleep(0)
        assert prepared == []
        editor.texts["file:///a.py"] = "x = 2\n"

    await settle(preparations)

    assert prepared == [("a.py", "python", "x = 2\n")]


async def test_a_document_closed_before_it_rested_is_not_prepared(prepared):
    editor = Editor()
    preparations = DocumentPreparations(editor.document, BackgroundLane(), delay_s=0)
    editor.texts["file:///a.py"] = "x = 1\n"
    preparations.changed("file:///a.py")
    preparations.forget("file:///a.py")
    del editor.texts["file:///a.py"]

    await settle(preparations)

    assert prepared == []


async def test_a_document_tasks_read_only_a_window_of_is_left_alone(prepared):
    editor = Editor()
    preparations = DocumentPreparations(editor.document, BackgroundLane(), delay_s=0)
    editor.texts["file:///big.py"] = "#" * (WHOLE_DOCUMENT_CHARS + 1)
    preparations.changed("file:///big.py")

    await settle(preparations)

    assert prepared == []


async def test_a_failed_preparation_is_logged(monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("grammar missing")

    monkeypatch.setattr(assembly, "prepare_document", broken)
    editor = Editor()
    preparations = DocumentPreparations(editor.document, BackgroundLane(), delay_s=0)
    editor.texts["file:///a.py"] = "x = 1\n"
    preparations.changed("file:///a.py")

    await settle(preparations)

    assert "preparing a.py failed: RuntimeError: grammar missing" in caplog.text


def test_preparing_fills_the_caches_a_task_reads(monkeypatch):
    """After prepare_document, assembling a task on that text neither parses
    it nor scans the whole of it for secrets again."""
    from assistant_router.engine import context, secrets

    text = "import os\n\n\ndef token():\n    return os.environ['TOKEN']\n\n\ndef use():\n    return token()\n"
    assembly.prepare_document("app.py", "python", text)

    def refuse(*args):
        raise AssertionError("computed again")

    monkeypatch.setattr(context, "_parse_uncached", refuse)
    monkeypatch.setattr(secrets, "_find", refuse)
    source = assembly.TaskSource(assembly.Task.EXPLAIN, "app.py", "python", text, (7, 0), (9, 0))
    from assistant_router.routing.policy import ModelConfig

    assembled = assembly.assemble(source, ModelConfig(alias="m", provider="mock", model="m"))
    assert "def token()" in assembled.prompt
