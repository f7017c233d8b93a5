"""Document delivery: the answer as a Markdown document (debug, explain, and
edits a front end cannot apply)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_router.engine.results import Delivered, Status
from assistant_router.routing.tasks import Delivery

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


async def deliver(answer: Answer, target: Target, *, note: str | None = None) -> Delivered:
    request = answer.request
    task, document, span = request.task, request.document, request.span
    lines = f"lines {span.start.line + 1}-{span.last_line + 1}"
    header = f"<!-- assistant-router: {task.value} of {document.name} {lines} by {answer.label} -->\n\n"
    if request.spec.delivery is Delivery.DOCUMENT:
        body = answer.text
    else:
        body = f"Proposed {task.value} for `{document.file_name}`:\n\n{answer.text}"
    name = f"{task.value}-{document.stem}"
    shown = await target.show_document(name, header + body, body)
    return Delivered(Status.SHOWN, {"document": shown} if shown else {}, note)
