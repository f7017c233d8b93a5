"""The baseline: a bare pygls 2 server with one plain synchronous handler.

It answers ``textDocument/codeAction`` with a constant list of six code
actions, each carrying a command, shaped like assistant-router's answer
(same kinds, titles of the same length, one argument object per command), so
the two servers serialise about the same number of bytes. Nothing else: no
logging set-up, no policy, no version lookup.

Run: ``python bench/bare_server.py`` (LSP over stdio).
"""

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "1.0")

_URI = "file:///tmp/assistant-router-bench/workspace/bench_document.py"
_RANGE = {"start": {"line": 100, "character": 0}, "end": {"line": 130, "character": 0}}
_TASKS = [
    ("scaffold", "Scaffold code for selection", "refactor.rewrite.assistant.scaffold", "codex", "gpt-5.3-codex"),
    ("test", "Write tests for selection", "refactor.rewrite.assistant.test", "codex", "gpt-5.3-codex"),
    ("refactor", "Refactor selection", "refactor.rewrite.assistant.refactor", "opus", "claude-opus-4-6"),
    ("debug", "Debug selection", "refactor.assistant.debug", "opus", "claude-opus-4-6"),
    ("review", "Review selection", "refactor.assistant.review", "opus", "claude-opus-4-6"),
    ("explain", "Explain selection", "refactor.assistant.explain", "opus", "claude-opus-4-6"),
]


def _action(task: str, verb: str, kind: str, alias: str, model: str) -> types.CodeAction:
    title = f"{verb} · {alias} ({model})"
    argument = {"task": task, "uri": _URI, "range": _RANGE}
    return types.CodeAction(
        title=title,
        kind=kind,
        command=types.Command(title=title, command="assistant.run", arguments=[argument]),
    )


ACTIONS = [_action(*task) for task in _TASKS]


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, "refactor.rewrite.assistant", "refactor.assistant"],
        resolve_provider=False,
    ),
)
def code_actions(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    return ACTIONS


if __name__ == "__main__":
    server.start_io()
