"""Assembling what is sent to a model: prompt, context within budget, redaction.

Used alike by ``assistant.run``, ``assistant.preview`` and the command line,
so that a preview shows exactly what a run would send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant_router.engine import context as context_module
from assistant_router.engine.context import Neighbour, Piece
from assistant_router.engine.privacy import Redactions
from assistant_router.engine.prompts import PromptSection, build_prompt, task_prompts
from assistant_router.engine.results import model_label
from assistant_router.engine.text import LineIndex, Span
from assistant_router.engine.tokens import SAFETY, estimate_tokens
from assistant_router.engine.usage.prices import estimated_cost
from assistant_router.routing.tasks import Delivery, Task

if TYPE_CHECKING:
    from assistant_router.routing.policy import CompletionSettings, ModelConfig

# Assumed answer size for the window check when an alias sets no max_output_tokens.
DEFAULT_OUTPUT_TOKENS = 8192
MIN_CUT_TOKENS = 200  # a piece is cut to fit only if at least this much room is left


class RequestTooLarge(Exception):
    """The selection alone does not fit the model's window."""


@dataclass(frozen=True)
class TaskSource:
    """Everything about a task that does not depend on the model."""

    task: Task
    path: str  # as the model sees it: relative to the workspace root when inside it
    language: str
    text: str  # the whole document
    start: tuple[int, int]  # (line, column) in code points
    end: tuple[int, int]  # exclusive
    diagnostics: tuple[str, ...] = ()
    user_prompt: str | None = None
    neighbours: tuple[Neighbour, ...] = ()
    instructions: str | None = None  # the project's instructions file, if any
    redact_secrets: bool = True
    # What the engine reads of a long document (engine/limits.py): the text
    # from (window_line, window_column) on, holding the selection. None: all.
    window: str | None = None
    window_line: int = 0
    window_column: int = 0
    # An escalation: the answer that failed its checks and what they found
    # (engine/checks/stage.py escalation_note), for the next model of the chain.
    escalation: str | None = None
    # Inline completion: the policy's [completion] settings, and the cursor
    # (the start) as an offset in :attr:`context`, which the front end knows.
    completion: CompletionSettings | None = None
    start_offset: int | None = None
    # A review of a change: the lines (1-based) the change added, marked in the prompt.
    changed_lines: frozenset[int] | None = None

    @property
    def span(self) -> Span:
        return Span.of(*self.start, *self.end)

    @property
    def context(self) -> str:
        """The text context and secrets come from: the window, or the whole document."""
        return self.text if self.window is None else self.window

    def local(self, position: tuple[int, int]) -> tuple[int, int]:
        """A document position as a position in :attr:`context`."""
        line, column = position
        return line - self.window_line, column - self.window_column if line == self.window_line else column

    @cached_property
    def selection(self) -> str:
        return LineIndex(self.context).text_in(Span.of(*self.local(self.start), *self.local(self.end)))

    @property
    def first_line(self) -> int:
        return self.start[0] + 1

    @property
    def last_line(self) -> int:
        return self.span.last_line + 1


@dataclass
class Assembled:
    system: str
    prompt: str
    input_tokens: int  # estimated
    max_output_tokens: int
    included: list[Piece] = field(default_factory=list)
    dropped: list[Piece] = field(default_factory=list)
    redactions: Redactions = field(default_factory=Redactions)
    metadata: dict[str, Any] = field(default_factory=dict)
    suffix: str | None = None  # fill-in-the-middle: the code after the cursor, sent as the suffix
    stop: tuple[str, ...] = ()  # stop sequences sent with the request
    sent_max_output_tokens: int | None = None  # sent as the answer's limit instead of the alias's

    def summary(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "context": [{"kind": p.kind, "title": p.title, "tokens": estimate_tokens(p.text)} for p in self.included],
            "dropped": [{"kind": p.kind, "title": p.title, "tokens": estimate_tokens(p.text)} for p in self.dropped],
            "redactions": self.redactions.summary(),
        }


def _cut_to(piece: Piece, tokens: int) -> Piece | None:
    lines = piece.text.splitlines()
    kept: list[str] = []
    used = 20  # room for the note that says what was cut
    for line in lines:
        cost = estimate_tokens(line + "\n")
        if used + cost > tokens:
            break
        kept.append(line)
        used += cost
    while kept:  # estimates do not add up exactly line by line: check the whole
        text = "\n".join(kept) + f"\n… ({len(lines) - len(kept)} lines cut to fit the context budget)"
        if estimate_tokens(text) <= tokens:
            return Piece(piece.kind, piece.title, text, piece.priority)
        kept.pop()
    return None


def prepare_document(name: str, language: str, text: str) -> None:
    """Compute now what assembling any task on this document computes from
    the whole of it, into the caches assembly reads: its syntax tree and its
    secrets (``name`` as :attr:`TaskSource.path` and neighbours have it). The
    server calls it, off the event loop, for an open document left unchanged
    for a moment, so that the first task on a text costs what the next one does."""
    from assistant_router.engine.secrets import CACHED_CHARS, find_secrets

    context_module.prepare(language, text)
    if len(text) <= CACHED_CHARS:
        find_secrets(text, name)


