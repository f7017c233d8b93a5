"""An alias pointed at the mock provider is named "mock" wherever a model is
named (code actions, progress, the run's result, the status, the usage
report), never the real model it stands in for; what is sent and recorded
keeps the configured model, at $0."""

from __future__ import annotations

import json

from lsprotocol import types

from assistant_router.engine.usage.ledger import open_ledger
from assistant_router.engine.usage.report import render_html, render_text, summarize

# opus answers from the mock but keeps the real model's ID; codex stays on openai.
MOCK_OPUS = '[models.opus]\nprovider = "mock"\nmodel = "claude-opus-4-6"\n'


async def test_a_mock_alias_is_named_mock_never_the_model_it_stands_in_for(start_session, user_config, tmp_path):
    user_config.write_text(MOCK_OPUS)
    session = await start_session("vscode", env={"OPENAI_API_KEY": ""})
    statuses: list = []
    session.client.feature("assistant/status")(lambda params: statuses.append(params))
    uri = session.open("geometry.py")

    titles = [a.title for a in await session.code_actions(uri, 3, 6)]
    assert "Explain selection · opus (mock)" in titles
    assert "Scaffold code for selection · codex (gpt-5.3-codex)" in titles  # a real provider keeps its model's name
    assert not [t for t in titles if "claude" in t]

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert result["status"] == "shown" and (result["alias"], result["provider"], result["model"]) == (
        "opus", "mock", "mock")
    assert result["cost_usd"] == 0
    assert "claude" not in json.dumps(result)
    ((_, reports),) = session.client.progress_reports.items()
    begin = reports[0]
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.title == "Explain · opus (mock)"
    assert not [r for r in reports if "claude" in (getattr(r, "title", None) or "") + (r.message or "")]
    await session.wait_for(lambda: statuses)
    assert (statuses[-1].provider, statuses[-1].model) == ("mock", "mock")

    # The ledger keeps what was configured (and sent); the report names the mock.
    (row,) = open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}").rows()
    assert (row.alias, row.provider, row.model, row.cost_usd) == ("opus", "mock", "claude-opus-4-6", 0.0)
    summary = summarize([row], since=0)
    assert list(summary["by_model"]) == ["opus (mock)"]
    assert "claude" not in render_text(summary) and "claude" not in render_html(summary)

