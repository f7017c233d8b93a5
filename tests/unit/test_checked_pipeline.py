"""The pipeline's check step (engine/pipeline.py ``_checked``): escalation
along the chain, its bounds and the policy's choices, with scripted models
and an in-memory target. The same behaviour through the real server and
SDKs: tests/e2e/test_checked_answers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant_router import delivery
from assistant_router.delivery.target import CurrentText, FileEdit
from assistant_router.engine.pipeline import Engine, run_task
from assistant_router.engine.policies import StaticPolicies
from assistant_router.engine.request import Document, build_request
from assistant_router.engine.results import Status
from assistant_router.engine.text import Span
from assistant_router.providers.base import Completion, ModelRequest, Provider, StreamEvent, TextDelta, Usage
from assistant_router.routing.policy import build_policy, builtin_layer, file_layer
from assistant_router.routing.tasks import Task

TEXT = "import math\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n"
SPAN = Span.of(3, 0, 5, 0)
BROKEN = "```python\ndef area(radius:\n    return 1\n```"
UNSAFE = "```python\ndef area(radius):\n    return eval(input())\n```"
GOOD = "```python\ndef area(radius):\n    return math.pi * radius * radius\n```"


class Scripted(Provider):
    """Answers with the next text of its alias's script; records the prompts."""

    def __init__(self, config: Any, script: list[str], prompts: list[tuple[str, str]]) -> None:
        super().__init__(config)
        self._script, self._prompts = script, prompts

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self._prompts.append((self.config.alias, request.prompt))
        yield TextDelta(self._script.pop(0))
        yield Completion(Usage(100, 20))


class Providers:
    def __init__(self, scripts: dict[str, list[str]]) -> None:
        self.prompts: list[tuple[str, str]] = []
        self._scripts = scripts

    def get(self, config: Any) -> Provider:
        return Scripted(config, self._scripts[config.alias], self.prompts)


class Usage_:
    async def refresh(self, project: str, policy: Any, max_age_s: float = 0.0) -> Any:
        from assistant_router.engine.usage.budgets import Spend

        return Spend()

    async def record(self, project: str, result: Any, policy: Any = None) -> float:
        return 0.0


class Target:
    cannot_apply_edits = None
    can_create_files = False
    accepts_unchecked = False

    def __init__(self) -> None:
        self.applied: list[FileEdit] = []
        self.held: list[tuple[Sequence[FileEdit], Sequence[Any]]] = []

    def read(self, uri: str) -> CurrentText | None:
        return None

    async def apply(self, answer: Any, edits: Sequence[FileEdit]) -> None:
        self.applied.extend(edits)

    async def reveal(self, uri: str) -> None:
        return None

    async def show_document(self, name: str, markdown: str, fallback: str) -> str | None:
        return None

    def show_findings(self, answer: Any, findings: Any) -> dict[str, Any]:
        return {}

    def hold(self, answer: Any, edits: Sequence[FileEdit], findings: Sequence[Any]) -> dict[str, Any]:
        self.held.append((edits, findings))
        return {"how_to_apply": "on request"}


async def run(tmp_path: Path, scripts: dict[str, list[str]], policy: str = "", task: Task = Task.FIX):
    config = tmp_path / "user.toml"
    config.write_text('[models.codex]\nprovider = "mock"\nmodel = "m1"\n[models.opus]\nprovider = "mock"\n'
                      'model = "m2"\n[models.mini]\nprovider = "mock"\nmodel = "m3"\n' + policy)
    built, issues = build_policy([builtin_layer(), file_layer(config, "user")])
    assert built is not None, issues
    document = Document("file:///p/geometry.py", TEXT, "python", tmp_path, "geometry.py")
    request = build_request(task, document, SPAN, StaticPolicies(tmp_path, built))
    providers = Providers(scripts)
    target = Target()
    reports: list[str] = []

    class Progress:
        async def begin(self, spec: Any, decision: Any) -> None:
            return None

        def report(self, message: str, *, force: bool = False) -> None:
            reports.append(message)

        def delta(self, text: str) -> None:
            return None

    result = await run_task(request, Engine(providers=providers, usage=Usage_()),  # type: ignore[arg-type]
                            deliver=lambda a: delivery.deliver(a, target), progress=Progress(),
                            check=lambda a: delivery.check(a, target))
    return result, providers, target, reports


