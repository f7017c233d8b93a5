"""What the review suites share (tests/e2e/test_review_ci.py, test_ci_setups.py):
a small repository, a change to two of its files, the fake's answer to it,
and the SARIF validator."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

SCHEMA = Path(__file__).parent / "data" / "sarif" / "sarif-2.1.0-rtm.5.json"

APP = textwrap.dedent('''\
    """The orders service."""
    import json


    def load(path):
        with open(path) as handle:
            return json.load(handle)


    def total(order):
        amount = 0
        for line in order["lines"]:
            amount += line["price"]
        return amount


    def describe(order):
        return f"{order['id']}: {total(order)}"
    ''')
UTIL = textwrap.dedent('''\
    def clamp(value, low, high):
        return max(low, min(value, high))
    ''')


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def commit(root: Path, message: str = "change") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def change_two_files(repo: Path) -> None:
    app = APP.replace('        amount += line["price"]\n',
                      '        amount += line["price"] * line["quantity"]\n        amount -= line.get("discount")\n')
    assert app != APP
    (repo / "app.py").write_text(app)
    (repo / "util.py").write_text(UTIL + "\n\ndef ratio(a, b):\n    return a / b\n")
    commit(repo)




def new_repository(root: Path) -> Path:
    """app.py, util.py and README.md, committed on main."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "app.py").write_text(APP)
    (root / "util.py").write_text(UTIL)
    (root / "README.md").write_text("# orders\n")
    commit(root, "first")
    return root


def findings_answer(*findings: dict) -> str:
    return json.dumps({"findings": list(findings)})


def answer_for_app(record) -> str | None:
    """For app.py: an error on the changed line, and a warning on line 2,
    unchanged and far from the change."""
    if "File: app.py" not in record.prompt:
        return None
    return findings_answer(
        {"line": 14, "severity": "error", "category": "bug", "message": "line.get('discount') may be None"},
        {"line": 2, "severity": "warning", "category": "style", "message": "unused import"},
    )


def validate_sarif(document: dict) -> list[str]:
    from jsonschema.validators import validator_for

    schema = json.loads(SCHEMA.read_text())
    validator = validator_for(schema)
    return sorted(e.message for e in validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(document))
