"""Cost and usage through the server: the ledger, budgets across windows, acceptance, the report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from assistant_router.engine.usage.ledger import open_ledger

# Output is what the mock's answers cost here: a review answer is about 90 tokens.
# In the user config: only there may a price go below the shipped one.
PRICED = """prices = { input = 0.0, output = 10000.0 }   # $0.01 per output token
max_output_tokens = 50                        # so the estimate (50 tokens) is below the real cost
"""


def priced(user_config: Path) -> None:
    text = user_config.read_text()
    assert "[models.opus]\n" in text
    user_config.write_text(text.replace("[models.opus]\n", "[models.opus]\n" + PRICED, 1))


def ledger_of(tmp_path: Path):
    return open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}")


async def test_every_attempt_is_recorded_with_its_cost(start_session, workspace, tmp_path, user_config):
    priced(user_config)
    (workspace / ".assistant-router.toml").write_text('[models.codex]\noptions = { fail = "retryable" }\nretries = 0\n')
    session = await start_session("vscode")
    statuses = []
    session.client.feature("assistant/status")(lambda params: statuses.append(params))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("scaffold", uri, 3, 6))

    assert result["alias"] == "opus" and result["fallback"] is True
    failed, answered = ledger_of(tmp_path).rows()
    assert (failed.alias, failed.status, failed.error_type, failed.cost_usd) == (
        "codex",
        "failed",
        "RetryableProviderError",
        None,
    )
    assert (answered.alias, answered.status, answered.fallback, answered.applied) == ("opus", "ok", True, True)
    assert answered.project == str(workspace) and answered.task == "scaffold" and answered.run_id == failed.run_id
    assert answered.cost_usd == pytest.approx(answered.output_tokens * 0.01)
    assert answered.ttft_ms is not None and answered.total_ms >= answered.ttft_ms
    assert result["cost_usd"] == pytest.approx(answered.cost_usd)
    await session.wait_for(lambda: statuses)
    assert statuses[0].spend_today.usd == pytest.approx(answered.cost_usd)


async def test_route_estimates_tokens_and_cost_before_sending(start_session, workspace, user_config):
    # The mock is free unless priced: priced here as opus is ($5 in / $25 out per million).
    user_config.write_text(user_config.read_text().replace(
        "[models.opus]\n", "[models.opus]\nprices = { input = 5.0, output = 25.0 }\n", 1))
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    decision = await session.execute("assistant.route", session.task_argument("review", uri, 3, 6))
    estimate = decision["estimate"]
    assert estimate["input_tokens"] > 50
    assert estimate["cost_usd"] == pytest.approx((estimate["input_tokens"] * 5 + 2000 * 25) / 1e6)
    assert estimate["note"] == "input plus an answer of up to 2,000 tokens"

    (workspace / ".assistant-router.toml").write_text('[models.local]\nprovider = "openai"\nmodel = "qwen"\n\n'
                                                      '[routes]\nreview = "local"\n')
    session.client.text_document_did_save(
        types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(session.uri(".assistant-router.toml"))))
    await session.wait_for(lambda: session.logs().count("loaded from") >= 2)
    unpriced = await session.execute("assistant.route", session.task_argument("review", uri, 3, 6))
    assert unpriced["estimate"]["cost_usd"] is None and unpriced["estimate"]["note"] == "unknown price"


async def test_a_budget_exhausted_in_one_window_disables_actions_in_another(start_session, workspace, tmp_path,
                                                                            user_config):
    priced(user_config)
    (workspace / ".assistant-router.toml").write_text("[budget]\ndaily_usd = 0.60\n")
    fast = {"ASSISTANT_ROUTER_SPEND_REFRESH_S": "0.2"}
    first = await start_session("vscode", env=fast)
    second = await start_session("vscode", env=fast)  # another editor window: another server, the same ledger
    uri = first.open("geometry.py")
    other_uri = second.open("geometry.py")
    assert not any(a.disabled for a in await second.code_actions(other_uri, 3, 6))

    spent = await first.execute("assistant.run", first.task_argument("review", uri, 3, 6))
    assert spent["status"] == "shown" and spent["cost_usd"] > 0.60

    async def review_disabled():
        actions = await second.code_actions(other_uri, 3, 6)
        return next(a for a in actions if a.title.startswith("Review")).disabled

    for _ in range(50):
        if await review_disabled():
            break
        await asyncio.sleep(0.1)
    disabled = await review_disabled()
    assert disabled is not None and disabled.reason.startswith("Budget today: $")
    assert "spent of $0.60" in disabled.reason
    refused = await second.execute("assistant.run", second.task_argument("review", other_uri, 3, 6))
    assert refused["status"] == "refused" and refused["message"].startswith("not sent: budget today: $")
    # The refusal is on record (nothing was sent, nothing spent), for the report's chart of refusals.
    rows = ledger_of(tmp_path).rows()
    assert [r.status for r in rows] == ["ok", "refused"] and rows[1].cost_usd == 0 and rows[1].input_tokens == 0
    from assistant_router.engine.usage.report import render_html, summarize

    summary = summarize(rows, since=0)
    assert summary["refused_requests"] == 1 and sum(m["attempts"] for m in summary["by_model"].values()) == 1
    assert "refused (a budget, nothing sent)" in render_html(summary)


async def test_a_policy_can_downgrade_instead(start_session, workspace, tmp_path, user_config):
    priced(user_config)
    (workspace / ".assistant-router.toml").write_text(
        '[budget]\ndaily_usd = 0.60\non_exceed = "downgrade"\ndowngrade_to = "codex"\n')
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    actions = await session.code_actions(uri, 3, 6)
    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert "Review selection · codex (mock) (budget: downgraded)" in [a.title for a in actions]
    assert result["alias"] == "codex" and result["status"] == "shown"
    assert result["reason"].startswith("budget today: $") and "downgraded to codex" in result["reason"]


async def test_kept_or_undone_is_judged_at_the_next_save(start_session, workspace, tmp_path, sample):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    path = workspace / "geometry.py"

    kept = await session.execute("assistant.run", session.task_argument("refactor", uri, 3, 6))
    after = sample.replace("def area(radius):", kept["edit"]["new_text"].splitlines()[0] + "\ndef area(radius):")
    session.change(uri, after)
    session.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await session.wait_for(lambda: ledger_of(tmp_path).rows()[0].kept is not None)

    undone = await session.execute("assistant.run", session.task_argument("refactor", uri, 8, 10))
    assert undone["status"] == "applied"
    session.change(uri, after)  # the user undid it
    session.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await session.wait_for(lambda: ledger_of(tmp_path).rows()[1].kept is not None)

    first, second = ledger_of(tmp_path).rows()
    assert (first.kept, second.kept) == (True, False)
    summary = await session.execute("assistant.usage", {"days": 1})
    no_argument = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="assistant.usage", arguments=[]))
    assert no_argument["requests"] == summary["requests"] == 2  # the argument is optional
    (refactor,) = [t for t in summary["by_task"] if t["task"] == "refactor"]
    assert (refactor["applied"], refactor["kept"], refactor["undone"], refactor["acceptance"]) == (2, 1, 1, 0.5)
    assert summary["requests"] == 2
    assert path.exists()


async def test_a_team_ledger_on_postgresql(start_session, user_config, postgres_url):
    # ledger_url is a top-level key: it comes before any table.
    user_config.write_text(f'ledger_url = "{postgres_url}"\n' + user_config.read_text())
    session = await start_session("vscode")
    uri = session.open("geometry.py")

    await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    (row,) = open_ledger(postgres_url).rows()
    assert (row.task, row.alias, row.status) == ("explain", "opus", "ok")


async def test_without_a_save_the_edit_is_judged_after_a_while(start_session, tmp_path):
    session = await start_session("vscode", env={"ASSISTANT_ROUTER_KEPT_AFTER_S": "0.3",
                                                  "ASSISTANT_ROUTER_SPEND_REFRESH_S": "0.1"})
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("refactor", uri, 3, 6))

    assert result["status"] == "applied"
    # The test client does not apply edits to its copy, so the text is not there: undone.
    await session.wait_for(lambda: ledger_of(tmp_path).rows()[0].kept is not None, timeout=10)
    assert ledger_of(tmp_path).rows()[0].kept is False


# A project's own alias on a paid provider, with no price: never counted as free.
UNPRICED = '[models.local]\nprovider = "openai"\nmodel = "qwen"\n\n[routes]\nreview = "local"\n'


@pytest.mark.parametrize("unknown_price", [None, "refuse"])
async def test_a_project_alias_without_a_price_is_not_free_under_the_users_budget(
    start_session, workspace, tmp_path, user_config, unknown_price
):
    """The attack: a cloned repository routes to its own unpriced alias to spend past the user's cap."""
    setting = f'unknown_price = "{unknown_price}"\n' if unknown_price else ""
    user_config.write_text(user_config.read_text() + "\n[budget]\ndaily_usd = 0.02\n" + setting)
    (workspace / ".assistant-router.toml").write_text(UNPRICED + "\n[budget]\ndaily_usd = 100\n")
    session = await start_session("vscode")
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert result["status"] == "refused"
    if unknown_price == "refuse":
        assert result["message"].startswith("not sent: the price of 'local' (openai qwen) is unknown")
    else:  # counted at the openai provider's dearest known price (codex's $1.75 / $14), against the user's $0.02
        assert result["message"].startswith(f"not sent: budget today: $0.00 spent of $0.02 (budget at {user_config}:")
    # Nothing reached the provider: the ledger holds the refusal alone, at no cost.
    assert [(r.status, r.input_tokens, r.cost_usd) for r in ledger_of(tmp_path).rows()] == [("refused", 0, 0.0)]
    warnings = session.client.diagnostics[(workspace / ".assistant-router.toml").as_uri()]
    assert any("may only lower a limit" in w.message for w in warnings)


