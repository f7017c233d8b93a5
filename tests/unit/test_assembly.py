"""What is sent: context by priority within the budget, the window, redaction, instructions."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_router.engine.assembly import RequestTooLarge, TaskSource, assemble
from assistant_router.engine.assembly import preview_data as preview
from assistant_router.engine.tokens import SAFETY, estimate_tokens
from assistant_router.engine.usage.prices import estimated_cost
from assistant_router.routing.policy import ModelConfig
from assistant_router.routing.tasks import Task

SAMPLE = (Path(__file__).parents[1] / "data" / "context" / "inventory.py").read_text()


def source(**changes) -> TaskSource:
    values = dict(task=Task.EXPLAIN, path="inventory.py", language="python", text=SAMPLE, start=(33, 0), end=(34, 0))
    values.update(changes)
    return TaskSource(**values)


def config(**changes) -> ModelConfig:
    return ModelConfig(alias="opus", provider="mock", model="m", **changes)


def test_everything_fits_a_generous_budget():
    assembled = assemble(source(), config())
    assert [p.kind for p in assembled.included] == ["enclosing", "imports", "definition"]
    assert not assembled.dropped
    assert "### definition of `with_tax` (lines 24-25)" in assembled.prompt
    assert assembled.input_tokens == estimate_tokens(assembled.system) + estimate_tokens(assembled.prompt)


def test_a_small_budget_keeps_the_most_important_pieces():
    enclosing_cost = estimate_tokens(assemble(source(), config()).included[0].text)
    assembled = assemble(source(), config(context_budget=enclosing_cost + 5))
    assert [p.kind for p in assembled.included] == ["enclosing"]
    assert [p.kind for p in assembled.dropped] == ["imports", "definition"]
    assert sum(estimate_tokens(p.text) for p in assembled.included) <= enclosing_cost + 5


def test_a_piece_that_does_not_fit_is_cut_when_there_is_room():
    body = "\n".join(f"    value_{i} = compute({i}, factor={i * 3})" for i in range(400))
    text = f"def big():\n{body}\n    return value_1\n"
    assembled = assemble(source(text=text, start=(200, 0), end=(201, 0)), config(context_budget=600))
    (enclosing,) = assembled.included
    assert "lines cut to fit the context budget" in enclosing.text
    assert estimate_tokens(enclosing.text) <= 600


def test_the_window_is_never_exceeded():
    huge = "x = 1\n" * 40_000
    with pytest.raises(RequestTooLarge, match="does not fit the 50000-token window of opus"):
        assemble(source(text=huge, start=(0, 0), end=(40_000, 0)), config(context_window=50_000))
    # A window that fits the selection but not the context: the context shrinks.
    assembled = assemble(source(), config(context_window=8192 + 1200, max_output_tokens=8192))
    assert assembled.input_tokens * SAFETY + 8192 <= 8192 + 1200 or not assembled.included


def test_secrets_are_replaced_everywhere_and_counted():
    text = SAMPLE.replace('TAX_RATE = 0.2', 'TAX_RATE = 0.2\nAPI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"')
    assembled = assemble(
        source(text=text, start=(9, 0), end=(11, 0), user_prompt="my token is ghp_" + "a" * 36), config()
    )
    assert "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789" not in assembled.prompt
    assert "ghp_" not in assembled.prompt
    assert assembled.redactions.summary() == {"OpenAI key": 1, "GitHub token": 1}
    restored = assembled.redactions.restore('API_KEY = "REDACTED_SECRET_1"')
    assert restored == 'API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"'


def test_redaction_can_be_switched_off_by_the_user():
    text = 'KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"\n'
    assembled = assemble(source(text=text, start=(0, 0), end=(1, 0), redact_secrets=False), config())
    assert "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789" in assembled.prompt


def test_project_instructions_and_diagnostics_are_included():
    assembled = assemble(
        source(instructions="Use British spelling.\n", diagnostics=("line 34: undefined name",)), config()
    )
    assert "Project instructions:\nUse British spelling." in assembled.prompt
    assert "Problems reported by the editor:\n- line 34: undefined name" in assembled.prompt


def test_preview_shows_cost_and_unknown_prices_stay_unknown():
    from assistant_router.routing.policy import Prices

    priced = config(prices=Prices(input=5.0, output=25.0))
    assembled = assemble(source(), priced)
    data = preview({"task": "explain", "alias": "opus"}, priced, assembled)
    assert data["sent"] is False and data["prompt"] == assembled.prompt
    assert data["estimated_cost"]["input"] == pytest.approx(assembled.input_tokens * 5 / 1e6)
    assert estimated_cost(config(), 1000, 100) == {"currency": "USD", "input": None, "output_up_to": None,
                                                   "note": "unknown price"}
