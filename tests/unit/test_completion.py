"""Inline completion's pure parts: what is sent (prefix and suffix within
budget, cut at lines, redacted), what of an answer is shown, the cache's
reuse rule, the completion's timeouts and deadline, and the policy's
[completion] layering (a project may only lower what widens what is sent)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from assistant_router.engine.assembly import TaskSource, assemble
from assistant_router.engine.calling import Assemblies, AttemptLog, Timing, call_models
from assistant_router.engine.completion import completion_decision, shown_text
from assistant_router.engine.resilience import CircuitBreaker
from assistant_router.engine.results import Failed
from assistant_router.providers.base import Completion, ModelRequest, Provider, RetryableProviderError, TextDelta, Usage
from assistant_router.routing.policy import CompletionSettings, ModelConfig, Timeouts
from assistant_router.routing.router import Decision
from assistant_router.routing.tasks import Task
from assistant_router.server.features.inline_completion import Shown


@pytest.mark.parametrize(
    ("answer", "before", "after", "suffix", "shown"),
    [
        ("return a + b", "    ", "", "\n", "return a + b"),
        ("```python\nreturn a + b\n```", "    ", "", "\n", "return a + b"),  # a fence
        ("    return a + b", "    ", "", "\n", "return a + b"),  # the indentation repeated
        ("    total = a + b", "    total = ", "", "\n", "a + b"),  # the line repeated
        ("a + b)\n", "print(", ")", ")\n", "a + b"),  # the suffix repeated, inside a line
        ("x, y)\nmore()", "f(", ")", ")\n", "x, y"),  # inside a line: one line only
        ("\n    return 1\n\ndef g():\n    pass", "def f():", "", "\n", "\n    return 1"),  # a blank line ends it
        ("\n  return 1;\n}\nfunction g() {}", "function f() {", "", "\n", "\n  return 1;\n}"),  # the closing brace
        ("a = 1\nb = 2\nc = 3", "", "", "", "a = 1\nb = 2"),  # max_lines
        ("call(REDACTED_SECRET_1)", "    ", "", "\n", ""),  # would put a secret back: nothing
        ("return x<CURSOR>", "    ", "", "\n", "return x"),
        ("", "    ", "", "\n", ""),
    ],
    ids=["plain", "fence", "indent", "line", "suffix", "mid-line", "blank-line", "brace", "max-lines", "secret",
         "marker", "empty"],
)
def test_what_of_an_answer_is_shown(answer, before, after, suffix, shown):
    assert shown_text(answer, before, after, suffix, max_lines=2) == shown


def _source(text: str, cursor: tuple[int, int], **settings) -> TaskSource:
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[:cursor[0]]) + cursor[1]
    return TaskSource(Task.COMPLETE, "m.py", "python", text, cursor, cursor,
                      completion=CompletionSettings(**settings), start_offset=offset)


def test_the_prefix_and_suffix_are_cut_at_lines_within_their_budgets():
    body = "".join(f"value_{n} = compute({n})\n" for n in range(2000))
    text = body + "result = \n" + body
    source = _source(text, (2000, 9), prefix_tokens=200, suffix_tokens=100)
    assembled = assemble(source, ModelConfig(alias="c", provider="mock", model="m", api="completions"))

    prefix, suffix = assembled.prompt, assembled.suffix
    assert prefix.endswith("result = ") and prefix.startswith("value_")  # from a line start
    assert suffix.startswith("\nvalue_0 = ") and suffix.endswith("\n")  # to a line end
    assert len(prefix) < 1200 and len(suffix) < 600
    assert assembled.sent_max_output_tokens == 256 and assembled.stop == ("\n\n",)


def test_the_chat_prompt_marks_the_cursor_and_redacts_secrets():
    key = "sk-proj-Zq8vN3xT5rW1yK7mB2cF9hJ4dL6pS0aE"
    source = _source(f'KEY = "{key}"\ndef f():\n    \n', (2, 4))
    assembled = assemble(source, ModelConfig(alias="c", provider="mock", model="m"))
    assert "def f():\n    <CURSOR>\n" in assembled.prompt
    assert key not in assembled.prompt and "REDACTED_SECRET_1" in assembled.prompt
    assert assembled.suffix is None


def _shown(text: str = "return width * height") -> Shown:
    document = "def area(w, h):\n    \nprint(1)\n"
    return Shown("file:///a.py", 20, document[:20], document[20:], text,
                 ModelConfig(alias="c", provider="mock", model="m"), "")


@pytest.mark.parametrize(
    ("document", "offset", "rest"),
    [
        ("def area(w, h):\n    retu\nprint(1)\n", 24, "rn width * height"),
        ("def area(w, h):\n    \nprint(1)\n", 20, "return width * height"),  # the same place again
        ("def area(w, h):\n    x\nprint(1)\n", 21, None),  # typed something else
        ("def area(w, h):\n    return width * height\nprint(1)\n", 41, None),  # typed all of it
        ("def volume(w, h):\n    retu\nprint(1)\n", 26, None),  # the code before changed
        ("def area(w, h):\n    retu\nprint(2)\n", 24, None),  # the code after changed
    ],
    ids=["typed-along", "same-place", "diverged", "all-typed", "before-changed", "after-changed"],
)
def test_the_cache_reuses_a_shown_completion_only_along_it(document, offset, rest):
    assert _shown().reuse(document, offset) == rest


def test_a_completion_waits_no_longer_than_its_settings():
    slow = ModelConfig(alias="slow", provider="mock", model="m", retries=3,
                       timeouts=Timeouts(first_token=180, total=1200))
    decision = completion_decision(Decision(Task.COMPLETE, (slow,), "route"),
                                   CompletionSettings(first_token_timeout_s=0.8, deadline_s=2.0))
    (config,) = decision.chain
    assert (config.timeouts.first_token, config.timeouts.total, config.timeouts.idle, config.retries) == (
        0.8, 2.0, 2.0, 0)


class _Failing(Provider):
    def __init__(self, config: ModelConfig, calls: list[str], fail: bool) -> None:
        super().__init__(config)
        self.calls, self.fail = calls, fail

    async def stream(self, request: ModelRequest):
        self.calls.append(self.config.alias)
        if self.fail:
            raise RetryableProviderError("overloaded", status=529)
        yield TextDelta("x = 1")
        yield Completion(Usage(1, 1))


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("spent", "fallback_tried"), [(0.2, True), (1.8, False)], ids=["in-time", "too-late"])
def test_a_fallback_starts_only_while_it_can_arrive_in_time(spent, fallback_tried):
    clock = _Clock()
    calls: list[str] = []
    timeouts = Timeouts(first_token=1.0, total=2.5)
    primary = ModelConfig(alias="primary", provider="mock", model="m", retries=0, timeouts=timeouts)
    fallback = replace(primary, alias="fallback")

    class Source:
        def get(self, config: ModelConfig) -> Provider:
            clock.now += spent if config is primary else 0  # the primary's failure took this long
            return _Failing(config, calls, fail=config is primary)

    source = _source("def f():\n    \n", (1, 4))
    decision = Decision(Task.COMPLETE, (primary, fallback), "route")
    log = AttemptLog()

    async def run():
        return await call_models(decision, Assemblies(source), log, Source(), CircuitBreaker(),
                                 lambda *_a, **_k: None, timing=Timing(clock=clock), deadline=2.5)

    if fallback_tried:
        assert asyncio.run(run()).config is fallback
    else:
        with pytest.raises(Failed):
            asyncio.run(run())
        assert log.attempts[-1].error_type == "TooLate"
    assert calls == (["primary", "fallback"] if fallback_tried else ["primary"])


def _policy(user: str, project: str, tmp_path):
    from assistant_router.routing.config import load_policy

    (tmp_path / "user.toml").write_text(user)
    root = tmp_path / "project"
    root.mkdir()
    (root / ".assistant-router.toml").write_text(project)
    loaded = load_policy(root, user_config=tmp_path / "user.toml")
    return loaded.policy, loaded.issues


def test_a_project_may_lower_what_completions_send_but_not_raise_it(tmp_path):
    policy, issues = _policy("[completion]\nprefix_tokens = 800\n",
                             "[completion]\nprefix_tokens = 4000\nsuffix_tokens = 100\nneighbours = true\n"
                             "debounce_ms = 150\n", tmp_path)
    settings = policy.completion
    assert (settings.prefix_tokens, settings.suffix_tokens, settings.neighbours, settings.debounce_ms) == (
        800, 100, False, 150)
    ignored = sorted(issue.key for issue in issues if issue.severity == "warning")
    assert ignored == ["completion.neighbours", "completion.prefix_tokens"]
    assert all(issue.line for issue in issues if issue.key and issue.key.startswith("completion."))


def test_a_project_may_turn_completions_off(tmp_path):
    policy, issues = _policy("", "[completion]\nenabled = false\n", tmp_path)
    assert policy.completion.enabled is False and not [i for i in issues if i.severity != "info"]


def test_a_fill_in_the_middle_alias_routed_to_a_chat_task_is_warned_about(tmp_path):
    user = '[models.local]\nprovider = "openai"\nmodel = "coder"\napi = "completions"\n\n' \
           '[routes]\ncomplete = "local"\nreview = "local"\n'
    policy, issues = _policy(user, "", tmp_path)
    warnings = [issue for issue in issues if issue.severity == "warning"]
    assert [issue.key for issue in warnings] == ["routes.review"] and warnings[0].line == 8
    assert policy.routes[Task.COMPLETE].chain == ("local",)


def test_open_files_of_the_same_language_are_sent_only_when_asked_for():
    from assistant_router.engine.context import Neighbour

    helper = Neighbour("util.py", "python", 'def scale(value, factor):\n    return value * factor\n')
    other = Neighbour("style.css", "css", "body { margin: 0 }\n")
    config = ModelConfig(alias="c", provider="mock", model="m")
    base = _source("def f():\n    \n", (1, 4))
    without = assemble(replace(base, neighbours=(helper, other)), config)
    with_them = assemble(replace(base, neighbours=(helper, other),
                                 completion=CompletionSettings(neighbours=True)), config)
    assert "def scale" not in without.prompt
    assert "### util.py" in with_them.prompt and "def scale(value, factor)" in with_them.prompt
    assert "margin" not in with_them.prompt  # another language


@pytest.mark.parametrize(("trigger", "client", "wait"), [
    ("Automatic", "Visual Studio Code", 0.125), ("Invoked", "Visual Studio Code", 0.0), ("Automatic", "Neovim", 0.0)])
def test_only_a_client_that_does_not_wait_for_a_pause_gets_the_debounce(trigger, client, wait):
    from lsprotocol import types

    from assistant_router.server.app import ClientFeatures
    from assistant_router.server.features.inline_completion import debounce_s

    features = ClientFeatures.from_initialize(types.InitializeParams(
        capabilities=types.ClientCapabilities(), client_info=types.ClientInfo(name=client)))
    kind = getattr(types.InlineCompletionTriggerKind, trigger)
    assert debounce_s(kind, CompletionSettings().debounce_ms, features.debounces_inline_completion) == wait