async def test_spend_at_an_unknown_price_counts_against_the_budget(start_session, workspace, tmp_path, user_config,
                                                                   loopback):
    # The user's own alias on a paid provider (the loopback fake), with no price.
    user_config.write_text(user_config.read_text() + f'\n[models.local]\nprovider = "openai"\nmodel = "qwen"\n'
                           f'base_url = "{loopback.openai_url}"\n\n[budget]\ndaily_usd = 5\n')
    (workspace / ".assistant-router.toml").write_text('[routes]\nreview = "local"\n')
    session = await start_session("vscode", env=loopback.env)
    statuses = []
    session.client.feature("assistant/status")(lambda params: statuses.append(params))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    (row,) = ledger_of(tmp_path).rows()
    assert result["status"] == "shown" and row.cost_usd is None  # the ledger still says unknown
    await session.wait_for(lambda: statuses)
    expected = (row.input_tokens * 1.75 + row.output_tokens * 14) / 1e6  # but the budget counts it at codex's price
    assert statuses[-1].spend_today.usd == pytest.approx(expected, abs=1e-6)  # the status rounds to 6 places


async def test_spend_today_counts_every_window_without_a_budget(start_session, workspace, user_config):
    """Two servers (two editor windows) on one project, no [budget]: each status
    line shows the day's spend from the shared ledger, not its own process's."""
    priced(user_config)
    first, second = await start_session("vscode"), await start_session("vscode")
    statuses: list = []
    second.client.feature("assistant/status")(lambda params: statuses.append(params))

    a = await first.execute("assistant.run", first.task_argument("explain", first.open("geometry.py"), 3, 6))
    b = await second.execute("assistant.run", second.task_argument("explain", second.open("geometry.py"), 3, 6))

    assert a["cost_usd"] > 0 and b["cost_usd"] > 0
    assert b["spend_today"]["usd"] == pytest.approx(a["cost_usd"] + b["cost_usd"])
    await second.wait_for(lambda: statuses)
    assert statuses[-1].spend_today.usd == pytest.approx(a["cost_usd"] + b["cost_usd"])
