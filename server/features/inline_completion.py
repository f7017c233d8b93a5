"""``textDocument/inlineCompletion`` (LSP 3.18): ghost text as you type, from
the model the policy routes the ``complete`` task to.

Advertised only to clients that declare the capability (``server/protocol.py``).
Each request runs the one pipeline (``engine/pipeline.py run_task``) in its
own task, and:

- **cancel-previous**: a newer request for the same document cancels the
  older one at once, which closes its upstream stream (Neovim does not cancel
  superseded requests itself); the older request answers an empty list;
- **debounce**: an automatic request waits ``[completion] debounce_ms`` for
  the next keystroke before anything is sent (an explicit one does not);
- **cache**: typing the first characters of the completion just shown
  reuses it, with no model call;
- **a deadline**: what is not ready within ``deadline_s`` is not shown;
- **acceptance**: each item carries ``assistant.inlineCompletionAccepted``,
  which the client runs when the user takes it; the ledger adds it to the
  hour's counts (``engine/usage/ledger.py CompletionRow``).

Nothing here blocks the event loop: assembly runs in a worker thread, the
ledger on its own thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

if TYPE_CHECKING:
    from assistant_router.engine.request import Document
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

ACCEPTED_COMMAND = "assistant.inlineCompletionAccepted"
# The code around a shown completion that must be unchanged for the cache to reuse it.
_CACHE_CONTEXT_CHARS = 256
_REMEMBERED_ITEMS = 256  # shown items whose acceptance can still be recorded
# Beyond the deadline the engine keeps, the moment the front end gives up waiting.
_DEADLINE_SLACK_S = 0.25


def debounce_s(trigger: types.InlineCompletionTriggerKind, debounce_ms: int, client_debounces: bool) -> float:
    """How long a request waits for the next keystroke: an automatic one from a
    client that does not wait for a pause itself, ``debounce_ms``; else none."""
    automatic = trigger == types.InlineCompletionTriggerKind.Automatic
    return debounce_ms / 1000 if automatic and not client_debounces else 0.0


@dataclass(frozen=True)
class Shown:
    """A completion shown at ``offset`` of a document, with the text around it."""

    uri: str
    offset: int  # code points into the document's text
    before: str  # the text just before ``offset``
    after: str  # the text just after it
    text: str
    config: ModelConfig
    project: str

    def reuse(self, text: str, offset: int) -> str | None:
        """What is left of this completion for the document ``text`` with the
        cursor at ``offset``, when the user typed its first characters (and
        changed nothing else nearby); None otherwise."""
        if offset < self.offset or text[max(0, self.offset - len(self.before)):self.offset] != self.before:
            return None
        typed = text[self.offset:offset]
        if not self.text.startswith(typed) or len(typed) >= len(self.text):
            return None
        if text[offset:offset + len(self.after)] != self.after:
            return None
        return self.text[len(typed):]


class InlineCompletions:
    """The server's inline completions: the latest request per document, the
    cache, and the shown items awaiting acceptance."""

    def __init__(self, services: Services, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._services = services
        self._sleep = sleep
        self._latest: dict[str, asyncio.Task[Any]] = {}
        self._shown: dict[str, Shown] = {}  # per document: the last completion shown
        self._items: OrderedDict[str, tuple[Shown, str]] = OrderedDict()  # item id → (completion, its text)
        self._ids = itertools.count(1)
        self._told: set[str] = set()  # messages already shown once (a budget cap, a broken alias)

    # ------------------------------------------------------------ requests
    async def complete(self, ls: LanguageServer, params: types.InlineCompletionParams,
                       request_id: Any) -> types.InlineCompletionList | None:
        uri = params.text_document.uri
        me = asyncio.current_task()
        previous = self._latest.get(uri)
        if previous is not None and not previous.done():
            previous.cancel("superseded by a newer completion request")
        if me is not None:
            self._latest[uri] = me
        try:
            return await self._complete(ls, params, request_id)
        except asyncio.CancelledError:
            if me is not None and me.cancelling() and self._latest.get(uri) is not me:
                # Superseded (not the client's $/cancelRequest, not shutdown): answer at once.
                me.uncancel()
                return types.InlineCompletionList(items=[])
            raise
        finally:
            if self._latest.get(uri) is me:
                del self._latest[uri]

    async def _complete(self, ls: LanguageServer, params: types.InlineCompletionParams,
                        request_id: Any) -> types.InlineCompletionList | None:
        from assistant_router.engine.pipeline import NoProgress, run_task
        from assistant_router.engine.request import build_request
        from assistant_router.engine.results import Status, TaskError
        from assistant_router.routing.tasks import Task

        services = self._services
        uri = params.text_document.uri
        document = services.open_document(uri)
        if document is None or services.exclusion_reason(uri) is not None:
            return None  # excluded files get nothing, and nothing is sent
        policy = services.policies.router(document.root).policy
        settings = policy.completion
        if not settings.enabled:
            return None
        text_document = ls.workspace.get_text_document(uri)
        position = params.position
        lines, span = await services.runner.locate(text_document, document.text,
                                                   types.Range(position, position))  # type: ignore[arg-type]
        offset = lines.offset(span.start.line, span.start.character)
        project = services.project_key(uri)
        if (item := self._from_cache(uri, document, offset, position)) is not None:
            return item
        if wait := debounce_s(params.context.trigger_kind, settings.debounce_ms,
                              services.capabilities.debounces_inline_completion):
            await self._sleep(wait)  # a newer keystroke cancels this one here
            # ``document`` is the text ``lines`` and ``offset`` were computed on: a
            # change meanwhile (with no newer request) leaves them stale.
            current = services.open_document(uri)
            if current is None or current.version != document.version:
                return types.InlineCompletionList(items=[])  # changed while waiting: the next request answers
        try:
            request = build_request(Task.COMPLETE, document, span, services.policies, lines=lines,
                                    open_documents=services.runner.open_documents() if settings.neighbours else ())
        except TaskError as exc:
            logger.info("no completion for %s: %s", uri, exc)
            return None
        from assistant_router import delivery

        # The run records its counts without waiting for the ledger
        # (engine/usage/service.py add_later): it ends when its text is delivered.
        job = asyncio.ensure_future(run_task(request, services.engine, progress=NoProgress(),
                                             deliver=lambda answer: delivery.deliver(answer, target=None)))
        services.running.add(job, ("request", request_id))
        try:
            async with asyncio.timeout(settings.deadline_s + _DEADLINE_SLACK_S):
                result = await job
        except TimeoutError:
            logger.info("completion for %s: not ready within %.1f s", uri, settings.deadline_s)
            return None
        finally:
            if not job.done():
                job.cancel()
        if result.status is Status.REFUSED:
            self._tell_once(ls, f"assistant-router: no inline completions: {result.message}", types.MessageType.Warning)
            return None
        if result.status is Status.FAILED:
            logger.warning("completion failed: %s", result.message)
            self._tell_once(ls, f"assistant-router: inline completion failed: {result.message}",
                            types.MessageType.Error)
            return None
        text, config = (result.details or {}).get("text") or "", result.answered_by
        if not text or config is None:
            return types.InlineCompletionList(items=[])
        full = document.text
        shown = Shown(uri, offset, full[max(0, offset - _CACHE_CONTEXT_CHARS):offset],
                      full[offset:offset + _CACHE_CONTEXT_CHARS], text, config, project)
        self._shown[uri] = shown
        current = services.open_document(uri)
        if current is None or current.version != document.version:
            return types.InlineCompletionList(items=[])  # the document moved on; the cache may still serve it
        return self._item(shown, text, position)

    def _from_cache(self, uri: str, document: Document, offset: int,
                    position: types.Position) -> types.InlineCompletionList | None:
        shown = self._shown.get(uri)
        if shown is None:
            return None
        rest = shown.reuse(document.text, offset)
        if rest is None or not rest.strip():
            return None
        self._record(shown.config, shown.project, requests=1, cached=1, shown=1)
        return self._item(shown, rest, position)

    def _item(self, shown: Shown, text: str, position: types.Position) -> types.InlineCompletionList:
        item_id = f"{next(self._ids):x}"
        self._items[item_id] = (shown, text)
        while len(self._items) > _REMEMBERED_ITEMS:
            self._items.popitem(last=False)
        return types.InlineCompletionList(items=[types.InlineCompletionItem(
            insert_text=text, range=types.Range(position, position),
            command=types.Command(f"Accepted completion by {shown.config.alias}", ACCEPTED_COMMAND,
                                  arguments=[{"id": item_id}]),
        )])

    # ----------------------------------------------------------- accepted
    def accepted(self, argument: Any) -> dict[str, Any]:
        """The user took the item ``{"id": …}``: count it (an unknown id, from an
        item long gone, is ignored)."""
        item_id = argument.get("id") if isinstance(argument, dict) else None
        if not isinstance(item_id, str) or len(item_id) > 16:
            raise JsonRpcInvalidParams('expected {"id": "<the item\'s id>"}')
        found = self._items.pop(item_id, None)
        if found is None:
            return {"recorded": False}
        shown, text = found
        self._shown.pop(shown.uri, None)  # taken: the cache has nothing left to offer
        self._record(shown.config, shown.project, accepted=1, accepted_chars=len(text))
        return {"recorded": True, "alias": shown.config.alias, "chars": len(text)}

    def _record(self, config: ModelConfig, project: str, **counts: int) -> None:
        from assistant_router.engine.usage.ledger import CompletionRow

        row = CompletionRow(time.time() // 3600 * 3600, project, config.alias, config.provider, config.model,
                            **counts)
        self._services.usage.add_later(row)

    def _tell_once(self, ls: LanguageServer, message: str, kind: types.MessageType) -> None:
        key = f"{time.strftime('%Y-%m-%d', time.gmtime())} {message}"
        if key not in self._told:
            self._told.add(key)
            ls.window_show_message(types.ShowMessageParams(kind, message))

    def forget(self, uri: str) -> None:
        """The document closed."""
        self._shown.pop(uri, None)


def setup(server: LanguageServer, services: Services) -> None:
    completions = InlineCompletions(services)
    services.completions = completions

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: LanguageServer,
                                params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        return await completions.complete(ls, params, ls.protocol.msg_id)

    @server.command(ACCEPTED_COMMAND)
    def accepted(ls: LanguageServer, *arguments: Any) -> dict[str, Any]:
        return completions.accepted(arguments[0] if arguments else None)
