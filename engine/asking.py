"""When the classifier of free-form requests is unsure: the editor's facts it
is given, the tasks offered with the model each would go to, the ledger
record of the user's choice, and the optional second opinion of a model.

Both front ends use it: ``server/runner.py TaskRunner.ask`` (a
``window/showMessageRequest``, or a ``needs_choice`` result) and
``cli/main.py _ask`` (a numbered list in a terminal). docs/classifier.md,
"When the classifier is unsure", describes the behaviour.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_router.engine.results import model_label
from assistant_router.engine.usage.ledger import ChoiceRow
from assistant_router.routing.tasks import ACTION_TASKS, TASKS, Task

if TYPE_CHECKING:
    from assistant_router.engine.pipeline import Engine
    from assistant_router.routing.classify import Classification
    from assistant_router.routing.policy import Policy
    from assistant_router.routing.router import Decision

logger = logging.getLogger(__name__)

SECOND_OPINION_MIN_CONFIDENCE = 0.5  # below this the second opinion is not taken: the user is asked
SECOND_OPINION_TASK = "classify"  # how the ledger names the second opinion's calls
SECOND_OPINION_MAX_OUTPUT_TOKENS = 60
MAX_OPINION_CHARS = 2_000  # more than this is no strict JSON answer: stop reading


@dataclass(frozen=True)
class Facts:
    """What the editor knows about a request, beside its words."""

    has_selection: bool = True
    has_diagnostics: bool = False
    language: str = ""  # the LSP language id, "" when unknown
    path: str = ""  # the document's path (relative to the workspace root when inside one): for the second opinion

    def keywords(self) -> dict[str, Any]:
        """The classifier's keyword arguments (its corpus records no paths, so the model takes none)."""
        return {"has_selection": self.has_selection, "has_diagnostics": self.has_diagnostics,
                "language": self.language}


def classify(text: str, facts: Facts) -> Classification:
    from assistant_router.routing.classify import classify as classify_text

    return classify_text(text, **facts.keywords())


@dataclass(frozen=True)
class Candidate:
    """A task offered to the user, with the decision it would get."""

    task: Task
    decision: Decision

    @property
    def title(self) -> str:
        """As the code actions and the progress name it: ``Debug · opus (claude-opus-4-6)``."""
        return f"{self.task.spec.title} · {model_label(self.decision.primary)}"

    def to_json(self) -> dict[str, Any]:
        primary = self.decision.primary
        return {"task": self.task.value, "title": self.title, "alias": primary.alias, "provider": primary.provider,
                "model": primary.shown_model}  # as results name it ("mock" for the mock provider)


def candidates(likely: Iterable[Task], decide: Callable[[Task], Decision]) -> list[Candidate]:
    """The tasks to offer, most likely first, each with its routing decision."""
    return [Candidate(task, decide(task)) for task in likely]


