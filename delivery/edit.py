"""Edit delivery: the answer replaces the selection, goes after it, or into
the conventional test file; confined to what the user pointed at, rebased
onto what they typed meanwhile, applied by the front end's target."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant_router.delivery import document
from assistant_router.delivery.target import FileEdit
from assistant_router.delivery.text_edits import (
    EditConflict,
    OutsideSelection,
    build_text_edit,
    check_confined,
    extract_code,
    test_file_for,
)
from assistant_router.engine.results import Delivered, Failed, Status
from assistant_router.engine.text import LineIndex, Pos, Span
from assistant_router.routing.tasks import EditPlacement

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


@dataclass(frozen=True)
class Plan:
    """Where an answer's code would go, before anything is applied."""

    edit: FileEdit
    before: str  # the destination's text now
    test_file: bool = False
    rebased: bool = False

    @property
    def after(self) -> str:
        lines = LineIndex(self.before)
        start = lines.offset(self.edit.range.start.line, self.edit.range.start.character)
        end = lines.offset(self.edit.range.end.line, self.edit.range.end.character)
        return self.before[:start] + self.edit.new_text + self.before[end:]

    @property
    def changed_lines(self) -> tuple[int, int]:
        first = self.edit.range.start.line
        return first, first + max(self.edit.new_text.count("\n") - (self.edit.new_text.endswith("\n")), 0)


async def plan(answer: Answer, target: Target) -> Plan:
    """The edit ``answer`` makes: confined to what the user pointed at, rebased
    onto what they typed meanwhile. Raises Failed when it cannot be placed."""
    request = answer.request
    spec, source = request.spec, request.document
    test_file = None
    if spec.placement is EditPlacement.TEST_FILE and target.can_create_files and source.root and source.relative:
        test_file = test_file_for(source.relative, source.language, (source.root / "tests").is_dir())
    destination = Path(test_file).name if test_file else source.file_name
    seen = request.source  # what the model saw: the document, or the window of a long one
    try:
        await asyncio.to_thread(
            check_confined, answer.text, seen.context, Span.of(*seen.local(seen.start), *seen.local(seen.end)),
            destination, new_module=spec.new_module, line_offset=seen.window_line,
        )
    except OutsideSelection as exc:
        raise Failed(
            f"not applied: {exc}. {answer.label} was asked to change only your selection; nothing was changed"
        ) from None
    if test_file is not None and source.root is not None:
        return _test_file_plan(answer, target, source.root / test_file)
    current = target.read(source.uri)
    now = current.text if current is not None else source.text
    try:
        # Off the loop: a long document that changed meanwhile is compared (its changed part) line by line.
        change = await asyncio.to_thread(
            build_text_edit, source.text, now, request.span, answer.text, spec.placement or EditPlacement.REPLACE
        )
    except EditConflict as exc:
        raise Failed(
            f"not applied: {exc} while {answer.label} was working. Run the task again on the new text."
        ) from None
    version = current.version if current is not None else None
    return Plan(FileEdit(source.uri, change.range, change.new_text, version), now, rebased=now != source.text)


async def deliver(answer: Answer, target: Target) -> Delivered:
    held = answer.checks is not None and not answer.checks.passed and not target.accepts_unchecked
    if (reason := target.cannot_apply_edits) is not None and not held:
        return await document.deliver(answer, target, note=f"{reason}; the proposed code is shown instead")
    planned = await plan(answer, target)
    if held:
        return await _held(answer, target, planned)
    await target.apply(answer, [planned.edit])
    if planned.test_file:
        await target.reveal(planned.edit.uri)
    return Delivered(Status.APPLIED, {"edit": _edit_details(planned)})


def _edit_details(planned: Plan) -> dict[str, Any]:
    edit = planned.edit
    details: dict[str, Any] = {"uri": edit.uri, "range": edit.range.to_json(), "new_text": edit.new_text,
                               "rebased": planned.rebased}
    if planned.test_file:
        details["created"] = edit.create
    return details


async def _held(answer: Answer, target: Target, planned: Plan) -> Delivered:
    """No answer passed its checks: nothing is applied; the problems are shown
    where the edit would go, with a way to apply it anyway."""
    assert answer.checks is not None
    shown = target.hold(answer, [planned.edit], answer.checks.findings)
    summary = answer.checks.summary()
    message = (f"not applied: {answer.label}'s edit failed its checks ({summary}). The problems are shown; "
               f"{shown.get('how_to_apply', 'apply it only if you choose to')}")
    return Delivered(Status.HELD, {"held_edit": _edit_details(planned), **shown}, message)


def _test_file_plan(answer: Answer, target: Target, path: Path) -> Plan:
    """Tests go to the conventional test file: created, or appended to."""
    uri = path.as_uri()
    current = target.read(uri)
    text = current.text if current is not None else ""
    code = extract_code(answer.text).rstrip("\n") + "\n"
    if text:
        lines = LineIndex(text)
        end = Pos(len(lines), 0) if text.endswith("\n") else Pos(len(lines) - 1, len(lines[-1]))
        new_text = ("" if text.endswith("\n") else "\n") + "\n\n" + code
    else:
        end, new_text = Pos(0, 0), code
    edit = FileEdit(uri, Span(end, end), new_text, current.version if current else None, create=current is None)
    return Plan(edit, text, test_file=True)
