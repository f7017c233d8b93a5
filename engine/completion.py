"""Inline completion: what is sent for the ``complete`` task, and what of the
answer is shown.

Assembly (:func:`assemble_completion`, called by ``engine/assembly.py``) sends
the code before and after the cursor within the ``[completion]`` token
budgets, cut at line starts, with secrets redacted; as a chat prompt with the
cursor marked, or, for an alias with ``api = "completions"``, as the
``prompt`` and ``suffix`` of a fill-in-the-middle request.

:func:`shown_text` turns the model's answer into what the editor shows: no
fence, no repeated prefix or suffix, stopped at a blank line or the end of
the block (or at the line's end when the cursor is inside a line), and
nothing at all when it would put back a redacted secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant_router.engine.privacy import Redactions
from assistant_router.engine.prompts import task_prompts
from assistant_router.engine.tokens import estimate_tokens
from assistant_router.routing.tasks import Task

if TYPE_CHECKING:
    from assistant_router.engine.assembly import Assembled, TaskSource
    from assistant_router.routing.policy import CompletionSettings, ModelConfig
    from assistant_router.routing.router import Decision

# Characters per token assumed when cutting the prefix and suffix before the
# estimate checks them (code runs 3-4; a generous cut is trimmed line by line).
_CHARS_PER_TOKEN = 4
# What around the sent text is scanned with it for secrets: a key block that
# starts above the prefix is still recognised as one.
SECRET_MARGIN_CHARS = 2_000
CURSOR = "<CURSOR>"
_SUFFIX_COMPARED_CHARS = 400  # of the code after the cursor, what a repeated end of an answer is compared with
# The wire API that takes a prefix and a suffix (OpenAI-compatible Completions).
FIM_API = "completions"
_PLACEHOLDER = re.compile(r"REDACTED_SECRET_\d+")
_FENCE = re.compile(r"^\s*```[\w+#.-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)
# A line that closes the block just written (kept, then the completion stops).
_CLOSER = re.compile(r"^\s*(?:[}\])]|</|(?:end|fi|done|esac)\b)")


@dataclass(frozen=True)
class CursorText:
    """The code around the cursor as sent (redacted)."""

    prefix: str
    suffix: str


def _cut_prefix(text: str, end: int, tokens: int) -> str:
    """The end of ``text[:end]`` within ``tokens``: whole lines, counted from
    the cursor up (each line's estimate once), or, for one line too long, its end."""
    start = max(0, end - tokens * _CHARS_PER_TOKEN)
    lines = text[start:end].split("\n")
    if start > 0 and len(lines) > 1:
        lines = lines[1:]  # the first line is cut: start at the next line
    used, kept = 0, 0
    for line in reversed(lines):
        cost = estimate_tokens(line) + 1
        if used + cost > tokens:
            break
        used, kept = used + cost, kept + 1
    if kept == 0:  # the cursor's own line is longer than the budget
        return lines[-1][-tokens * 2:]
    return "\n".join(lines[-kept:])


def _cut_suffix(text: str, start: int, tokens: int) -> str:
    """The start of ``text[start:]`` within ``tokens``: whole lines from the cursor down."""
    if tokens <= 0:
        return ""
    end = start + tokens * _CHARS_PER_TOKEN
    lines = text[start:end].split("\n")
    if end < len(text) and len(lines) > 1:
        lines[-1] = ""  # the last line is cut: end at the line break before it
    used, kept = 0, 0
    for line in lines:
        cost = estimate_tokens(line) + 1
        if used + cost > tokens:
            break
        used, kept = used + cost, kept + 1
    if kept == 0:
        return lines[0][: tokens * 2]
    return "\n".join(lines[:kept]) + ("\n" if kept < len(lines) else "")  # to a line's end


def cursor_offset(source: TaskSource) -> int:
    """The cursor (the request's start) as an offset in ``source.context``."""
    return source.start_offset if source.start_offset is not None else _offset(source)


def cursor_line(text: str, offset: int) -> tuple[str, str]:
    """The line of ``text`` holding ``offset``: up to it, and from it to the line's end."""
    end = text.find("\n", offset)
    return text[text.rfind("\n", 0, offset) + 1:offset], text[offset:] if end < 0 else text[offset:end]


def cursor_text(source: TaskSource, settings: CompletionSettings, redactions: Redactions) -> CursorText:
    """The prefix and suffix sent for ``source`` (whose start is the cursor)."""
    text = source.context
    offset = cursor_offset(source)
    prefix = _cut_prefix(text, offset, settings.prefix_tokens)
    suffix = _cut_suffix(text, offset, settings.suffix_tokens)
    if source.redact_secrets:
        low = max(0, offset - len(prefix) - SECRET_MARGIN_CHARS)
        high = min(len(text), offset + len(suffix) + SECRET_MARGIN_CHARS)
        redactions.learn(text[low:high], source.path)
        prefix = redactions.redact(prefix, path=source.path) if prefix else prefix
        suffix = redactions.redact(suffix, path=source.path) if suffix else suffix
    return CursorText(prefix, suffix)


def completion_decision(decision: Decision, settings: CompletionSettings) -> Decision:
    """``decision`` with each model's timeouts cut to what a completion can
    wait: its first token within ``first_token_timeout_s``, all of it within
    ``deadline_s``; and no retry (a second try would arrive too late, and
    the chain's next model is tried only while it can still arrive in time)."""
    from dataclasses import replace

    def timed(config: ModelConfig) -> ModelConfig:
        timeouts = config.timeouts
        first = min(timeouts.first_token or settings.first_token_timeout_s, settings.first_token_timeout_s)
        total = min(timeouts.total or settings.deadline_s, settings.deadline_s)
        idle = min(timeouts.idle or total, total)
        return replace(config, retries=0, timeouts=timeouts.model_copy(
            update={"first_token": first, "total": total, "idle": idle}))

    return replace(decision, chain=tuple(map(timed, decision.chain)))


def _offset(source: TaskSource) -> int:
    from assistant_router.engine.text import LineIndex

    return LineIndex(source.context).offset(*source.local(source.start))


def assemble_completion(source: TaskSource, config: ModelConfig) -> Assembled:
    from assistant_router.engine.assembly import Assembled
    from assistant_router.routing.policy import CompletionSettings

    settings = source.completion or CompletionSettings()
    redactions = Redactions()
    around = cursor_text(source, settings, redactions)
    max_output = min(settings.max_output_tokens, config.max_output_tokens or settings.max_output_tokens)
    metadata = {"language": source.language, "path": source.path, "prefix": around.prefix, "suffix": around.suffix}
    if config.api == FIM_API:
        prompt, suffix, system = around.prefix, around.suffix, ""
        # A model asked for the middle stops at a blank line unless more lines are wanted.
        stop: tuple[str, ...] = ("\n\n",) if settings.max_lines > 1 else ("\n",)
    else:
        prompts = task_prompts()
        system = prompts.system
        parts = [
            f"Task: complete. {prompts.instructions[Task.COMPLETE]}",
            f"Output contract: {prompts.output[Task.COMPLETE]}",
            f"File: {source.path} (language: {source.language or 'unknown'}).",
        ]
        if settings.neighbours and source.neighbours:
            snippets = _neighbour_snippets(source, redactions, settings.prefix_tokens // 3)
            if snippets:
                parts.append(f"{prompts.context_heading}\n\n{snippets}")
        parts.append(f"Code, with the cursor marked {CURSOR}:\n```{source.language}\n"
                     f"{around.prefix}{CURSOR}{around.suffix}\n```")
        prompt, suffix, stop = "\n\n".join(parts), None, ()
    return Assembled(
        system=system,
        prompt=prompt,
        input_tokens=estimate_tokens(system) + estimate_tokens(prompt) + estimate_tokens(suffix or ""),
        max_output_tokens=max_output,
        redactions=redactions,
        metadata=metadata,
        suffix=suffix,
        stop=stop,
        sent_max_output_tokens=max_output,
    )


def _neighbour_snippets(source: TaskSource, redactions: Redactions, tokens: int) -> str:
    """The starts of open files of the same language (their imports and first
    definitions), within ``tokens``; secrets redacted by the whole file."""
    parts: list[str] = []
    for neighbour in source.neighbours:
        if neighbour.language != source.language or tokens <= 0:
            continue
        head = _cut_suffix(neighbour.text, 0, min(tokens, 400))
        if not head.strip():
            continue
        if source.redact_secrets:
            redactions.learn(neighbour.text[: len(head) + SECRET_MARGIN_CHARS], neighbour.path)
            head = redactions.redact(head, path=neighbour.path)
        parts.append(f"### {neighbour.path}\n```{neighbour.language}\n{head.rstrip()}\n```")
        tokens -= estimate_tokens(head)
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- #
# What of the answer is shown

def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def shown_at_cursor(answer: str, source: TaskSource) -> str:
    """What of ``answer`` to insert at ``source``'s cursor (:func:`shown_text`)."""
    from assistant_router.routing.policy import CompletionSettings

    text, offset = source.context, cursor_offset(source)
    line_before, line_after = cursor_line(text, offset)
    max_lines = (source.completion or CompletionSettings()).max_lines
    return shown_text(answer, line_before, line_after, text[offset:offset + _SUFFIX_COMPARED_CHARS], max_lines)


def shown_text(answer: str, line_before: str, line_after: str, suffix: str, max_lines: int) -> str:
    """What to insert at the cursor, from a model's ``answer``; "" for nothing."""
    text = answer.replace("\r\n", "\n")
    if (fenced := _FENCE.match(text)) is not None:
        text = fenced.group(1)
    text = text.replace(CURSOR, "")
    if _PLACEHOLDER.search(text):  # a redacted secret is never put back, nor its placeholder shown
        return ""
    stripped_before = line_before.lstrip()
    if stripped_before:  # the model repeated the line up to the cursor
        if text.startswith(line_before):
            text = text[len(line_before):]
        elif text.lstrip().startswith(stripped_before) and len(stripped_before) >= 2:
            text = text.lstrip()[len(stripped_before):]
    elif text.startswith(line_before) and line_before:
        text = text[len(line_before):]  # the cursor sits in the indentation, which the answer repeats
    if line_after.strip():  # inside a line: complete the line only
        return _without_suffix(text.split("\n", 1)[0], line_after, suffix).rstrip()
    text = _without_suffix(text, line_after, suffix)
    lines = text.split("\n")
    base = _indent(line_before) if stripped_before or not line_before else len(line_before)
    kept = [lines[0]]
    deeper = False
    for line in lines[1:]:
        if len(kept) - (not kept[0].strip()) >= max_lines:  # the rest of the cursor's line does not count
            break
        if not line.strip():
            if any(k.strip() for k in kept):
                break  # a blank line ends what is being written
            kept.append(line)
            continue
        indent = _indent(line)
        if indent > base:
            deeper = True
        elif deeper or indent < base:
            if deeper and _CLOSER.match(line):
                kept.append(line)  # the brace or keyword that closes the block just written
            break
        kept.append(line)
    return "\n".join(kept).rstrip()


def _without_suffix(text: str, line_after: str, suffix: str) -> str:
    """``text`` without the code after the cursor that it repeats at its end."""
    head = suffix[:_SUFFIX_COMPARED_CHARS]
    if not head.strip():
        return text
    if line_after.strip() and text.rstrip().endswith(line_after.strip()):
        return text.rstrip()[: len(text.rstrip()) - len(line_after.strip())]
    for size in range(min(len(head), len(text)), 2, -1):  # the longest overlap of at least 3 characters
        if head[:size].strip() and text.endswith(head[:size]):
            return text[:-size]
    stripped = text.rstrip()
    for size in range(min(len(head), len(stripped)), 2, -1):
        if head[:size].strip() and stripped.endswith(head[:size].rstrip()) and len(head[:size].rstrip()) >= 3:
            return stripped[: len(stripped) - len(head[:size].rstrip())]
    return text
