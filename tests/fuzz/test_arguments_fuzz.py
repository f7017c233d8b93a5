"""Property-based fuzzing of the command arguments and initialization options
(``server/arguments.py``): any JSON value, and valid ones with one entry
dropped, retyped or added, is a model or an ArgumentError naming a key;
``parse_client_options`` never raises and always returns usable options."""

from __future__ import annotations

from typing import Any

from fuzz.strategies import TASK_NAMES, json_values, near_valid
from hypothesis import example, given
from hypothesis import strategies as st

from assistant_router.routing.tasks import ACTION_TASKS, Task
from assistant_router.server.arguments import (
    ArgumentError,
    AskArgs,
    ClientOptions,
    RouteArgs,
    TaskArgs,
    UsageArgs,
    parse_client_options,
    parse_task_args,
)

position = st.fixed_dictionaries({"line": st.integers(0, 10**6), "character": st.integers(0, 10**6)})
valid_range = st.fixed_dictionaries({"start": position, "end": position})
ACTION_NAMES = [task.value for task in ACTION_TASKS]  # assistant.run runs these; complete is inlineCompletion
diagnostics = st.lists(st.fixed_dictionaries({"message": st.text(max_size=20), "line": st.integers(0, 100)},
                                             optional={"source": st.text(max_size=10)}), max_size=2)
located = {"uri": st.text(max_size=30), "range": valid_range}
VALID = {
    TaskArgs: st.fixed_dictionaries({"task": st.sampled_from(ACTION_NAMES), **located},
                                    optional={"prompt": st.text(max_size=20), "diagnostics": diagnostics}),
    RouteArgs: st.fixed_dictionaries(located, optional={"task": st.sampled_from(TASK_NAMES),
                                                        "prompt": st.text(max_size=20)}),
    AskArgs: st.fixed_dictionaries({**located, "prompt": st.text(min_size=1, max_size=20)},
                                   optional={"diagnostics": diagnostics}),
    UsageArgs: st.fixed_dictionaries({}, optional={"days": st.integers(1, 3660), "all_projects": st.booleans()}),
}
PREFIX = "invalid command argument: "


def tagged(strategies: dict[type, st.SearchStrategy[Any]]) -> st.SearchStrategy[tuple[type, Any]]:
    """(model, raw) pairs, for every model."""
    return st.one_of([strategy.map(lambda raw, m=model: (m, raw)) for model, strategy in strategies.items()])


@given(case=tagged({model: json_values | near_valid(valid) for model, valid in VALID.items()}))
@example(case=(UsageArgs, {"days": 3, ".[": None})).via("found: an unknown key '.[' was named '['")
def test_an_argument_is_a_model_or_an_error_naming_a_key(case):
    model, raw = case
    try:
        parsed = parse_task_args(raw, model)
    except ArgumentError as exc:
        message = str(exc)
        assert message.startswith(PREFIX)
        keys = [*model.model_fields, *(k for k in raw if isinstance(k, str))] if isinstance(raw, dict) else []
        assert any(message[len(PREFIX):].startswith((key, "argument:")) for key in keys or ["argument"]), message
    else:
        assert isinstance(parsed, model)


@given(valid=tagged(VALID))
def test_a_valid_argument_is_its_model(valid):
    model, raw = valid
    if model is RouteArgs and "task" not in raw and not raw.get("prompt"):
        return  # neither a task nor a prompt: the one rule the shape cannot say
    assert isinstance(parse_task_args(raw, model), model)


options = st.fixed_dictionaries({}, optional={
    "tasks": st.lists(st.sampled_from(TASK_NAMES) | json_values, max_size=4),
    "status_notifications": st.booleans() | json_values,
})


@given(raw=json_values | near_valid(options) | options)
def test_client_options_never_fail_and_are_always_usable(raw):
    parsed, problem = parse_client_options(raw)
    assert isinstance(parsed, ClientOptions)
    assert parsed.tasks and all(isinstance(task, Task) for task in parsed.tasks)
    assert isinstance(parsed.status_notifications, bool)
    assert problem is None or problem.startswith("assistant-router: ignored")
    if isinstance(raw, dict) and problem is None:  # all of it applies; no tasks at all is every task
        assert parsed == ClientOptions.model_validate({k: v for k, v in raw.items() if (k, v) != ("tasks", [])})
