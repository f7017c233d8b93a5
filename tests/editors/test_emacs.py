"""Real Emacs + Eglot driving the real server through editors/emacs/assistant-router.el.

Emacs runs in batch mode (``-q``, not ``-Q``: Debian's site-start puts Eglot on
the load path), loads the set-up file with ``-l`` and a driver script that
attaches Eglot, lists code actions, runs tasks and writes what it saw to a JSON
file, which the tests assert on. The server answers offline (mock provider).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "editors" / "emacs" / "assistant-router.el"
EMACS_TIMEOUT_S = 60

from support import MOCK_USER_CONFIG, SAMPLE  # noqa: E402  (tests/support.py)

from assistant_router.routing.tasks import task_table  # noqa: E402  (the server's table: the one definition)

FAKE_SERVER = Path(__file__).resolve().parent / "fake_server.py"
# fake_server.py's tasks: not the real server's, so a package with a copied list cannot pass.
FAKE_ROWS = json.loads((FAKE_SERVER.parent / "fake_tasks.json").read_text())

# What both sessions below share: recording results, waiting, the task prompt.
HELPERS = r"""
;;; -*- lexical-binding: t; -*-
(require 'cl-lib)
(require 'json)
(require 'flymake)

(defvar ar-results nil)
(defun ar-put (key value) (push (cons key value) ar-results))

(defun ar-wait (predicate seconds)
  "Process input until PREDICATE holds or SECONDS pass; return its value."
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall predicate))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(defun ar-attach-command (root file)
  "Visit FILE in ROOT and attach Eglot to the server $AR_CMD; return the server."
  (setq assistant-router-command (let ((json-array-type 'list)) (json-read-from-string (getenv "AR_CMD"))))
  (setq project-find-functions (list (lambda (_dir) (cons 'transient root)))
        eglot-sync-connect t)
  (find-file file)
  (apply #'eglot (eglot--guess-contact))
  (ar-wait #'eglot-current-server 30))

(defun ar-line-start (line)
  "Position of the start of 0-based LINE."
  (save-excursion (goto-char (point-min)) (forward-line line) (point)))

(defun ar-assistant-diagnostics ()
  (cl-remove-if-not (lambda (d) (string-prefix-p "assistant-router" (flymake-diagnostic-text d)))
                    (flymake-diagnostics)))

(defun ar-events-tail ()
  (let ((buffer (cl-find-if (lambda (b) (string-match-p "EGLOT.*events" (buffer-name b))) (buffer-list))))
    (if buffer
        (with-current-buffer buffer (buffer-substring-no-properties (max (point-min) (- (point-max) 6000)) (point-max)))
      "")))

(defun ar-record-tasks ()
  "What the package knows of the tasks: their names, and what its task prompt offers."
  (ar-put 'task_names (vconcat (assistant-router-task-names)))
  (let ((offered nil) (annotations nil))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (let ((annotate (plist-get completion-extra-properties :annotation-function)))
                   (setq offered collection
                         annotations (mapcar annotate collection)))
                 (car collection))))
      (ar-put 'read_task (assistant-router--read-task "Task: ")))
    (ar-put 'read_task_offered (vconcat offered))
    (ar-put 'read_task_annotations (vconcat annotations))))

(defun ar-main (session)
  "Run SESSION; write the results to $AR_RESULTS and exit (1 on an error)."
  (let ((failed nil))
    (condition-case err
        (funcall session)
      (error (setq failed t)
             (ar-put 'error (error-message-string err))
             (ar-put 'events (ar-events-tail))))
    (with-temp-file (getenv "AR_RESULTS")
      (insert (let ((json-encoding-pretty-print nil)) (json-encode ar-results))))
    (kill-emacs (if failed 1 0))))
"""

# The session: everything Emacs does, in order. Results go to $AR_RESULTS as JSON.
DRIVER = HELPERS + r"""
(defun ar-session ()
  (let* ((root (file-name-as-directory (getenv "AR_PROJECT")))
         (file (expand-file-name "geometry.py" root))
         (beg nil) (end nil) (server nil))
    ;; Loading the package registered it; registering again replaces, never duplicates.
    (assistant-router-register)
    (ar-put 'registrations (cl-count-if #'assistant-router--our-entry-p eglot-server-programs))
    (ar-put 'registered_modes (length assistant-router-modes))
    (ar-put 'js_language_id (nth 1 (eglot--lookup-mode 'js-mode)))
    (setq project-find-functions (list (lambda (_dir) (cons 'transient root))))
    (setq eglot-sync-connect t
          eglot-confirm-server-initiated-edits nil
          assistant-router-initialization-options
          '(:tasks ("scaffold" "review" "explain") :status_notifications t))
    (find-file file)
    (ar-put 'major_mode (symbol-name major-mode))

    ;; Attach: Eglot guesses the contact from eglot-server-programs.
    (let ((started (float-time)))
      (apply #'eglot (eglot--guess-contact))
      (setq server (ar-wait #'eglot-current-server 30))
      (ar-put 'attach_s (- (float-time) started)))
    (ar-put 'server_class (symbol-name (eieio-object-class server)))
    (ar-put 'server_name (plist-get (eglot--server-info server) :name))
    (ar-put 'language_id (ignore-errors (eglot--language-id server)))
    (ar-put 'commands (plist-get (plist-get (eglot--capabilities server) :executeCommandProvider) :commands))
    (ar-record-tasks)
    (flymake-start)

    ;; Code actions over `def area' (LSP lines 3-6).
    (setq beg (ar-line-start 3) end (ar-line-start 6))
    (let ((actions (eglot-code-actions beg end)))
      (ar-put 'titles (vconcat (mapcar (lambda (a) (plist-get a :title)) actions)))
      (ar-put 'kinds (vconcat (mapcar (lambda (a) (plist-get a :kind)) actions)))

      ;; Review: execute its command as Eglot does; findings arrive as diagnostics.
      (let* ((review (cl-find-if (lambda (a) (equal (plist-get a :kind) "refactor.assistant.review")) actions))
             (command (plist-get review :command))
             (started (float-time)))
        (ar-put 'review_command (plist-get command :command))
        (ar-put 'execute_returned (format "%S" (eglot-execute-command server (intern (plist-get command :command))
                                                                      (plist-get command :arguments))))
        (ar-put 'execute_returned_s (- (float-time) started))
        (ar-wait #'ar-assistant-diagnostics 20)
        (ar-put 'review_s (- (float-time) started))
        (ar-put 'diagnostics
                (vconcat (mapcar (lambda (d)
                                   `((text . ,(flymake-diagnostic-text d))
                                     (line . ,(1- (line-number-at-pos (flymake-diagnostic-beg d))))
                                     (type . ,(symbol-name (flymake-diagnostic-type d)))))
                                 (ar-assistant-diagnostics))))
        (ar-wait (lambda () assistant-router-last-status) 5)
        (ar-put 'status_after_review assistant-router-last-status)
        (ar-put 'mode_line_after_review (substring-no-properties assistant-router--mode-line))))

    ;; Scaffold through Eglot's own chooser (as a user picks it), stubbing the prompt.
    (let ((last-nonmenu-event ?\r)
          (offered nil)
          (started (float-time)))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (setq offered (mapcar #'car collection))
                   (cl-find-if (lambda (title) (string-prefix-p "Scaffold" title)) offered))))
        (eglot-code-actions beg end nil t))
      (ar-put 'chooser_offered (vconcat offered))
      (ar-put 'scaffold_applied
              (and (ar-wait (lambda () (save-excursion (goto-char (point-min))
                                                       (search-forward "Scaffolded by" nil t)))
                            20)
                   t))
      (ar-put 'scaffold_s (- (float-time) started))
      (ar-put 'buffer_text (buffer-substring-no-properties (point-min) (point-max)))
      (ar-wait (lambda () (equal (plist-get assistant-router-last-status :task) "scaffold")) 5)
      (ar-put 'status_after_scaffold assistant-router-last-status))

    ;; Scaffold at a bare cursor, at column 0 of a comment (no region): whole lines after it.
    (deactivate-mark)
    (goto-char (point-min))
    (search-forward "# TODO: validate radius")
    (beginning-of-line)
    (let ((last-nonmenu-event ?\r)
          (count assistant-router--status-count))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (cl-find-if (lambda (title) (string-prefix-p "Scaffold code for line" title))
                               (mapcar #'car collection)))))
        (eglot-code-actions (point) (point) nil t))
      (ar-wait (lambda () (> assistant-router--status-count count)) 20)
      (ar-put 'cursor_scaffold_text (buffer-substring-no-properties (point-min) (point-max))))

    ;; The package's own commands: route (no model) and ask (classified, then run).
    (goto-char (ar-line-start 3))
    (ar-put 'route (assistant-router-route "review"))
    (let ((count assistant-router--status-count) (asked nil))
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (setq asked t)
                   (car (if (functionp collection) (all-completions "" collection) collection)))))
        (assistant-router-ask "explain what this function does")
        (ar-wait (lambda () (and (> assistant-router--status-count count) assistant-router-last-result
                                 (plist-get assistant-router-last-result :classification)))
                 20))
      (ar-wait (lambda () assistant-router-shown-documents) 5)
      (ar-put 'shown_documents (vconcat assistant-router-shown-documents))
      (ar-put 'shown_text (let ((path (car assistant-router-shown-documents)))
                            (and path (with-current-buffer (find-file-noselect path) (buffer-string)))))
      (ar-put 'ask_needed_choice asked)
      (ar-put 'ask_result assistant-router-last-result)
      (ar-put 'status_after_ask assistant-router-last-status))

    (ar-put 'messages (with-current-buffer "*Messages*" (buffer-substring-no-properties (point-min) (point-max))))
    (ar-put 'server_stderr
            (let ((buffer (cl-find-if (lambda (b) (string-match-p "EGLOT.*stderr" (buffer-name b))) (buffer-list))))
              (if buffer (with-current-buffer buffer (buffer-string)) "")))
    (eglot-shutdown server nil 5)
    (ar-put 'shutdown t)))

(ar-main #'ar-session)
"""

# Against tests/editors/fake_server.py ($AR_CMD), a server with tasks of its own.
FAKE_DRIVER = HELPERS + r"""
(defun ar-fake-session ()
  (let* ((root (file-name-as-directory (getenv "AR_PROJECT")))
         (file (expand-file-name "geometry.py" root))
         (server (ar-attach-command root file)) (ran nil))
    (ar-put 'server_class (symbol-name (eieio-object-class server)))
    (ar-record-tasks)
    ;; Each task with point on line 3 (0-based), column 4, and no region.
    (dolist (name (assistant-router-task-names))
      (goto-char (point-min))
      (forward-line 3)
      (forward-char 4)
      (setq assistant-router-last-result nil)
      (assistant-router-run name)
      (ar-wait (lambda () assistant-router-last-result) 10)
      (push name ran))
    (ar-put 'ran (vconcat (nreverse ran)))
    (ar-put 'unknown_task
            (condition-case err (progn (assistant-router-run "fix") nil)
              (user-error (error-message-string err))))
    (eglot-shutdown server nil 5)))

(ar-main #'ar-fake-session)
"""


# Against the real server with its classifier fixed for "unsure:" requests
# (tests/e2e/fixed_classifier.py, $AR_CMD): Eglot does not declare
# window/showMessageRequest, so the server answers "needs_choice" and the
# package asks with completing-read, then sends the answer back.
CHOICE_DRIVER = HELPERS + r"""
(defun ar-choice-session ()
  (let* ((root (file-name-as-directory (getenv "AR_PROJECT")))
         (file (expand-file-name "geometry.py" root))
         (server (ar-attach-command root file)) (offered nil))
    (goto-char (ar-line-start 3))
    (setq assistant-router-last-result nil)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (if (functionp collection) (all-completions "" collection) collection))
                 (seq-find (lambda (title) (string-prefix-p "Review" title)) offered))))
      (assistant-router-ask "unsure: hmm")
      (ar-wait (lambda () (and assistant-router-last-result
                               (equal (plist-get assistant-router-last-result :task) "review")
                               (plist-get assistant-router-last-result :status)))
               30))
    (ar-put 'offered (vconcat offered))
    (ar-put 'result assistant-router-last-result)
    (eglot-shutdown server nil 5)))

(ar-main #'ar-choice-session)
"""


def test_an_unclear_request_is_asked_in_the_minibuffer_and_the_choice_recorded(emacs, tmp_path):
    fixed = Path(__file__).parents[1] / "e2e" / "fixed_classifier.py"
    recorded = run_emacs(emacs, tmp_path, CHOICE_DRIVER,
                         {"AR_CMD": json.dumps([sys.executable, str(fixed), "serve"])})

    assert recorded["offered"] == ["Debug · opus (mock)", "Explain · opus (mock)", "Review · opus (mock)"]
    result = recorded["result"]
    assert (result["task"], result["status"], result["classification"]["chosen_by"]) == ("review", "shown", "user")
    from assistant_router.engine.usage.ledger import SqliteLedger

    (choice,) = SqliteLedger(tmp_path / "data" / "assistant-router" / "ledger.sqlite3").choices()
    assert (choice.offered, choice.chosen) == (("debug", "explain", "review"), "review")

def _emacs_or_skip() -> str:
    """The emacs binary with Eglot available, else skip (or fail when editors are required)."""

    def missing(why: str):
        if os.environ.get("ASSISTANT_ROUTER_REQUIRE_EDITORS"):
            pytest.fail(f"{why} (ASSISTANT_ROUTER_REQUIRE_EDITORS is set)")
        pytest.skip(why)

    emacs = shutil.which("emacs")
    if emacs is None:
        missing("emacs is not installed")
    version = subprocess.run([emacs, "--version"], capture_output=True, text=True, timeout=EMACS_TIMEOUT_S)
    print(version.stdout.splitlines()[0] if version.stdout else "emacs --version printed nothing")
    probe = subprocess.run(
        [emacs, "--batch", "-q", "--eval", "(princ (if (require 'eglot nil t) (locate-library \"eglot\") \"\"))"],
        capture_output=True, text=True, timeout=EMACS_TIMEOUT_S, env={**os.environ, "HOME": "/nonexistent"},
    )
    if not probe.stdout.strip():
        missing("Eglot is not available to emacs -q (Debian: apt-get install elpa-eglot)")
    print(f"eglot: {probe.stdout.strip()}")
    return emacs


@pytest.fixture(scope="module")
def emacs() -> str:
    return _emacs_or_skip()


def run_emacs(emacs: str, tmp: Path, driver_text: str, extra_env: dict[str, str] | None = None) -> dict:
    """Runs a driver in batch Emacs with the package loaded, in a fresh project; returns what it recorded."""
    project = tmp / "project"
    project.mkdir()
    (project / "geometry.py").write_text(SAMPLE)
    (tmp / "home").mkdir()
    config = tmp / "config.toml"
    config.write_text(MOCK_USER_CONFIG)
    driver = tmp / "driver.el"
    driver.write_text(driver_text)
    results = tmp / "results.json"
    env = {
        **os.environ,
        "HOME": str(tmp / "home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ASSISTANT_ROUTER_CONFIG": str(config),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
        "AR_PROJECT": str(project),
        "AR_RESULTS": str(results),
        **(extra_env or {}),
    }
    assert shutil.which("assistant-router", path=env["PATH"]), "the assistant-router console script is not installed"
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [emacs, "--batch", "-q", "-l", str(PACKAGE), "-l", str(driver)],
            cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=EMACS_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"emacs did not finish within {EMACS_TIMEOUT_S} s\n--- stderr ---\n{exc.stderr}")
    print(f"emacs session: {time.monotonic() - started:.1f} s, exit {proc.returncode}")
    recorded = json.loads(results.read_text()) if results.exists() else {}
    if proc.returncode != 0 or "error" in recorded:
        pytest.fail(
            f"emacs exited {proc.returncode}: {recorded.get('error')}\n--- stderr ---\n{proc.stderr[-4000:]}"
            f"\n--- eglot events ---\n{recorded.get('events', '')}"
        )
    recorded["_stderr"] = proc.stderr
    return recorded


@pytest.fixture(scope="module")
def session(emacs: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the whole Emacs session once; the tests below check what it recorded."""
    return run_emacs(emacs, tmp_path_factory.mktemp("emacs"), DRIVER)


def test_the_package_byte_compiles_cleanly(emacs: str, tmp_path: Path):
    copy = tmp_path / PACKAGE.name
    shutil.copy(PACKAGE, copy)
    proc = subprocess.run(
        [emacs, "--batch", "-q", "--eval", "(setq byte-compile-error-on-warn t)",
         "-f", "batch-byte-compile", str(copy)],
        env={**os.environ, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=EMACS_TIMEOUT_S,
    )
    assert proc.returncode == 0 and copy.with_suffix(".elc").exists(), proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr


def test_eglot_attaches_through_the_setup_file(session):
    assert session["major_mode"] == "python-mode"
    assert session["server_class"] == "assistant-router-server"
    assert session["server_name"] == "assistant-router"
    assert session["language_id"] == "python"
    assert {"assistant.run", "assistant.route", "assistant.preview", "assistant.ask"} <= set(session["commands"])
    # The initializationOptions from the defcustom were accepted, not reported as invalid.
    assert "initializationOptions" not in session["messages"]
    assert session["registrations"] == session["registered_modes"]
    assert session["js_language_id"] == "javascript"
    # The server's own log (Eglot's stderr buffer) shows no error.
    assert "Traceback" not in session["server_stderr"] and " ERROR " not in session["server_stderr"]


def test_code_actions_name_their_models(session):
    # Only the tasks asked for in assistant-router-initialization-options are offered.
    assert session["titles"] == [
        "Scaffold code for selection · codex (mock)",
        "Review selection · opus (mock)",
        "Explain selection · opus (mock)",
    ]
    assert session["kinds"] == [
        "refactor.rewrite.assistant.scaffold",
        "refactor.assistant.review",
        "refactor.assistant.explain",
    ]


def test_review_runs_in_the_background_and_lands_in_flymake(session):
    assert session["review_command"] == "assistant.run"
    # The package's eglot-execute-command returns at once; the result comes later.
    assert session["execute_returned"] == "nil"
    assert session["execute_returned_s"] < 1.0
    diagnostics = session["diagnostics"]
    assert len(diagnostics) == 2, diagnostics
    selection, todo = sorted(diagnostics, key=lambda d: (d["line"], "TODO" in d["text"]))
    assert selection["text"].startswith("assistant-router") and "mock opus (claude-opus-4-6)" in selection["text"]
    assert selection["line"] == 3 and selection["type"] == "eglot-warning"
    assert "unresolved TODO" in todo["text"] and todo["line"] == 4


def test_status_notification_is_recorded_and_shown(session):
    status = session["status_after_review"]
    assert (status["task"], status["alias"], status["provider"], status["model"]) == (
        "review", "opus", "mock", "mock",
    )
    assert status["status"] == "shown" and status["fallback"] is False
    assert status["usage"]["output_tokens"] > 0
    assert "review:opus" in session["mode_line_after_review"]
    assert "[assistant-router] review → opus (mock): shown" in session["messages"]


def test_scaffold_chosen_from_eglots_menu_edits_the_buffer(session):
    offered = session["chooser_offered"]
    assert "Scaffold code for selection · codex (mock)" in offered
    # After the review, its suggested replacement is offered too (from the review's findings).
    assert "Apply suggested fix: unresolved TODO" in offered
    assert session["scaffold_applied"] is True
    text = session["buffer_text"]
    assert "Scaffolded by mock codex (gpt-5.3-codex)" in text
    assert text.startswith("import math\n") and "def perimeter(radius):" in text
    status = session["status_after_scaffold"]
    assert (status["task"], status["alias"], status["status"]) == ("scaffold", "codex", "applied")


def test_scaffold_at_a_bare_cursor_inserts_whole_lines(session):
    lines = session["cursor_scaffold_text"].splitlines()
    comment = lines.index("    # TODO: validate radius")
    assert lines[comment + 1].startswith("    def ") and "raise NotImplementedError" in lines[comment + 3]
    assert lines[comment + 4] == "    return math.pi * radius ** 2"  # the next line is untouched
    assert not any("NotImplementedError#" in line for line in lines)


def test_route_and_ask_commands(session):
    route = session["route"]
    assert (route["task"], route["alias"], route["model"]) == ("review", "opus", "mock")
    assert "review" in route["reason"]
    ask = session["ask_result"]
    assert ask["classification"]["task"] == "explain"
    assert ask["status"] == "shown"
    assert session["status_after_ask"]["task"] == "explain"


def test_explanations_open_as_markdown_buffers(session):
    """Eglot 1.9 lacks window/showDocument; the package declares and handles it."""
    (path,) = session["shown_documents"]
    assert session["ask_result"]["document"] == Path(path).as_uri()
    assert path.endswith(".md")
    assert "# Explanation: `geometry.py` lines 4-4" in session["shown_text"]
    assert "Answered by mock opus (claude-opus-4-6)." in session["shown_text"]
    assert "Server reports (type=3)" not in session["messages"]  # not dumped in the echo area any more


def test_the_task_prompt_offers_the_servers_tasks(session):
    names = [row["name"] for row in task_table()]
    assert session["task_names"] == names
    assert session["read_task_offered"] == names
    assert session["read_task_annotations"] == [f"  {row['title']}: {row['result']}" for row in task_table()]
    assert session["read_task"] == names[0]


@pytest.mark.parametrize("table_in", ["capabilities", "command"])
def test_the_task_list_is_whatever_the_server_sends(emacs, tmp_path, table_in):
    """A server with other tasks, sending its table in the initialize result or
    only from assistant.tasks: the package offers and runs exactly those."""
    log = tmp_path / "fake.jsonl"
    recorded = run_emacs(emacs, tmp_path, FAKE_DRIVER, {
        "AR_CMD": json.dumps([sys.executable, str(FAKE_SERVER)]),
        "FAKE_TASKS": json.dumps(FAKE_ROWS), "FAKE_TABLE_IN": table_in, "FAKE_LOG": str(log),
    })  # fmt: skip

    assert recorded["server_class"] == "assistant-router-server"
    assert recorded["task_names"] == recorded["read_task_offered"] == ["summarise", "review"]
    assert recorded["read_task_annotations"] == ["  Summarise: a summary", "  Code review: diagnostics on the document"]
    assert recorded["unknown_task"] == 'The server has no task "fix" (it has: summarise, review)'

    received = [json.loads(line) for line in log.read_text().splitlines()]
    commands = [m["params"] for m in received if m["method"] == "workspace/executeCommand"]
    assert len([c for c in commands if c["command"] == "assistant.tasks"]) == (1 if table_in == "command" else 0)
    runs = {c["arguments"][0]["task"]: c["arguments"][0]["range"] for c in commands if c["command"] == "assistant.run"}
    assert recorded["ran"] == ["summarise", "review"] and list(runs) == ["summarise", "review"]
    # emptySelection "cursor": the empty range at point; "line": the current line.
    assert runs["summarise"] == {"start": {"line": 3, "character": 4}, "end": {"line": 3, "character": 4}}
    assert runs["review"] == {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 0}}
