"""Inline delivery: the text a completion shows at the cursor.

Nothing is applied here: the front end answers ``textDocument/inlineCompletion``
with the result's ``text`` (the editor shows it as ghost text and inserts it
when the user accepts). What of the model's answer is shown is decided by
:func:`~assistant_router.engine.completion.shown_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_router.engine.completion import shown_at_cursor
from assistant_router.engine.results import Delivered, Status

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


async def deliver(answer: Answer, target: Target) -> Delivered:
    text = shown_at_cursor(answer.text, answer.request.source)
    return Delivered(Status.SHOWN, {"text": text, "shown": bool(text)})
