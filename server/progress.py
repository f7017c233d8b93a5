"""Work-done progress for a running task, when the client supports it."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from assistant_router.engine.results import model_label

if TYPE_CHECKING:
    from assistant_router.routing.router import Decision
    from assistant_router.routing.tasks import TaskSpec

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1


class ProgressReporter:
    """Begin, throttled reports, end; nothing when the client has no progress.

    ``on_token`` learns the token once the client has accepted it, so the
    runner can cancel the task from the progress UI.
    """

    def __init__(self, ls: LanguageServer, enabled: bool, on_token: Callable[[str], None] | None = None) -> None:
        self._ls = ls
        self.enabled = enabled
        self._on_token = on_token
        self.token: str | None = None
        self._last = 0.0
        self._ended = False

    async def begin(self, spec: TaskSpec, decision: Decision) -> None:
        if not self.enabled:
            return
        title = f"{spec.title} · {model_label(decision.primary)}"
        message = f"routed by {decision.reason}"
        token = str(uuid.uuid4())
        try:
            await self._ls.work_done_progress.create_async(token)
        except Exception as exc:  # a client may refuse; the task still runs
            logger.warning("client refused work-done progress: %s", exc)
            self.enabled = False
            return
        self.token = token
        self._ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=True, percentage=None)
        )
        if self._on_token is not None:
            self._on_token(token)

    def report(self, message: str, *, force: bool = False) -> None:
        if self.token is None or self._ended:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self._ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def delta(self, text: str) -> None:
        """Streamed text is not shown while it arrives: edits land whole."""

    def end(self, message: str) -> None:
        if self.token is None or self._ended:
            return
        self._ended = True
        self._ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self._ls.work_done_progress.tokens.pop(self.token, None)
