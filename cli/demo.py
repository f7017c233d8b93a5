"""``assistant-router demo``: the real server, driven exactly as an editor drives it.

Starts ``assistant-router serve`` over stdio, opens a sample file in a
temporary project, lists code actions, runs scaffold, review and explain, and
shows a fallback, printing each decision, the streamed progress and the
delivered result.

Offline (the default), the real ``openai`` and ``anthropic`` adapters talk to
loopback fakes of the two APIs that this process serves, so it needs no keys
and no network. ``--live`` talks to the real services with your
``OPENAI_API_KEY`` and ``ANTHROPIC_API_KEY`` instead.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import default_converter

from assistant_router.engine.usage.prices import format_usd
from assistant_router.routing.policy import shown_provider_and_name
from assistant_router.testing.loopback import Fault, LoopbackProviders

_COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _style(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _COLOR else text


class OutputClosed(Exception):
    """The reader of the demo's output went away."""


class Output:
    """The demo's stdout, a line at a time. When the reader goes away
    (``demo | head``) the next write ends the demo quietly: it cancels the
    run, which stops the server and the fakes, as a Unix tool stops on SIGPIPE."""

    def __init__(self) -> None:
        self.closed = False
        self.run: asyncio.Task[Any] | None = None  # cancelled when the reader goes away

    def line(self, text: str = "") -> None:
        if self.closed:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            self.closed = True
            # The interpreter flushes stdout once more at exit: let that go nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if asyncio.current_task() is self.run:
                raise OutputClosed from None
            if self.run is not None:  # a client callback: stop the run where it waits
                self.run.cancel()

    def heading(self, text: str) -> None:
        self.line("\n" + _style(f"── {text} ", "1;36") + _style("─" * max(0, 70 - len(text)), "36"))

    def field(self, name: str, value: Any) -> None:
        self.line(f"  {_style(f'{name:<9}', '2')} {value}")


class DemoEditor:
    """A minimal editor: keeps the buffer, applies edits, shows what arrives."""

    def __init__(self, client: LanguageClient, uri: str, text: str, out: Output) -> None:
        self.client = client
        self.out = out
        self.uri = uri
        self.text = text
        self.version = 1
        self.diagnostics: list[types.Diagnostic] = []
        self.diagnostics_arrived = asyncio.Event()
        self.shown: list[str] = []

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create_progress(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @client.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value = params.value
            kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
            get = value.get if isinstance(value, dict) else lambda k: getattr(value, k, None)
            if kind == "begin":
                self.out.field("progress", _style(f"▶ {get('title')}", "33"))
            elif kind == "report":
                self.out.field("", _style(f"… {get('message')}", "2"))
            elif kind == "end":
                self.out.field("", _style(f"■ {get('message')}", "33"))

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            before = self.text
            for change in params.edit.document_changes or []:
                for edit in change.edits:
                    self.text = _apply(self.text, edit)
            for edits in (params.edit.changes or {}).values():
                for edit in edits:
                    self.text = _apply(self.text, edit)
            self.version += 1
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(self.version, self.uri),
                    [types.TextDocumentContentChangeWholeDocument(self.text)],
                )
            )
            diff = difflib.unified_diff(
                before.splitlines(), self.text.splitlines(), "before", "after", lineterm="", n=1
            )
            self.out.line(_style(f"  workspace/applyEdit: {params.label}", "32"))
            for line in list(diff)[2:]:
                color = "32" if line.startswith("+") else "31" if line.startswith("-") else "2"
                self.out.line("    " + _style(line, color))
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: types.PublishDiagnosticsParams) -> None:
            if params.uri == self.uri:
                self.diagnostics = list(params.diagnostics)
                self.diagnostics_arrived.set()

        @client.feature(types.WINDOW_SHOW_DOCUMENT)
        def show_document(params: types.ShowDocumentParams) -> types.ShowDocumentResult:
            self.shown.append(params.uri)
            return types.ShowDocumentResult(success=True)

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            self.out.line(_style(f"  window/showMessage: {params.message}", "35"))

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            return None

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            return None

        @client.feature("assistant/status")  # the server's custom notification after each task
        def status(params: Any) -> None:
            cost = getattr(params, "cost_usd", None)
            today = getattr(getattr(params, "spend_today", None), "usd", None)
            money = "" if cost is None else (
                f", {format_usd(cost)}" + ("" if today is None else f" ({format_usd(today)} today)"))
            line = f"assistant/status: {params.task} by {params.alias} · {params.status}{money}"
            self.out.field("status", _style(line, "2"))

    def argument(self, task: str, start: int, end: int) -> dict[str, Any]:
        return {
            "task": task,
            "uri": self.uri,
            "range": {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}},
        }

    async def run(self, task: str, start: int, end: int) -> dict[str, Any]:
        self.out.heading(f"{task}: lines {start + 1}-{end}")
        decision = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams("assistant.route", [self.argument(task, start, end)])
        )
        shown = shown_provider_and_name(decision["provider"], decision["model"])
        self.out.field("model", f"{decision['alias']} → {shown}")
        self.out.field("reason", decision["reason"])
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams("assistant.run", [self.argument(task, start, end)])
        )
        usage = result["usage"]
        self.out.field(
            "result",
            f"{result['status']} by {result['alias']} ({result['model']}) in {result['elapsed_ms']} ms, "
            f"{usage['input_tokens']} tokens in / {usage['output_tokens']} out",
        )
        return result


