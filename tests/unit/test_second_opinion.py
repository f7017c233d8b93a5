"""The second opinion (engine/asking.py) with a fake provider and a fake usage
service: taken, refused, timed out, invalid, redacted, budgeted, recorded."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from assistant_router.engine.asking import Facts, Opinion, candidates, opinion_system, request_hash, second_opinion
from assistant_router.engine.usage.budgets import Spend
from assistant_router.providers.base import Completion, FatalProviderError, TextDelta, Usage
from assistant_router.routing.matching import RouteRequest
from assistant_router.routing.policy import Layer, build_policy, builtin_layer
from assistant_router.routing.router import Router
from assistant_router.routing.tasks import ACTION_TASKS, Task

SECRET = "ghp_R7x9Kq2LmN4pV8sT1wY6zB3cD5fG0hJ2kL9m"
FACTS = Facts(has_selection=True, has_diagnostics=False, language="python", path="tests/test_app.py")


def policy(extra: str = "", second_opinion: str | None = "judge"):
    text = '[models.judge]\nprovider = "mock"\nmodel = "judge-1"\nprices = { input = 1.0, output = 2.0 }\n'
    if second_opinion:
        text += f'\n[classifier]\nsecond_opinion = "{second_opinion}"\nsecond_opinion_timeout_s = 0.05\n'
    built, issues = build_policy([builtin_layer(), Layer("user", Path("user.toml"), text + extra, "user")])
    assert built is not None, issues
    return built


class FakeProvider:
    def __init__(self, reply: str | None = None, hang: bool = False, fail: bool = False) -> None:
        self.reply, self.hang, self.fail = reply, hang, fail
        self.requests: list = []

    async def prepare(self) -> None:
        pass

    async def stream(self, request):
        self.requests.append(request)
        if self.fail:
            raise FatalProviderError("bad key")
        if self.hang:
            await asyncio.Event().wait()
        yield TextDelta(self.reply or "")
        yield Completion(Usage(120, 9))


class FakeUsage:
    def __init__(self, spend: Spend | None = None) -> None:
        self.calls: list[tuple] = []
        self.spend = spend or Spend()

    async def refresh(self, project, policy=None, max_age_s=0.0) -> Spend:
        return self.spend

    async def record_call(self, project, task, config, usage, *, total_ms, error_type=None, policy=None) -> float:
        self.calls.append((project, task, config.alias, usage, error_type))
        return 0.0


class FakeEngine:
    def __init__(self, provider: FakeProvider, usage: FakeUsage | None = None) -> None:
        self.provider = provider
        self.usage = usage or FakeUsage()
        self.providers = self

    def get(self, config):
        return self.provider


def ask(engine: FakeEngine, text: str = "hmm, look at this", **policy_options):
    return asyncio.run(second_opinion(text, FACTS, policy(**policy_options), engine, "/repo"))  # type: ignore[arg-type]


def test_a_confident_valid_answer_is_taken_and_recorded_as_classify():
    engine = FakeEngine(FakeProvider('{"task": "review", "confidence": 0.8}'))

    opinion = ask(engine)

    assert opinion == Opinion(Task.REVIEW, 0.8, "judge") and opinion.reason == "second opinion from judge"
    ((project, task, alias, usage, error),) = engine.usage.calls
    assert (project, task, alias, usage, error) == ("/repo", "classify", "judge", Usage(120, 9), None)
    (request,) = engine.provider.requests
    assert request.system == opinion_system() and request.task == "classify"
    assert "language: python; file: tests/test_app.py" in request.prompt


def test_the_prompt_lists_the_seven_tasks_one_line_each():
    lines = [line for line in opinion_system().splitlines() if line.startswith("- ")]
    assert [line.split(":")[0] for line in lines] == [f"- {t.value}" for t in ACTION_TASKS]
    assert '{"task": "<one of the seven>", "confidence": <0 to 1>}' in opinion_system()


def test_the_request_is_redacted_before_it_is_sent():
    engine = FakeEngine(FakeProvider('{"task": "debug", "confidence": 0.9}'))
    ask(engine, f"why does login fail with token {SECRET} here")
    (request,) = engine.provider.requests
    assert SECRET not in request.prompt and "REDACTED_SECRET_1" in request.prompt


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (FakeProvider("it is a review"), "was not the strict JSON asked for"),
        (FakeProvider('{"task": "review", "confidence": 0.8, "why": "x"}'), "was not the strict JSON asked for"),
        (FakeProvider('{"task": "deploy", "confidence": 0.8}'), "was not the strict JSON asked for"),
        (FakeProvider('{"task": "review", "confidence": 0.3}'), "was unsure too (review, 0.30)"),
        (FakeProvider(hang=True), "gave no answer within 0.05 s"),
        (FakeProvider(fail=True), "failed (FatalProviderError)"),
    ],
    ids=["prose", "extra-key", "unknown-task", "low-confidence", "timeout", "error"],
)
def test_an_unusable_answer_means_asking_the_user(provider, message):
    engine = FakeEngine(provider)
    outcome = ask(engine)
    assert isinstance(outcome, str) and message in outcome
    assert [call[2] for call in engine.usage.calls] == ["judge"]  # what it cost is recorded all the same


def test_nothing_is_sent_without_a_second_opinion_configured():
    engine = FakeEngine(FakeProvider('{"task": "review", "confidence": 0.8}'))
    assert ask(engine, second_opinion=None) == "no second opinion configured"
    assert engine.provider.requests == [] and engine.usage.calls == []


def test_a_budget_that_refuses_means_asking_the_user():
    engine = FakeEngine(FakeProvider('{"task": "review", "confidence": 0.8}'), FakeUsage(Spend(day=5.0)))
    outcome = ask(engine, extra="\n[budget]\ndaily_usd = 5\n")
    assert isinstance(outcome, str) and outcome.startswith("the budget refused the second opinion")
    assert engine.provider.requests == [] and engine.usage.calls == []


def test_a_per_task_budget_does_not_apply_to_the_second_opinion():
    engine = FakeEngine(FakeProvider('{"task": "review", "confidence": 0.8}'),
                        FakeUsage(Spend(day=1.0, task_day={"scaffold": 1.0})))
    assert isinstance(ask(engine, extra="\n[budget]\ndaily_usd = 5\n[budget.tasks.scaffold]\ndaily_usd = 1\n"),
                      Opinion)


def test_candidates_carry_the_routing_decision_and_the_request_only_as_a_hash():
    router = Router(policy())
    offered = candidates((Task.DEBUG, Task.TEST), lambda task: router.decide(RouteRequest(task)))
    assert [c.title for c in offered] == ["Debug · opus (claude-opus-4-6)", "Test · codex (gpt-5.3-codex)"]
    assert offered[1].to_json() == {"task": "test", "title": "Test · codex (gpt-5.3-codex)", "alias": "codex",
                                    "provider": "openai", "model": "gpt-5.3-codex"}
    assert request_hash("why") == hashlib.sha256(b"why").hexdigest()
