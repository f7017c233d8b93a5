"""One request context per run: every question about the document, its
location, the policy, the exclusions, the neighbours and the instructions is
answered here, once, before anything is sent.

Front ends describe what they know (:class:`Document`, a :class:`Span` in code
points, the open documents as :class:`Document` too) and call
:func:`build_request`; the editor and the terminal build the same request for
the same file, selection, task and policy, so they send the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from assistant_router.engine.assembly import TaskSource
from assistant_router.engine.context import Neighbour
from assistant_router.engine.limits import (
    CONTEXT_REACH_CHARS,
    KEY_BLOCK_REACH_CHARS,
    LINE_SLACK_CHARS,
    MAX_NEIGHBOUR_CHARS,
    MAX_NEIGHBOURS,
    MAX_PARSE_CHARS,
    MAX_SELECTION_CHARS,
    WHOLE_DOCUMENT_CHARS,
)
from assistant_router.engine.results import Refused
from assistant_router.engine.text import LineIndex, Span
from assistant_router.routing.matching import RouteRequest
from assistant_router.routing.tasks import Delivery, Task, TaskSpec

if TYPE_CHECKING:
    from assistant_router.engine.privacy import ExclusionRules
    from assistant_router.routing.policy import Policy
    from assistant_router.routing.router import Decision, Router

logger = logging.getLogger(__name__)

# The project's instructions file is sent with every task: a larger one is
# left out (and said so in the log) rather than filling every prompt.
MAX_INSTRUCTIONS_BYTES = 64 * 1024


class Policies(Protocol):
    """The active routing policy and exclusions per workspace root."""

    def router(self, root: Path | None) -> Router: ...

    def exclusions(self, root: Path | None) -> ExclusionRules: ...


@dataclass(frozen=True)
class Document:
    """What a front end knows of a document."""

    uri: str
    text: str
    language: str  # LSP language id, "" when unknown
    root: Path | None  # the workspace root that holds it
    relative: str | None  # POSIX path below ``root``; None outside every root
    path: Path | None = None  # on disk, when it is a file
    version: int | None = None  # the editor's version of an open document
    open: bool = False  # open in the editor (its text came from there, not from a file)

    @property
    def name(self) -> str:
        """How the user and the model see it: relative to the root when inside it."""
        return self.relative or (str(self.path) if self.path else self.uri)

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.name.replace("\\", "/")).name

    @property
    def stem(self) -> str:
        """The file name without its suffix, for the names of answer documents."""
        return PurePosixPath(self.file_name).stem


@dataclass(frozen=True)
class TaskRequest:
    """Everything one run needs, computed once; immutable."""

    spec: TaskSpec
    document: Document
    span: Span  # the selection, clamped to the document, in code points
    policy: Policy
    decision: Decision
    source: TaskSource  # what assembly turns into a prompt for each model

    @property
    def task(self) -> Task:
        return self.spec.task

    @property
    def project(self) -> str:
        """How the ledger names the project."""
        return str(self.document.root) if self.document.root is not None else ""


def describe_diagnostic(line: int, message: str) -> str:
    """A problem the editor reported (0-based line), as the prompt lists it."""
    return f"line {line + 1}: {message}"


def decide(task: Task, document: Document, span: Span, policies: Policies) -> Decision:
    """The routing decision for a task on ``span`` (no file access: code actions call this)."""
    router = policies.router(document.root)
    return router.decide(RouteRequest(task, document.relative, document.language or None, span.line_count))


def build_request(
    task: Task,
    document: Document,
    span: Span,
    policies: Policies,
    *,
    prompt: str | None = None,
    diagnostics: Sequence[str] = (),
    open_documents: Iterable[Document] = (),
    lines: LineIndex | None = None,
    changed_lines: frozenset[int] | None = None,
) -> TaskRequest:
    """The request for one run. Raises Refused when nothing may be sent.
    ``changed_lines``: a review of a change, the lines (1-based) it added.

    Costs time in proportion to the selection and the window around it, not
    to the document (``lines``: the document's index, if the front end keeps one)."""
    if document.root is None and not document.open:
        raise Refused(f"nothing was sent: {document.name} is outside the workspace folders and not open in the editor")
    lines = lines if lines is not None else LineIndex(document.text)
    span = Span(lines.clamp(span.start.line, span.start.character), lines.clamp(span.end.line, span.end.character))
    if document.text and span.start.line >= len(lines):
        raise Refused(f"nothing was sent: line {span.start.line + 1} is past the end of {document.file_name}")
    exclusions = policies.exclusions(document.root)
    if (reason := exclusions.reason(document.relative)) is not None:
        raise Refused(f"nothing was sent: {document.relative} is {reason}")
    start = lines.offset(span.start.line, span.start.character)
    end = lines.offset(span.end.line, span.end.character)
    if end - start > MAX_SELECTION_CHARS:
        raise Refused(f"nothing was sent: the selection is {end - start:,} characters, and at most "
                      f"{MAX_SELECTION_CHARS:,} are sent at once; select less")
    window, window_line, window_column = _window(lines, start, end)
    policy = policies.router(document.root).policy
    neighbours = tuple(
        Neighbour(other.name, other.language, other.text)
        for other in open_documents
        if other.uri != document.uri and other.root == document.root and len(other.text) <= MAX_NEIGHBOUR_CHARS
        and exclusions.reason(other.relative) is None
    )[:MAX_NEIGHBOURS]
    source = TaskSource(
        task=task,
        path=document.name,
        language=document.language,
        text=document.text,
        start=(span.start.line, span.start.character),
        end=(span.end.line, span.end.character),
        diagnostics=tuple(diagnostics),
        user_prompt=prompt,
        neighbours=neighbours,
        instructions=_instructions(policy, document.root),
        redact_secrets=policy.privacy.redact_secrets,
        window=window,
        window_line=window_line,
        window_column=window_column,
        completion=policy.completion if task.spec.delivery is Delivery.INLINE else None,
        start_offset=start - (lines.offset(window_line, window_column) if window is not None else 0),
        changed_lines=changed_lines,
    )
    decision = decide(task, document, span, policies)
    if task.spec.delivery is Delivery.INLINE:
        from assistant_router.engine.completion import completion_decision

        decision = completion_decision(decision, policy.completion)
    return TaskRequest(task.spec, document, span, policy, decision, source)


def _window(lines: LineIndex, start: int, end: int) -> tuple[str | None, int, int]:
    """What the engine reads of a long document around the selection [start,
    end): the window's text and where it starts (line, column); None for a
    document short enough to read whole. The window ends at line ends unless
    a line is too long to reach one nearby (a minified file)."""
    text = lines.text
    if len(text) <= WHOLE_DOCUMENT_CHARS:
        return None, 0, 0
    # A selection too long for a syntax tree around it gets line windows, for
    # which the reach that finds key blocks whole is enough.
    reach = CONTEXT_REACH_CHARS if end - start + 2 * CONTEXT_REACH_CHARS <= MAX_PARSE_CHARS else KEY_BLOCK_REACH_CHARS
    low, high = max(0, start - reach), min(len(text), end + reach)
    line_start = lines.start(lines.line_of(low))
    if low - line_start <= LINE_SLACK_CHARS:
        low = line_start
    next_line = lines.start(lines.line_of(high) + 1) if high < len(text) else high
    if next_line - high <= LINE_SLACK_CHARS:
        high = next_line
    first_line = lines.line_of(low)
    return text[low:high], first_line, low - lines.start(first_line)


def real_path_inside(path: Path, root: Path) -> Path | None:
    """``path`` with every symlink followed, if it is still inside ``root``; None
    when it leads elsewhere (or does not exist). Checked when a file is read,
    not when the policy loaded: a ``git pull`` can replace a file by a link."""
    try:
        real = path.resolve(strict=True)
        return real if real.is_relative_to(root.resolve()) else None
    except (OSError, RuntimeError):  # a loop of links, a name too long
        return None


def _instructions(policy: Policy, root: Path | None) -> str | None:
    """The project's instructions file, read for this run: it must still lie
    inside the project when it does at load (a project's always does; a user
    config may name a file elsewhere), and be of a reasonable size."""
    path = policy.instructions
    if path is None:
        return None
    if root is not None and (path.is_relative_to(root) or path.is_relative_to(root.resolve())):
        real = real_path_inside(path, root)
        if real is None:
            logger.warning("the instructions file %s now leads outside the project; it was not sent", path)
            return None
        path = real
    try:
        with path.open("rb") as file:
            data = file.read(MAX_INSTRUCTIONS_BYTES + 1)
    except OSError as exc:
        logger.warning("cannot read the instructions file %s: %s", path, exc)
        return None
    if len(data) > MAX_INSTRUCTIONS_BYTES:
        logger.warning("the instructions file %s is over %d kB; it was not sent", path, MAX_INSTRUCTIONS_BYTES // 1024)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        logger.warning("the instructions file %s is not UTF-8 text; it was not sent", path)
        return None
