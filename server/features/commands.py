"""workspace/executeCommand: ``assistant.run``, ``assistant.route``,
``assistant.preview``, ``assistant.ask``, ``assistant.usage``, ``assistant.tasks``
and ``assistant.applyUnchecked`` (an answer held back by its checks).

Each takes one argument ``{"task", "uri", "range", "prompt"?}`` (``ask``:
``{"uri", "range", "prompt"}``; ``route`` accepts a prompt instead of a task). pygls
advertises every registered command in ``executeCommandProvider.commands``
(Neovim 0.11+ refuses to run commands missing from it).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

if TYPE_CHECKING:
    from assistant_router.server.app import Services

RUN_COMMAND = "assistant.run"
ROUTE_COMMAND = "assistant.route"
PREVIEW_COMMAND = "assistant.preview"
ASK_COMMAND = "assistant.ask"
USAGE_COMMAND = "assistant.usage"
TASKS_COMMAND = "assistant.tasks"
APPLY_UNCHECKED_COMMAND = "assistant.applyUnchecked"


def _parse(raw: Any, kind: str = "TaskArgs"):
    from assistant_router.server import arguments

    try:
        return arguments.parse_task_args(raw, getattr(arguments, kind))
    except arguments.ArgumentError as exc:
        raise JsonRpcInvalidParams(str(exc)) from None


def setup(server: LanguageServer, services: Services) -> None:
    @server.command(RUN_COMMAND)
    async def run(ls: LanguageServer, argument: Any) -> dict:
        args = _parse(argument)
        return await services.runner.run(args, ls.protocol.msg_id)

    @server.command(PREVIEW_COMMAND)
    async def preview(ls: LanguageServer, argument: Any) -> dict:
        return await services.runner.preview(_parse(argument))

    @server.command(ROUTE_COMMAND)
    async def route(ls: LanguageServer, argument: Any) -> dict:
        """The decision; with a prompt and no task, the classified task too."""
        return await services.runner.route(_parse(argument, "RouteArgs"))

    @server.command(USAGE_COMMAND)
    async def usage(ls: LanguageServer, *arguments: Any) -> dict:
        """The usage report's summary (``assistant-router usage`` in the terminal);
        the argument is optional (pygls needs ``*arguments`` for that)."""
        from assistant_router.engine.usage.report import summarize

        args = _parse(arguments[0] if arguments else {}, "UsageArgs")
        since = time.time() - args.days * 86400
        roots = services.roots.roots
        project = None if args.all_projects or not roots else str(roots[-1])  # the outermost folder
        rows = await services.usage.worker.call("rows", since, project, default=[])
        choices = await services.usage.worker.call("choices", since, project, default=[])
        completions = await services.usage.worker.call("completions", since // 3600 * 3600, project, default=[])
        return summarize(rows, since, choices=choices, completions=completions)

    @server.command(TASKS_COMMAND)
    def tasks(ls: LanguageServer, *arguments: Any) -> dict:
        """The task table (also in ``ServerCapabilities.experimental.assistantRouter``)."""
        from assistant_router.routing.tasks import task_table

        return {"tasks": task_table()}

    @server.command(APPLY_UNCHECKED_COMMAND)
    async def apply_unchecked(ls: LanguageServer, argument: Any) -> dict:
        """Apply an answer its checks held back (the code action gives its id)."""
        return await services.runner.apply_unchecked(_parse(argument, "HeldArgs").id)

    @server.command(ASK_COMMAND)
    async def ask(ls: LanguageServer, argument: Any) -> dict:
        return await services.runner.ask(_parse(argument, "AskArgs"), ls.protocol.msg_id)
