"""The ``assistant-router`` command: serve, route, check, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant_router.routing.tasks import Task

LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascriptreact", ".ts": "typescript", ".tsx": "typescriptreact", ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".lua": "lua", ".sh": "shellscript",
    ".md": "markdown", ".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".html": "html",
    ".css": "css", ".sql": "sql", ".scala": "scala", ".ex": "elixir", ".hs": "haskell",
}

EPILOG = """\
examples:
  assistant-router serve                      speak LSP on stdin/stdout (editors start this)
  assistant-router route --task review --file src/app.py:10-40
  assistant-router run review src/app.py:10-40    review lines 10-40, findings on stdout
  assistant-router run explain src/app.py --dry-run   show what would be sent; send nothing
  assistant-router ask "why is total None here" src/app.py:10-40   a request in your words
  assistant-router usage --days 7 --html report.html   spend and acceptance, with charts
  assistant-router review --diff origin/main...HEAD --sarif out.sarif   review a pull request's change (CI)
  assistant-router check .                    validate ./.assistant-router.toml
  assistant-router demo                       offline tour of the whole flow (no keys needed)
  eval "$(assistant-router completion bash)"  shell completion (also zsh, fish)
  assistant-router demo --live                the same against the real services

environment:
  ASSISTANT_ROUTER_CONFIG   path of the user config (default: <user config dir>/assistant-router/config.toml)
  ASSISTANT_ROUTER_LOG      log level for serve (debug, info, warning, error)
  ASSISTANT_ROUTER_WARM_UP  0: serve skips importing the SDKs, grammars and rules after initialized
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line that say where to look (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _host_port(value: str) -> tuple[str, int]:
    """``--tcp``: HOST:PORT or PORT, the port 0-65535."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:2087)")
    return host or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    from assistant_router.delivery.ci_report import FORMATS
    from assistant_router.engine import __version__
    from assistant_router.routing.tasks import Task

    parser = _Parser(
        prog="assistant-router",
        description="A language server that routes each AI coding task to the model that suits it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    task_names = ", ".join(task.value for task in Task)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", type=_host_port,
                       help="listen on TCP instead of stdio (for debugging)")
    serve.add_argument("--log-file", type=Path, metavar="FILE",
                       help="also append the log to FILE (same level as stderr)")
    serve.add_argument("--offline", action="store_true",
                       help="answer every task with the offline mock provider: no keys, no network, $0 "
                            "(as offline = true in the user config)")
    serve.add_argument(
        "--log-level",
        default=os.environ.get("ASSISTANT_ROUTER_LOG", "warning"),
        choices=["debug", "info", "warning", "error"],
        help="stderr verbosity (default: warning); the editor's log always gets info and above",
    )

    route = commands.add_parser("route", help="print which model a task would go to, and why")
    route.add_argument("--task", required=True, help=task_names)
    route.add_argument("--file", required=True, metavar="F[:START-END]", help="file, optionally with 1-based lines")
    route.add_argument("--root", type=Path, help="workspace root (default: nearest folder with a policy file or .git)")
    route.add_argument("--language", help="LSP language id (default: from the file name)")
    route.add_argument("--json", action="store_true", help="print the decision as JSON")

    run = commands.add_parser(
        "run",
        help="run a task outside the editor and print its answer (checked, for edits)",
        description="Run a task on a file with the editor's routing, context and privacy rules. A document "
        "(explain, debug) streams to stdout; an edit's code is printed once its checks passed (syntax, safety "
        "rules; otherwise its problems, and exit 1, unless --apply-unchecked); a review prints one "
        "'path:line: severity: message' line per finding; complete prints the inline completion at the end of "
        "FILE:LINE. Progress and a summary go to stderr. Files are never "
        "changed. Exit codes: 0 done, 1 failed, 2 usage, 3 refused (nothing was sent: an excluded file, a "
        "budget, a selection too large, a line past the end).",
    )
    run.add_argument("task", help=task_names)
    run.add_argument("file", metavar="FILE[:START-END]", help="file, optionally with 1-based lines")
    run.add_argument("--prompt", help="extra instructions for the model")
    run.add_argument("--dry-run", action="store_true", help="show exactly what would be sent, and send nothing")
    run.add_argument("--json", action="store_true", help="print the result (or the preview) as JSON")
    run.add_argument("--apply-unchecked", action="store_true",
                     help="print an edit that failed its checks (syntax, safety rules) like any other, "
                     "instead of its problems only (exit 1)")
    run.add_argument("--root", type=Path, help="workspace root (default: nearest folder with a policy file or .git)")
    run.add_argument("--language", help="LSP language id (default: from the file name)")

    ask = commands.add_parser(
        "ask",
        help="a free-form request about a file, run as the task it means",
        description="Classify a free-form request (\"why is this None here\", \"tests pls\") as a task, as the "
        "editor does, then run it like 'run' (the request goes to the model too). When the classifier is not "
        "sure (and the policy's [classifier] second_opinion, if any, is not either), you choose from a numbered "
        "list of the likely tasks, each with the model it would go to; the question and your choice are recorded "
        "in the ledger (the request only as a hash). Without a terminal, or with --yes, nothing is guessed: it "
        "refuses (exit 3) and lists the likely tasks, unless --task says which. Exit codes as for run; 2 also "
        "when no task is chosen.",
    )
    ask.add_argument("request", help="what you want, in your words")
    ask.add_argument("file", metavar="FILE[:START-END]", help="file, optionally with 1-based lines")
    ask.add_argument("--yes", action="store_true", 
                     help="never ask: when unsure, refuse (exit 3) unless --task is given")
    ask.add_argument("--task", help=f"the task to run when the classifier is unsure, instead of asking ({task_names})")
    for flag, options in (("--dry-run", {"action": "store_true", "help": "show what would be sent; send nothing"}),
                          ("--json", {"action": "store_true", "help": "print the result as JSON"}),
                          ("--apply-unchecked", {"action": "store_true",
                                                 "help": "print an edit that failed its checks anyway"}),
                          ("--root", {"type": Path, "help": "workspace root (default: as for run)"}),
                          ("--language", {"help": "LSP language id (default: from the file name)"})):
        ask.add_argument(flag, **options)  # type: ignore[arg-type]

    usage = commands.add_parser(
        "usage",
        help="spend and acceptance by model, task and project, with suggestions",
        description="Report on the ledger: what each model cost per task and project, how often its edits were "
        "kept, and suggestions drawn from that. Prices come from the policy; unknown prices are shown as such.",
    )
    usage.add_argument("--days", type=int, default=30, help="the period, in days up to now (default: 30)")
    usage.add_argument("--project", type=Path, help="only this workspace root (default: every project)")
    usage.add_argument("--json", action="store_true", help="print the summary as JSON")
    usage.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report with charts")

    review = commands.add_parser(
        "review",
        help="review a change (a pull request, the last commit, the index) for CI: SARIF, annotations, a summary",
        description="Review what a change added with the project's policy, as the editor would: each changed "
        "file's hunks with their enclosing scope, routed for 'review' (rules by path apply), with the same privacy "
        "rules, redaction, budgets and ledger; the safety rules run on the added lines too (--rules-only: only "
        "them, no model, nothing sent). Findings are kept on the changed lines or within [review] near_lines of "
        "them (default 3; --all-lines: everywhere). Lock, vendored, generated and binary files are skipped "
        "([review] skip and include in the policy). Progress on stderr. Exit codes: 0 nothing at or above "
        "--fail-on, 1 findings at or above it, 2 usage (not a repository, a bad revision, a policy with errors), "
        "3 refused (--max-usd or a budget), 4 a provider failure (an outage, an unreadable answer); with 3 or 4 "
        "the review is incomplete and what it found is written all the same. See docs/ci.md.",
        epilog="examples:\n"
        "  assistant-router review                             the branch since it left the default branch\n"
        "  assistant-router review --diff HEAD~1 --fail-on warning\n"
        "  assistant-router review --diff origin/main...HEAD --sarif review.sarif --markdown summary.md\n"
        "  assistant-router review --staged --rules-only       offline, free: a pre-commit hook\n"
        "  assistant-router review --diff \"$BASE\"...HEAD --format github --max-usd 0.50",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    review.add_argument("--diff", metavar="BASE[...HEAD]",
                        help="what to review: BASE...HEAD (from their merge base), BASE..HEAD, or BASE (to the "
                        "working tree); default: from the merge base with the default branch to the working tree")
    review.add_argument("--staged", action="store_true", help="review the index against HEAD (a pre-commit hook)")
    review.add_argument("--rules-only", action="store_true",
                        help="only the safety rules: no model, nothing sent, free and offline")
    review.add_argument("--all-lines", action="store_true",
                        help="report findings anywhere in the files reviewed, not only near the changed lines")
    review.add_argument("--fail-on", choices=["error", "warning", "never"], default="error",
                        help="the severity that fails the run with exit 1 (default: error)")
    review.add_argument("--max-usd", type=float, metavar="USD",
                        help="the most this run may cost: refused before anything is sent when the estimate is "
                        "higher (or a price is unknown), and no request is started once it is reached")
    review.add_argument("--format", choices=FORMATS, default=None,
                        help="the format written to stdout, or to --output (default: text)")
    review.add_argument("--output", type=Path, metavar="FILE", help="write --format to FILE instead of stdout")
    for name in FORMATS:
        review.add_argument(f"--{name}", type=Path, metavar="FILE", dest=f"{name}_file",
                            help=f"also write the {name} format to FILE")
    review.add_argument("--jobs", type=int, default=4, metavar="N",
                        help="requests at once (default: 4; each alias's max_concurrency holds within it)")
    review.add_argument("--dry-run", action="store_true",
                        help="list the requests a review would send and what they may cost; send nothing")
    review.add_argument("--root", type=Path, help="a folder inside the repository (default: the current one)")

    check = commands.add_parser("check", help="validate a project policy file, the user config and the rule files")
    check.add_argument("directory", nargs="?", type=Path, default=Path("."),
                       help="project root, or its .assistant-router.toml (default: .)")
    check_code = commands.add_parser(
        "check-code", help="run the safety rules on files, with no model (a pre-commit hook)",
        description="Run the safety rules the editor checks every AI edit with (the shipped ones, the project's "
        ".assistant-router/rules/*.yml and yours, less [checks] disable_rules) on whole files or line ranges. No "
        "model, nothing sent. One 'path:line:column: severity: [rule] message' line per finding. Exit codes: 0 "
        "no error or warning, 1 at least one (or the policy has errors), 2 usage (a file that cannot be read).")
    check_code.add_argument("files", nargs="+", metavar="FILE[:START-END]", help="files, optionally with 1-based lines")
    check_code.add_argument("--json", action="store_true", help="print the findings as JSON")
    check_code.add_argument("--root", type=Path, help="workspace root (default: nearest folder with a policy file "
                            "or .git)")
    check_code.add_argument("--language", help="LSP language id for every file (default: from each file name)")
    schema = commands.add_parser("schema", help="print the JSON Schema of policy files, for TOML editors")
    schema.add_argument("--path", action="store_true", help="print where the shipped schema file is instead")

    completion = commands.add_parser("completion", help="print a shell completion script (bash, zsh, fish)")
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])
    demo = commands.add_parser("demo", help="drive the real server as an editor would, offline")
    demo.add_argument("--delay-ms", type=float, default=15, help="offline: the fakes' delay per streamed chunk")
    demo.add_argument(
        "--live", action="store_true", help="use the real services (needs OPENAI_API_KEY and ANTHROPIC_API_KEY)"
    )
    return parser


class UsageError(Exception):
    """A command line that cannot be run as written (exit 2); the message says why."""


def _split_file_arg(value: str) -> tuple[Path, int | None, int | None]:
    """FILE, FILE:LINE or FILE:START-END (1-based, inclusive). A file whose
    name holds a colon is taken as it is when it exists."""
    head, sep, tail = value.rpartition(":")
    if not sep or not head or Path(value).exists():
        return Path(value), None, None
    start_text, dash, end_text = tail.partition("-")
    if not start_text.isdigit() or (dash and not end_text.isdigit()):
        if Path(head).exists():
            raise UsageError(f"bad line range '{tail}' in '{value}' (expected FILE:LINE or FILE:START-END, 1-based)")
        return Path(value), None, None
    start = int(start_text)
    end = int(end_text) if dash else start
    if start < 1 or end < start:
        raise UsageError(f"bad line range '{tail}': the first line must be 1 or more and not after the last "
                         f"(FILE:START-END, 1-based)")
    return Path(head), start, end


SWITCH_INTERVAL_S = 0.001


def _serve(args: argparse.Namespace) -> int:
    from assistant_router.server.logs import configure_stderr

    try:
        configure_stderr(args.log_level, args.log_file)
    except OSError as exc:
        print(f"assistant-router: cannot write the log file {args.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.offline:
        from assistant_router.routing.policy import OFFLINE_ENV

        os.environ[OFFLINE_ENV] = "1"  # the policy loader reads it: every alias offline
    from assistant_router.server.app import build_server

    server = build_server()
    # Requests are assembled in worker threads (engine/calling.py); the event
    # loop's thread then waits for the interpreter at most this long, instead
    # of Python's default 5 ms, each time it needs it to answer a request.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # Our frame reader, not pygls's: that one goes deaf after one bad header.
    from assistant_router.server.stdio import start_io, start_tcp

    if args.tcp:
        from assistant_router.server.stdio import CannotListen

        try:
            return start_tcp(server, *args.tcp)
        except CannotListen as exc:
            print(f"assistant-router: {exc}", file=sys.stderr)
            return 1
    return start_io(server)


def _registry_check():
    from assistant_router.providers.registry import ProviderRegistry

    return ProviderRegistry().check


def _route(args: argparse.Namespace) -> int:
    from assistant_router.routing.config import find_project_root, load_policy
    from assistant_router.routing.matching import RouteRequest
    from assistant_router.routing.router import Router

    task = _task(args.task)
    file, start, end = _split_file_arg(args.file)
    file = file.resolve()
    root = (args.root or find_project_root(file)).resolve()
    if end is None:
        try:
            lines = max(len(file.read_text(encoding="utf-8", errors="replace").splitlines()), 1)
        except OSError:
            lines = 1
    else:
        lines = end - (start or end) + 1
    load = load_policy(root, _registry_check())
    for issue in load.issues:
        print(issue, file=sys.stderr)
    if load.policy is None:
        print("assistant-router: the policy has errors; run 'assistant-router check' for details", file=sys.stderr)
        return 1
    relative = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
    language = args.language or LANGUAGE_BY_SUFFIX.get(file.suffix.lower())
    decision = Router(load.policy).decide(RouteRequest(task, relative, language, lines))
    if args.json:
        print(json.dumps(decision.to_json(), indent=2))
        return 0
    primary = decision.primary
    print(f"task:     {task.value}")
    print(f"file:     {relative or file} ({language or 'unknown language'}, {lines} line{'s' if lines != 1 else ''})")
    print(f"model:    {primary.alias} → {primary.shown_provider_model}")
    print(f"chain:    {' → '.join(f'{m.alias} ({m.shown_provider_model})' for m in decision.chain)}")
    print(f"reason:   {decision.reason}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from assistant_router.cli.terminal import main_run

    args.task = _task(args.task)
    args.file, args.first, args.last = _split_file_arg(args.file)
    args.language = _language(args)
    return main_run(args)


def _task(name: str) -> Task:
    from assistant_router.routing.tasks import Task

    try:
        return Task(name)
    except ValueError:
        raise UsageError(f"unknown task '{name}' (tasks: {', '.join(t.value for t in Task)})") from None


def _language(args: argparse.Namespace) -> str | None:
    """``--language``, or the LSP language id the file's suffix suggests."""
    return args.language or LANGUAGE_BY_SUFFIX.get(args.file.suffix.lower())


def _ask(args: argparse.Namespace) -> int:
    """``ask``: the editor's classifier and confirmation rule, then ``run``."""
    from assistant_router.cli.terminal import main_ask

    if not args.request.strip():
        raise UsageError("the request is empty: say what you want, e.g. assistant-router ask \"why is this None\" f.py")
    args.task = _task(args.task) if args.task is not None else None
    args.file, args.first, args.last = _split_file_arg(args.file)
    args.language = _language(args)
    return main_ask(args)


def _usage(args: argparse.Namespace) -> int:
    import time

    from assistant_router.engine.usage.ledger import open_ledger
    from assistant_router.engine.usage.report import render_html, render_text, summarize
    from assistant_router.routing.config import load_policy

    load = load_policy(None)
    ledger = open_ledger(load.policy.ledger_url if load.policy else None)
    since = time.time() - args.days * 86400
    project = str(args.project.resolve()) if args.project else None
    try:
        summary = summarize(ledger.rows(since, project), since, choices=ledger.choices(since, project),
                            completions=ledger.completions(since // 3600 * 3600, project))  # rows per hour
    finally:
        ledger.close()
    if args.html:
        try:
            args.html.write_text(render_html(summary), encoding="utf-8")
        except OSError as exc:
            print(f"assistant-router: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.html}", file=sys.stderr)
    print(json.dumps(summary, indent=2) if args.json else render_text(summary))
    return 0


def _review(args: argparse.Namespace) -> int:
    from assistant_router.cli.review import Options, main_review
    from assistant_router.delivery.ci_report import FORMATS

    if args.max_usd is not None and args.max_usd < 0:
        raise UsageError("--max-usd must be 0 or more")
    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if args.output is not None and args.format is None:
        raise UsageError("--output writes the --format given: add --format (text, json, sarif, github, gitlab, "
                         "markdown), or use --sarif FILE and the like")
    outputs: list[tuple[str, Path | None]] = [(name, getattr(args, f"{name}_file")) for name in FORMATS
                                              if getattr(args, f"{name}_file") is not None]
    if args.format is not None or not outputs:
        outputs.insert(0, (args.format or "text", args.output))
    return main_review(Options(diff=args.diff, staged=args.staged, rules_only=args.rules_only,
                               all_lines=args.all_lines, fail_on=args.fail_on, max_usd=args.max_usd, jobs=args.jobs,
                               dry_run=args.dry_run, root=args.root, outputs=outputs))


def _schema(args: argparse.Namespace) -> int:
    from assistant_router.routing.schema import main as schema_main

    return schema_main(["--path"] if args.path else [])


def _check(args: argparse.Namespace) -> int:
    from assistant_router.routing.config import load_policy, project_policy_path
    from assistant_router.routing.constants import PROJECT_POLICY_FILENAME

    target = args.directory.resolve()
    if not target.exists():
        print(f"assistant-router: {args.directory} does not exist (give a project folder or its "
              f"{PROJECT_POLICY_FILENAME})", file=sys.stderr)
        return 1
    root = target.parent if target.is_file() else target  # the policy file itself, or its folder
    if target.is_file() and target.name != PROJECT_POLICY_FILENAME:
        print(f"assistant-router: {args.directory} is not a {PROJECT_POLICY_FILENAME}; checking the folder it is in",
              file=sys.stderr)
    load = load_policy(root, _registry_check())
    checked = [str(p) for p in (load.user_config, project_policy_path(root)) if p.exists()]
    for issue in sorted(load.issues, key=lambda i: (i.source, i.line or 0)):  # in the order of each file
        print(issue)
    errors = len(load.errors)
    if load.policy is not None:
        from assistant_router.engine.checks import rules

        settings = load.policy.checks
        rule_set = rules.load_rules(directories=settings.rule_directories, disabled=settings.disabled_rules)
        for problem in rule_set.problems:
            where = f"{problem.path}:{problem.line}" if problem.path else "[checks] disable_rules"
            print(f"{where}: error: {problem.message}")
        errors += len(rule_set.problems)
        checked += [str(d) for d, _ in settings.rule_directories if d.is_dir()]
    if errors:
        print(f"{errors} error{'s' if errors != 1 else ''}; the server would keep its previous policy.")
        return 1
    if not checked:
        print(
            f"no policy files found (looked for {project_policy_path(root)} and {load.user_config});"
            " built-in defaults apply."
        )
    else:
        print(f"OK: {', '.join(checked)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do. The
        # interpreter flushes stdout once more at exit: let that go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except UsageError as exc:
        print(f"assistant-router: {exc}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "route":
        return _route(args)
    if args.command == "check":
        return _check(args)
    if args.command == "run":
        return _run(args)
    if args.command == "usage":
        return _usage(args)
    if args.command == "ask":
        return _ask(args)
    if args.command == "schema":
        return _schema(args)
    if args.command == "review":
        return _review(args)
    if args.command == "check-code":
        from assistant_router.cli.check_code import check_code

        return check_code([_split_file_arg(f) for f in args.files], root=args.root, as_json=args.json,
                          language=args.language)
    if args.command == "completion":
        from assistant_router.cli.completion import script
        from assistant_router.routing.tasks import Task

        print(script(_parser(), args.shell, [task.value for task in Task]), end="")
        return 0
    from assistant_router.cli.demo import run_demo

    return run_demo(delay_ms=args.delay_ms, live=args.live)
