"""workspace/executeCommand: ``assistant.run``, ``assistant.route``,
``assistant.preview`` and ``assistant.ask``.

Each takes one argument ``{"task", "uri", "range", "prompt"?}`` (``ask``:
``{"uri", "range", "prompt"}``; ``route`` accepts a prompt instead of a task). pygls
advertises every registered command in ``executeCommandProvider.commands``
(Neovim 0.11+ refuses to run commands missing from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations
from pygls.exceptions import JsonRpcInvalidParams

if TYPE_CHECKING:
    from ..app import Services

RUN_COMMAND = "assistant.run"
ROUTE_COMMAND = "assistant.route"
PREVIEW_COMMAND = "assistant.preview"
ASK_COMMAND = "assistant.ask"


def _parse(raw: Any, kind: str = "TaskArgs"):
    from .. import arguments

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
    def route(ls: LanguageServer, argument: Any) -> dict:
        """The decision; with a prompt and no task, the classified task too."""
        return services.runner.route(_parse(argument, "RouteArgs"))

    @server.command(ASK_COMMAND)
    async def ask(ls: LanguageServer, argument: Any) -> dict:
        return await services.runner.ask(_parse(argument, "AskArgs"), ls.protocol.msg_id)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancelled(ls: LanguageServer, params: types.WorkDoneProgressCancelParams) -> None:
        services.running.cancel(("progress", params.token), "cancelled from the progress UI")
