"""Edit delivery: the answer replaces the selection, goes after it, or into
the conventional test file; confined to what the user pointed at, rebased
onto what they typed meanwhile, applied by the front end's target."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

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


async def deliver(answer: Answer, target: Target) -> Delivered:
    if (reason := target.cannot_apply_edits) is not None:
        return await document.deliver(answer, target, note=f"{reason}; the proposed code is shown instead")
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
        return await _to_test_file(answer, target, source.root / test_file)
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
    await target.apply(answer, [FileEdit(source.uri, change.range, change.new_text, version)])
    edit = {
        "uri": source.uri,
        "range": change.range.to_json(),
        "new_text": change.new_text,
        "rebased": now != source.text,
    }
    return Delivered(Status.APPLIED, {"edit": edit})


async def _to_test_file(answer: Answer, target: Target, path: Path) -> Delivered:
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
    await target.apply(answer, [edit])
    await target.reveal(uri)
    details = {"uri": uri, "range": edit.range.to_json(), "new_text": new_text, "created": edit.create,
               "rebased": False}
    return Delivered(Status.APPLIED, {"edit": details})