async def test_a_failing_answer_goes_to_the_next_model_with_its_problems(tmp_path):
    result, providers, target, reports = await run(tmp_path, {"codex": [BROKEN], "opus": [GOOD]})

    assert result.status is Status.APPLIED and result.escalated and result.answered_by.alias == "opus"
    assert [alias for alias, _ in providers.prompts] == ["codex", "opus"]
    assert "failed these checks" in providers.prompts[1][1] and "def area(radius:" in providers.prompts[1][1]
    assert any("escalating to opus" in r for r in reports)
    assert result.usage.input_tokens == 200  # both answers were paid for
    assert [a.check_outcome for a in result.attempts] == ["failed", "passed"]
    assert "radius * radius" in target.applied[0].new_text


@pytest.mark.parametrize("policy", ['[checks]\non_check_failure = "ask"\n',
                                    '[checks.fix]\non_check_failure = "ask"\n',
                                    '[checks]\nmax_escalations = 0\n'])
async def test_the_policy_can_say_ask_instead_of_escalating(tmp_path, policy):
    result, providers, target, _ = await run(tmp_path, {"codex": [UNSAFE], "opus": [GOOD]}, policy)

    assert result.status is Status.HELD and not result.escalated
    assert [alias for alias, _ in providers.prompts] == ["codex"] and target.applied == []
    assert [f.code for f in target.held[0][1]] == ["python.eval-non-literal"]


async def test_escalation_stops_at_the_end_of_the_chain(tmp_path):
    policy = '[routes]\nfix = ["codex"]\n'
    result, providers, target, _ = await run(tmp_path, {"codex": [BROKEN]}, policy)

    assert result.status is Status.HELD and len(providers.prompts) == 1


async def test_more_escalations_when_the_policy_allows_them(tmp_path):
    policy = '[routes]\nfix = ["mini", "codex", "opus"]\n[checks]\nmax_escalations = 2\n'
    result, providers, _, _ = await run(tmp_path, {"mini": [BROKEN], "codex": [UNSAFE], "opus": [GOOD]}, policy)

    assert result.status is Status.APPLIED and result.answered_by.alias == "opus"
    assert [alias for alias, _ in providers.prompts] == ["mini", "codex", "opus"]


async def test_the_best_answer_is_held_when_none_passes(tmp_path):
    result, _, target, _ = await run(tmp_path, {"codex": [BROKEN], "opus": [UNSAFE]})

    assert result.status is Status.HELD and result.answered_by.alias == "opus"  # one problem against several
    assert [f.code for f in target.held[0][1]] == ["python.eval-non-literal"]


async def test_a_budget_that_refuses_the_escalation_holds_the_first_answer(tmp_path):
    policy = '[budget]\ndaily_usd = 0.000001\non_exceed = "refuse"\n'
    result, providers, target, reports = await run(tmp_path, {"codex": [BROKEN], "opus": [GOOD]},
                                                   policy + '[models.opus.prices]\ninput = 1000\noutput = 1000\n')

    assert result.status is Status.HELD and [alias for alias, _ in providers.prompts] == ["codex"]
    assert any(r.startswith("escalation failed") for r in reports)


async def test_answers_that_are_not_edits_are_not_checked(tmp_path):
    result, providers, target, _ = await run(tmp_path, {"opus": ["This computes an area."]}, task=Task.EXPLAIN)

    assert result.checks is None and not result.escalated and len(providers.prompts) == 1