def request_hash(text: str) -> str:
    """What the ledger keeps of a request: its SHA-256, never its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def choice_row(project: str, text: str, offered: Sequence[Candidate], chosen: Task | None,
               classification: Classification) -> ChoiceRow:
    return ChoiceRow(time.time(), project, request_hash(text), tuple(c.task.value for c in offered),
                     chosen.value if chosen is not None else None, classification.task.value,
                     float(classification.confidence))


# --------------------------------------------------------------- second opinion


@dataclass(frozen=True)
class Opinion:
    """A second opinion that was taken."""

    task: Task
    confidence: float
    alias: str

    @property
    def reason(self) -> str:
        return f"second opinion from {self.alias}"


def opinion_system() -> str:
    lines = "\n".join(f"- {spec.name}: {spec.verb} the selection; the user gets {spec.result}"
                      for spec in (TASKS[task] for task in ACTION_TASKS))
    return ("You classify a developer's request to a coding assistant as one of seven tasks:\n"
            f"{lines}\n"
            'Answer with strict JSON and nothing else: {"task": "<one of the seven>", "confidence": <0 to 1>}.')


def opinion_prompt(text: str, facts: Facts) -> str:
    return (f"Request: {text}\n"
            f"Code selected: {'yes' if facts.has_selection else 'no'}; problems reported in it: "
            f"{'yes' if facts.has_diagnostics else 'no'}; language: {facts.language or 'unknown'}; "
            f"file: {facts.path or 'unknown'}")


@functools.cache
def _answer_model() -> Any:
    """The strict shape of a second opinion (built once: pydantic compiles a
    validator per class; imported late: pydantic is not needed before)."""
    from pydantic import Field

    from assistant_router.routing.strict import StrictModel

    class Answer(StrictModel):
        task: Task
        confidence: float = Field(ge=0, le=1)

    return Answer


def parse_opinion(answer: str) -> tuple[Task, float] | None:
    """The task and confidence of a strict JSON answer (a fenced block is
    accepted), or None when it is not one."""
    from pydantic import ValidationError

    body = answer.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        parsed = _answer_model().model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return None
    if not parsed.task.spec.is_action:  # not one of the seven the prompt names
        return None
    return parsed.task, parsed.confidence


async def second_opinion(text: str, facts: Facts, policy: Policy, engine: Engine, project: str) -> Opinion | str:
    """Ask the policy's ``[classifier] second_opinion`` alias which task ``text``
    means. The opinion, or why none is taken (not configured, the budget, a
    timeout, an error, an answer that is no strict JSON, low confidence): then
    the user is asked. The call is recorded in the ledger as task "classify"."""
    from assistant_router.engine.privacy import Redactions
    from assistant_router.engine.tokens import estimate_tokens
    from assistant_router.engine.usage.budgets import BudgetExceeded, within_budget
    from assistant_router.engine.usage.prices import budget_estimate_usd
    from assistant_router.providers.base import Completion, ModelRequest, ProviderError, TextDelta, Usage
    from assistant_router.routing.router import Decision as RouterDecision

    settings = policy.classifier
    alias = settings.second_opinion
    if alias is None:
        return "no second opinion configured"
    config = policy.models.get(alias)
    if config is None:
        return f"no model alias {alias!r} for the second opinion"
    request_text = Redactions().redact(text) if policy.privacy.redact_secrets else text
    system, prompt = opinion_system(), opinion_prompt(request_text, facts)
    input_tokens = estimate_tokens(system) + estimate_tokens(prompt)
    if policy.budget.any:
        spend = await engine.usage.refresh(project, policy)
        decision = RouterDecision(Task.SCAFFOLD, (config,), "second opinion")  # the task is not used: per_task=False
        try:
            decided = within_budget(policy, decision, spend, budget_estimate_usd(config, input_tokens, policy),
                                    per_task=False)
        except BudgetExceeded as exc:
            return f"the budget refused the second opinion ({exc})"
        if decided is not decision:
            return f"no second opinion: {decided.reason}"
    request = ModelRequest(model=config.model, system=system, prompt=prompt,
                           max_output_tokens=SECOND_OPINION_MAX_OUTPUT_TOKENS, temperature=0,
                           task=SECOND_OPINION_TASK)
    received: list[str] = []
    completion: Completion | None = None
    error: str | None = None
    started = time.monotonic()
    try:
        async with asyncio.timeout(settings.second_opinion_timeout_s):
            provider = engine.providers.get(config)
            await provider.prepare()
            async for event in provider.stream(request):
                if isinstance(event, TextDelta):
                    received.append(event.text)
                    if sum(map(len, received)) > MAX_OPINION_CHARS:
                        break
                elif isinstance(event, Completion):
                    completion = event
    except TimeoutError:
        error = "Timeout"
    except ProviderError as exc:
        error = type(exc).__name__
        logger.warning("second opinion from %s failed: %s", alias, exc)
    except Exception as exc:  # an adapter's bug must not fail the request: the user is asked instead
        logger.exception("second opinion from %s crashed", alias)
        error = type(exc).__name__
    answer = "".join(received)
    usage = completion.usage if completion is not None else None
    if usage is not None and not usage.reported:
        usage = Usage(input_tokens, estimate_tokens(answer), estimated=True)
    await engine.usage.record_call(project, SECOND_OPINION_TASK, config, usage, error_type=error, policy=policy,
                                   total_ms=int((time.monotonic() - started) * 1000))
    if error == "Timeout":
        return f"the second opinion from {alias} gave no answer within {settings.second_opinion_timeout_s:g} s"
    if error is not None:
        return f"the second opinion from {alias} failed ({error})"
    parsed = parse_opinion(answer)
    if parsed is None:
        return f"the second opinion from {alias} was not the strict JSON asked for"
    task, confidence = parsed
    if confidence < SECOND_OPINION_MIN_CONFIDENCE:
        return f"the second opinion from {alias} was unsure too ({task.value}, {confidence:.2f})"
    return Opinion(task, confidence, alias)
