"""A deterministic, offline provider for tests and the demo.

Its reply is derived from the request (task, selection, lines), so tests can
assert on it; latency, chunking and failures come from the alias's ``options``::

    [models.opus]
    provider = "mock"
    model = "claude-opus-4-6"
    options = { delay_ms = 20, chunk_chars = 12, fail = "retryable" }
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from assistant_router.providers.base import (
    STOP_END,
    Completion,
    FatalProviderError,
    ModelRequest,
    Provider,
    RetryableProviderError,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from assistant_router.routing.strict import StrictModel

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig

logger = logging.getLogger(__name__)

_LINE_COMMENT = {
    "python": "#", "ruby": "#", "shellscript": "#", "perl": "#", "r": "#", "toml": "#", "yaml": "#",
    "lua": "--", "sql": "--", "haskell": "--", "elixir": "#",
}


def _stub(description: str, language: str, comment: str, signature: str) -> str:
    """A placeholder definition named after the words of the selection."""
    words = re.findall(r"[a-z]+", description.lower().split(":", 1)[-1])
    meaningful = [
        w for w in words if w not in {"a", "an", "the", "that", "which", "whose", "is", "are", "of", "to", "function"}
    ]
    name = "_".join(meaningful[:5]) or "generated"
    if language == "python":
        return f'def {name}(*args, **kwargs):\n    """Scaffolded by {signature}."""\n    raise NotImplementedError\n'
    return f"{comment} {name}: scaffolded by {signature}\n"


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def completion_reply(prefix: str, signature: str, language: str) -> str:
    """A deterministic continuation of ``prefix``: the body of a block the
    cursor opens, else a statement on the cursor's line (tests assert on it)."""
    comment = _LINE_COMMENT.get(language, "//")
    line = prefix.rsplit("\n", 1)[-1]
    indent = line[: len(line) - len(line.lstrip())]
    word = re.sub(r"\W+", "_", signature.split(" ", 1)[0]).strip("_") or "mock"
    if line.rstrip().endswith((":", "{")):
        step = "    " if language == "python" or "\t" not in indent else "\t"
        closing = f"\n{indent}}}" if line.rstrip().endswith("{") else ""
        return f"\n{indent}{step}return {word}_value  {comment} completed by {signature}{closing}"
    if not line.strip():
        return f"{word}_value = 1  {comment} completed by {signature}"
    return f"  {comment} completed by {signature}"


def derive_reply(task: str, signature: str, meta: Mapping[str, Any]) -> str:
    """A deterministic answer for ``task`` in the shape the task's prompt asks
    for, derived from the request's metadata (selection, lines, language).
    Shared by the mock provider and the loopback fake servers."""
    selection: str = meta.get("selection", "")
    first, last = meta.get("start_line", 1), meta.get("end_line", 1)
    comment = _LINE_COMMENT.get(meta.get("language", ""), "//")
    fence = meta.get("language", "")
    body = selection if selection.endswith("\n") or not selection else selection + "\n"
    match task:
        case "complete":
            return completion_reply(meta.get("prefix", ""), signature, meta.get("language", ""))
        case "review":
            findings = [
                {
                    "line": first,
                    "end_line": last,
                    "severity": "warning",
                    "category": "style",
                    "message": f"{signature} reviewed lines {first}-{last} ({len(selection.splitlines())} lines)",
                }
            ]
            for number, text in enumerate(selection.splitlines(), start=first):
                if "TODO" in text:
                    findings.append(
                        {"line": number, "end_line": number, "severity": "info", "category": "maintainability",
                         "message": "unresolved TODO", "replacement": text.replace("TODO", "DONE")}
                    )
            return json.dumps({"findings": findings}, indent=1)
        case "explain" | "debug":
            heading = "Explanation" if task == "explain" else "Debugging notes"
            return (
                f"# {heading}: `{meta.get('path', 'selection')}` lines {first}-{last}\n\n"
                f"Answered by {signature}.\n\n"
                f"The selection has {len(selection.splitlines())} lines and "
                f"{len(selection.split())} words. It starts with:\n\n```{fence}\n"
                f"{selection.splitlines()[0] if selection else ''}\n```\n"
            )
        case "test":
            return f"```{fence}\n{comment} tests for lines {first}-{last} by {signature}\n```\n"
        case "fix":
            problem = (meta.get("diagnostics") or ["the reported problem"])[0]
            return f"```{fence}\n{comment} fixed by {signature}: {problem}\n{body}```\n"
        case "scaffold":
            return f"```{fence}\n{body}{_stub(selection, meta.get('language', ''), comment, signature)}```\n"
        case _:
            return f"```{fence}\n{comment} {task} by {signature}\n{body}```\n"


class MockOptions(StrictModel):
    """``options`` of a mock alias."""

    chunk_chars: int = Field(default=24, gt=0)
    delay_ms: float = Field(default=0, ge=0, description="pause before each chunk")
    first_token_ms: float = Field(default=0, ge=0, description="pause before the first chunk")
    fail: Literal["none", "retryable", "fatal", "midstream"] = "none"
    fail_times: int | None = Field(default=None, gt=0, description="fail only the first N requests")
    fail_message: str | None = None
    reply: str | None = Field(default=None, description="a fixed reply instead of the derived one")


class MockProvider(Provider):
    Options = MockOptions

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.alias = config.alias
        self.options = MockOptions.model_validate(config.options)
        self.requests = 0

    def reply_for(self, request: ModelRequest) -> str:
        if self.options.reply is not None:
            return self.options.reply
        return derive_reply(request.task, f"mock {self.alias} ({request.model})", request.metadata)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        options = self.options
        self.requests += 1
        failing = options.fail_times is None or self.requests <= options.fail_times
        fail = options.fail if failing else "none"
        message = options.fail_message or f"mock {self.alias}: simulated {fail} failure"
        if fail == "retryable":
            raise RetryableProviderError(message, status=529)
        if fail == "fatal":
            raise FatalProviderError(message, status=401)
        text = self.reply_for(request)
        chunks = [text[i : i + options.chunk_chars] for i in range(0, len(text), options.chunk_chars)]
        sent = 0
        try:
            if options.first_token_ms:
                await asyncio.sleep(options.first_token_ms / 1000)
            for chunk in chunks:
                if options.delay_ms:
                    await asyncio.sleep(options.delay_ms / 1000)
                if fail == "midstream" and sent >= len(chunks) // 2 and sent > 0:
                    raise StreamInterruptedError(message)
                sent += 1
                yield TextDelta(chunk)
            yield Completion(Usage(_tokens(request.system + request.prompt), _tokens(text)), STOP_END)
        finally:
            if sent < len(chunks):
                logger.info("mock %s stream closed early after %d/%d chunks", self.alias, sent, len(chunks))
            else:
                logger.debug("mock %s stream finished (%d chunks)", self.alias, sent)
