"""``assistant-router ask`` in a terminal (a pty) when the classifier is unsure:
a numbered list of the likely tasks with their models, the choice in the ledger."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

FIXED = str(Path(__file__).with_name("fixed_classifier.py"))  # "unsure:" → debug, explain, review at 0.3


@pytest.fixture
def project(tmp_path: Path, user_config: Path) -> dict:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "ok.py").write_text("def f():\n    return 1\n")
    env = {**os.environ, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(tmp_path / "data")}
    return {"root": root, "env": env, "ledger": tmp_path / "data" / "assistant-router" / "ledger.sqlite3"}


def ask_in_a_terminal(project: dict, typed: str, *args: str) -> tuple[int, str, str]:
    """``ask`` with its stdin a terminal, where ``typed`` is typed."""
    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, FIXED, "ask", *args], cwd=project["root"], env=project["env"],
                                   stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(main, typed.encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(main)
        os.close(terminal)
    return process.returncode, out, err


def choices(project: dict) -> list:
    from assistant_router.engine.usage.ledger import open_ledger

    return open_ledger(f"sqlite://{project['ledger']}").choices()


def test_ask_offers_a_numbered_list_with_the_models_and_records_the_choice(project):
    prompt = "unsure: what now with this"
    code, out, err = ask_in_a_terminal(project, "2\n", prompt, "ok.py:1-2", "--dry-run")

    assert code == 0, err
    assert "  1) Debug · opus (mock)\n  2) Explain · opus (mock)\n" \
           "  3) Review · opus (mock)\n" in err
    assert 'what should I do with "unsure: what now with this"? [1-3]' in err
    assert "ask → explain (chosen by you;" in err and "# Preview: explain → opus" in out
    (choice,) = choices(project)
    assert (choice.offered, choice.chosen, choice.top_task) == (("debug", "explain", "review"), "explain", "debug")
    assert choice.request_sha256 == hashlib.sha256(prompt.encode()).hexdigest()
    assert prompt.encode() not in project["ledger"].read_bytes()


def test_ask_with_no_answer_sends_nothing_and_records_the_dismissal(project):
    code, out, err = ask_in_a_terminal(project, "\n", "unsure: hmm", "ok.py", "--dry-run")

    assert code == 2 and out == "" and "no task chosen; nothing was sent" in err
    (choice,) = choices(project)
    assert choice.chosen is None


def test_ask_the_facts_reach_the_classifier(project):
    code, _, err = ask_in_a_terminal(project, "", "sure: go", "ok.py:1", "--dry-run")

    assert code == 0, err
    assert "has_diagnostics=False; has_selection=True; language=python" in err


def test_ask_refuses_with_json_listing_the_candidates(project):
    result = subprocess.run([sys.executable, FIXED, "ask", "unsure: hmm", "ok.py", "--json"], cwd=project["root"],
                            env=project["env"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    assert result.returncode == 3
    data = json.loads(result.stdout)
    assert data["status"] == "refused" and [c["task"] for c in data["candidates"]] == ["debug", "explain", "review"]
    assert data["candidates"][0]["title"] == "Debug · opus (mock)"
    assert choices(project) == []  # nobody was asked