async def _show_server_stderr(client: LanguageClient) -> None:
    """Drain the server's stderr (a full pipe would stall it) and show it."""
    process = client._server  # pygls keeps the subprocess here
    if process is None or process.stderr is None:
        return
    while line := await process.stderr.readline():
        print(_style("  server: " + line.decode(errors="replace").rstrip(), "2"), file=sys.stderr)


def client_converter():
    """pygls's converter, with one fix for a client: lsprotocol 2025.0.0 parses
    every code action that carries a ``command`` as a bare ``Command``."""
    converter = default_converter()

    def command_or_code_action(value: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, command_or_code_action)
    # cattrs looks the hook up by the exact annotation: lsprotocol spells it both ways.
    converter.register_structure_hook(Union[types.Command, types.CodeAction], command_or_code_action)  # noqa: UP007
    return converter


def _apply(text: str, edit: types.TextEdit) -> str:
    lines = text.splitlines(keepends=True)

    def offset(position: types.Position) -> int:
        return sum(len(line) for line in lines[: position.line]) + position.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


OFFLINE_KEY = "demo-offline-key"


async def _demo(delay_ms: float, live: bool) -> int:
    data = resources.files(__package__).joinpath("demo")
    out = Output()
    out.run = asyncio.current_task()
    if live and (missing := [k for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY") if not os.environ.get(k)]):
        print(f"assistant-router demo --live needs {' and '.join(missing)} in the environment", file=sys.stderr)
        return 2
    fake = None if live else await LoopbackProviders(key=OFFLINE_KEY, chunk_chars=12, delay_s=delay_ms / 1000).start()
    with tempfile.TemporaryDirectory(prefix="assistant-router-demo-") as temp:
        root = Path(temp) / "inventory"
        (root / "legacy").mkdir(parents=True)
        sample = data.joinpath("sample.py").read_text(encoding="utf-8")
        (root / "inventory.py").write_text(sample, encoding="utf-8")
        (root / ".assistant-router.toml").write_text(data.joinpath("policy.toml").read_text(encoding="utf-8"))
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(temp) / "cache")}
        if not live:  # offline answers cost nothing real: keep them out of the user's ledger
            env["XDG_DATA_HOME"] = str(Path(temp) / "data")
        env.setdefault("ASSISTANT_ROUTER_LOG", "error")
        if fake is not None:
            # The user config the offline demo runs with: the default aliases, pointed at the fakes.
            config = Path(temp) / "config.toml"
            config.write_text(
                f'[models.codex]\nbase_url = "{fake.openai_url}"\n\n'
                f'[models.opus]\nbase_url = "{fake.anthropic_url}"\nretries = 1\n'
            )
            env.update(ASSISTANT_ROUTER_CONFIG=str(config), OPENAI_API_KEY=OFFLINE_KEY, ANTHROPIC_API_KEY=OFFLINE_KEY)

        where = "the real services" if live else f"loopback fakes of both APIs on 127.0.0.1:{fake.port}"
        out.heading(f"assistant-router demo: the real openai and anthropic adapters, talking to {where}")
        out.field("project", root)
        out.field("policy", f"{root / '.assistant-router.toml'}: refactors under legacy/ go to codex")
        client = LanguageClient("assistant-router-demo", "1", converter_factory=client_converter)
        await client.start_io(sys.executable, "-m", "assistant_router.server", "serve", env=env)
        stderr_reader = asyncio.create_task(_show_server_stderr(client))
        ended = False
        try:
            uri = (root / "inventory.py").as_uri()
            editor = DemoEditor(client, uri, sample, out)
            capabilities = types.ClientCapabilities(
                window=types.WindowClientCapabilities(
                    work_done_progress=True, show_document=types.ShowDocumentClientCapabilities(support=True)
                ),
                workspace=types.WorkspaceClientCapabilities(
                    apply_edit=True, workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True)
                ),
            )
            result = await client.initialize_async(
                types.InitializeParams(
                    capabilities=capabilities,
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(root.as_uri(), "inventory")],
                )
            )
            client.initialized(types.InitializedParams())
            info = result.server_info
            out.field("server", f"{info.name} {info.version}" if info else "assistant-router")
            commands = result.capabilities.execute_command_provider
            out.field("commands", ", ".join(commands.commands) if commands else "none")
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, sample))
            )

            out.heading("textDocument/codeAction on lines 12-16 (no model is called)")
            actions = await client.text_document_code_action_async(
                types.CodeActionParams(
                    types.TextDocumentIdentifier(uri),
                    types.Range(types.Position(11, 0), types.Position(16, 0)),
                    types.CodeActionContext(diagnostics=[]),
                )
            )
            for action in actions or []:
                out.line(f"  • {action.title}  {_style(f'[{action.kind}]', '2')}")

            lines = sample.splitlines()
            scaffold_line = next(i for i, line in enumerate(lines) if line.startswith("# scaffold:"))
            await editor.run("scaffold", scaffold_line, scaffold_line + 1)

            editor.diagnostics_arrived.clear()
            review = await editor.run("review", 5, 9)
            await asyncio.wait_for(editor.diagnostics_arrived.wait(), 5)
            out.line(_style(f"  textDocument/publishDiagnostics: {review.get('diagnostics', 0)} findings", "32"))
            for diagnostic in editor.diagnostics:
                severity = types.DiagnosticSeverity(diagnostic.severity).name.lower() if diagnostic.severity else "?"
                out.line(f"    line {diagnostic.range.start.line + 1}: {severity}: {diagnostic.message}")

            await editor.run("explain", 11, 16)
            for shown in editor.shown[-1:]:
                out.line(_style(f"  window/showDocument: {shown}", "32"))
                from pygls import uris

                path = uris.to_fs_path(shown)
                for line in Path(path).read_text(encoding="utf-8").splitlines():
                    out.line("    │ " + line)

            if fake is not None:
                out.heading("when a model is overloaded")
                out.line("  (the fake Anthropic API now answers 529 overloaded, twice)")
                fake.fail_next("anthropic", Fault("status", 529), Fault("status", 529))
                fallback = await editor.run("debug", 11, 16)
                for attempt in fallback["attempts"]:
                    outcome = attempt.get("error") or "answered"
                    out.field("attempt", f"{attempt['alias']} ({attempt['model']}): {outcome}")

            out.heading("what it cost (assistant.usage: the ledger, priced per model)")
            summary = await client.workspace_execute_command_async(types.ExecuteCommandParams("assistant.usage", []))
            for model, numbers in summary["by_model"].items():
                out.field(model.split(" ")[0], f"{numbers['answered']} answers, {numbers['input_tokens']} tokens in, "
                      f"{numbers['output_tokens']} out, {format_usd(numbers['cost_usd'])}")

            out.heading("why refactors of legacy code go elsewhere")
            legacy = (root / "legacy" / "old.py").as_uri()
            decision = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    "assistant.route",
                    [
                        {
                            "task": "refactor",
                            "uri": legacy,
                            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}},
                        }
                    ],
                )
            )
            out.field("legacy/", f"refactor → {decision['alias']} ({decision['model']}): {decision['reason']}")
            decision = await client.workspace_execute_command_async(
                types.ExecuteCommandParams("assistant.route", [editor.argument("refactor", 11, 16)])
            )
            out.field("elsewhere", f"refactor → {decision['alias']} ({decision['model']}): {decision['reason']}")
            out.line()
            await client.shutdown_async(None)
            client.exit(None)
            ended = True
        finally:
            stderr_reader.cancel()
            process = client._server
            if not ended and process is not None and process.returncode is None:
                process.terminate()  # stopped early (an error, a closed output): pygls's stop() waits for the exit
            await client.stop()
            if fake is not None:
                await fake.close()
    return 0


def run_demo(delay_ms: float = 15, live: bool = False) -> int:
    try:
        return asyncio.run(_demo(delay_ms, live))
    except KeyboardInterrupt:
        return 130
    except (OutputClosed, asyncio.CancelledError):  # the reader of stdout went away (Output.line)
        return 0