def assemble(source: TaskSource, config: ModelConfig) -> Assembled:
    """The request for ``config``: context by priority within the alias's
    ``context_budget``, never beyond its ``context_window``."""
    if source.task.spec.delivery is Delivery.INLINE:
        from assistant_router.engine.completion import assemble_completion

        return assemble_completion(source, config)
    pieces = sorted(
        context_module.gather(source.context, source.language, source.local(source.start), source.local(source.end),
                              source.neighbours, first_line=source.window_line),
        key=lambda p: p.priority,
    )
    redactions = Redactions()
    if source.redact_secrets:
        # Whole documents first (the window of a long one): a piece holding
        # part of a secret block is redacted by what the whole block is.
        redactions.learn(source.context, source.path)
        for neighbour in source.neighbours:  # also where nothing is cut from them: a value copied from one is found
            redactions.learn(neighbour.text, neighbour.path)

    def clean(text: str, path: str | None = source.path) -> str:
        return redactions.redact(text, path=path) if source.redact_secrets else text

    system = task_prompts().system
    selection = clean(source.selection)
    diagnostics = tuple(clean(d) for d in source.diagnostics)
    user_prompt = clean(source.user_prompt) if source.user_prompt else None
    instructions = clean(source.instructions, None) if source.instructions else None
    escalation = clean(source.escalation, None) if source.escalation else None
    fence = source.language

    def render(included: list[Piece]) -> str:
        sections = [PromptSection(p.title, p.text, fence) for p in included]
        return build_prompt(
            source.task, source.path, source.language, source.first_line, source.last_line, selection,
            project_instructions=instructions, diagnostics=diagnostics, user_prompt=user_prompt, context=sections,
            escalation=escalation, changed_lines=source.changed_lines,
        )

    max_output = config.max_output_tokens or DEFAULT_OUTPUT_TOKENS
    base_tokens = estimate_tokens(system) + estimate_tokens(render([]))
    room_in_window = int((config.context_window - max_output) / SAFETY) - base_tokens
    if room_in_window < 0:
        raise RequestTooLarge(
            f"the selection (about {base_tokens} tokens) with room for a {max_output}-token answer does not fit "
            f"the {config.context_window}-token window of {model_label(config)}; select less"
        )
    budget = min(config.context_budget, room_in_window)
    included: list[Piece] = []
    dropped: list[Piece] = []
    used = 0
    for piece in pieces:
        piece = Piece(piece.kind, piece.title, clean(piece.text), piece.priority)
        cost = estimate_tokens(piece.text)
        if used + cost <= budget:
            included.append(piece)
            used += cost
            continue
        if budget - used >= MIN_CUT_TOKENS and (cut := _cut_to(piece, budget - used)) is not None:
            included.append(cut)
            used += estimate_tokens(cut.text)
        else:
            dropped.append(piece)
    prompt = render(included)
    metadata = {
        "selection": selection,
        "start_line": source.first_line,
        "end_line": source.last_line,
        "language": source.language,
        "path": source.path,
        "diagnostics": list(diagnostics),
    }
    return Assembled(
        system=system,
        prompt=prompt,
        input_tokens=estimate_tokens(system) + estimate_tokens(prompt),
        max_output_tokens=max_output,
        included=included,
        dropped=dropped,
        redactions=redactions,
        metadata=metadata,
    )


def preview_data(decision_json: dict[str, Any], config: ModelConfig, assembled: Assembled) -> dict[str, Any]:
    """Exactly what a run would send to ``config``, and what it may cost; nothing is sent."""
    return {
        **decision_json,
        "sent": False,
        "system": assembled.system,
        "prompt": assembled.prompt,
        "max_output_tokens": assembled.max_output_tokens,
        "estimated_cost": estimated_cost(config, assembled.input_tokens, assembled.max_output_tokens),
        **assembled.summary(),
    }


def preview_markdown(data: dict[str, Any]) -> str:
    return "".join(preview_markdown_parts(data))


def preview_markdown_parts(data: dict[str, Any]) -> list[str]:
    """The preview as Markdown, in parts (a file can be written from them
    without one more copy of a long prompt)."""
    from assistant_router.engine.usage.prices import format_usd

    cost = data["estimated_cost"]
    money = (
        "unknown price"
        if cost["input"] is None
        else f"{format_usd(cost['input'])} input"
        + (f" + up to {format_usd(cost['output_up_to'])} output" if cost["output_up_to"] is not None else "")
    )
    lines = [
        f"# Preview: {data['task']} → {data['alias']} ({data['provider']} {data['model']})",
        "",
        "Nothing has been sent. A run would send exactly what follows.",
        "",
        f"- Route: {data['reason']}",
        f"- Input: about {data['input_tokens']} tokens; answer up to {data['max_output_tokens']} tokens",
        f"- Estimated cost: {money}",
        "- Context: " + (", ".join(f"{c['title']} (~{c['tokens']})" for c in data["context"]) or "none"),
    ]
    if data["dropped"]:
        lines.append("- Left out to fit the budget: " + ", ".join(c["title"] for c in data["dropped"]))
    if data["redactions"]:
        lines.append(
            "- Secrets replaced by placeholders: " + ", ".join(f"{n} {k}" for k, n in data["redactions"].items())
        )
    fence = "`" * 4  # the prompt itself contains ``` fences
    lines += ["", "## System prompt", "", fence, data["system"], fence, "", "## Prompt", "", fence, ""]
    return ["\n".join(lines), data["prompt"], f"\n{fence}\n"]
