"""Inline delivery: the text a completion shows at the cursor.

Nothing is applied here: the front end answers ``textDocument/inlineCompletion``
with the result's ``text`` (the editor shows it as ghost text and inserts it
when the user accepts). What of the model's answer is shown is decided by
:func:`~assistant_router.engine.completion.shown_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_router.engine.completion import shown_text
from assistant_router.engine.results import Delivered, Status

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


async def deliver(answer: Answer, target: Target) -> Delivered:
    source = answer.request.source
    settings = source.completion
    context = source.context
    offset = source.start_offset or 0
    before = context[:offset]
    line_before = before[before.rfind("\n") + 1:]
    end_of_line = context.find("\n", offset)
    line_after = context[offset:] if end_of_line < 0 else context[offset:end_of_line]
    suffix = context[offset:offset + 400]
    text = shown_text(answer.text, line_before, line_after, suffix, settings.max_lines if settings else 8)
    return Delivered(Status.SHOWN, {"text": text, "shown": bool(text)})
