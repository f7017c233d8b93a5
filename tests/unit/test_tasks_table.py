"""The task table is the one definition of the tasks: every task has its row,
its prompt and its default route, and the delivery kinds all have a module."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from assistant_router import delivery
from assistant_router.routing.tasks import (
    ACTION_TASKS,
    ADVERTISED_KINDS,
    TASKS,
    Delivery,
    EditPlacement,
    Task,
    task_table,
)


@pytest.mark.parametrize("task", list(Task))
def test_every_task_has_a_row_a_prompt_and_a_default_route(task):
    spec = TASKS[task]
    prompts = tomllib.loads(resources.files("assistant_router.engine").joinpath("prompts.toml").read_text("utf-8"))
    defaults = tomllib.loads(resources.files("assistant_router.routing").joinpath("defaults.toml").read_text("utf-8"))

    assert spec.task is task and task.spec is spec
    assert prompts["tasks"][task.value]["instructions"] and prompts["tasks"][task.value]["output"]
    assert defaults["routes"][task.value]
    # Every task but inline completion is a code action, of a kind every client lists.
    assert spec.is_action == (spec.delivery is not Delivery.INLINE)
    assert not spec.is_action or any(spec.code_action_kind == kind or spec.code_action_kind.startswith(kind + ".")
                                     for kind in ADVERTISED_KINDS)
    assert (spec.placement is not None) == (spec.delivery is Delivery.EDIT)


def test_every_delivery_kind_has_a_module():
    assert set(delivery.kinds()) == set(Delivery)


def test_the_table_as_clients_receive_it():
    rows = task_table()
    names = [t.value for t in ACTION_TASKS]
    assert [row["name"] for row in rows] == names == [t.value for t in Task if t != "complete"]
    test = next(row for row in rows if row["name"] == "test")
    assert test["placement"] == EditPlacement.TEST_FILE.value and test["verb"] == "Write tests for"
