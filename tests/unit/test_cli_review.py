"""cli/review.py's own rules: progress, merging findings, the exit code."""

from __future__ import annotations

import pytest

from assistant_router.cli.review import EXIT_CLEAN, EXIT_FINDINGS, EXIT_PROVIDER, EXIT_REFUSED, exit_code, merged
from assistant_router.delivery.ci_report import FailedFile, Report, ReportFinding


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log(tty, monkeypatch):
    from assistant_router.cli.review import Progress

    monkeypatch.setenv("TERM", "xterm")
    stream = _Stream(tty)
    progress = Progress(2, stream)
    progress.step("a.py:1-5 → opus: 1 finding")
    progress.step("b.py:3-4 → opus: 0 findings")
    if tty:
        assert stream.text.startswith("\rreview [############............] 1/2 a.py:1-5")
        assert "\rreview [########################] 2/2 b.py:3-4" in stream.text and stream.text.endswith("\n")
    else:
        assert stream.text == "review: 1/2 a.py:1-5 → opus: 1 finding\nreview: 2/2 b.py:3-4 → opus: 0 findings\n"


def finding(severity: str = "warning", message: str = "may be None", model: str | None = "opus", line: int = 4,
            rule: str | None = None) -> ReportFinding:
    return ReportFinding("a.py", line, line, severity, message, "bug", rule=rule, model=model)  # type: ignore[arg-type]


def test_findings_on_the_same_line_with_the_same_message_are_one():
    found = merged([finding("warning", "May be  None", "opus"), finding("error", "may be none", "codex"),
                    finding(line=5), finding(message="something else")])
    assert len(found) == 3
    (both,) = [f for f in found if f.line == 4 and "none" in f.message.lower()]
    assert (both.severity, both.model) == ("error", "codex, opus")


@pytest.mark.parametrize("findings, failed, fail_on, expected", [
    ([], [], "error", EXIT_CLEAN),
    ([finding("warning")], [], "error", EXIT_CLEAN),
    ([finding("warning")], [], "warning", EXIT_FINDINGS),
    ([finding("error")], [], "never", EXIT_CLEAN),
    ([finding("error")], [FailedFile("b.py", "over budget", "refused")], "error", EXIT_REFUSED),
    ([finding("error")], [FailedFile("b.py", "503", "provider"), FailedFile("c.py", "cap", "refused")], "error",
     EXIT_PROVIDER),
    ([], [FailedFile("b.py", "not JSON", "answer")], "never", EXIT_PROVIDER),
])
def test_the_exit_code_tells_a_bad_change_from_an_incomplete_review(findings, failed, fail_on, expected):
    assert exit_code(Report("0", "base", "HEAD", findings=findings, failed=failed), fail_on) == expected
