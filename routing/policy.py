"""The routing policy: file schema, layering, validation with locations.

Three layers, lowest precedence first: the built-in defaults (``defaults.toml``
shipped with the package), the user config, the project's
``.assistant-router.toml``. Each layer is parsed with ``tomllib`` and validated
by pydantic models that reject unknown keys; every error carries the file and
the line of the offending key.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator

from assistant_router.routing.check_commands import CheckCommand
from assistant_router.routing.strict import StrictModel, key_text, problems
from assistant_router.routing.tasks import Task
from assistant_router.routing.toml_locations import KeyPath, TomlLocations


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _split_command(value: Any) -> Any:
    if isinstance(value, str):
        import shlex

        return shlex.split(value)
    return value


# Settings that decide where the user's code and keys are sent. A project
# policy arrives with any cloned repository, so only the user config may set
# them, unless it lists the project in `trusted_projects`.
TRUSTED_ONLY_KEYS = ("base_url", "api_key_env", "api_key_command", "headers")

MOCK_PROVIDER = "mock"
OFFLINE_MODEL = "offline"  # the model every alias names in offline mode
OFFLINE_ENV = "ASSISTANT_ROUTER_OFFLINE"  # "1": offline, as `serve --offline` sets it


def shown_name(provider: str, model: str) -> str:
    """How a model is named to the user: the mock provider as itself, never the
    model an alias points it at ("mock"); offline mode as "offline"; any other
    provider's model by its name. Only what is shown: requests and the ledger
    keep the configured model."""
    return MOCK_PROVIDER if provider == MOCK_PROVIDER and model != OFFLINE_MODEL else model


def shown_provider_and_name(provider: str, model: str) -> str:
    """The provider and the model as shown, the mock named once: "mock",
    "mock offline", "anthropic claude-opus-4-6"."""
    name = shown_name(provider, model)
    return provider if name == provider else f"{provider} {name}"


# TOML takes one string where a list is expected; the schema says so too.
OneOrMany = BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])
AliasChain = Annotated[list[str], OneOrMany, Field(min_length=1)]
TaskList = Annotated[list[Task], BeforeValidator(_one_or_many, json_schema_input_type=Task | list[Task]),
                     Field(min_length=1)]
StringList = Annotated[list[str], OneOrMany, Field(min_length=1)]

# The descriptions are what the JSON Schema (routing/schema) and the editor's
# hover show; `shown` defaults are the effective ones, where the file's None
# means "inherited, else this".


def _shown(default: Any) -> dict[str, Any]:
    return {"default": default}


# So that no stream hangs forever when an alias sets none (seconds).
DEFAULT_TIMEOUTS = {"connect": 10.0, "first_token": 180.0, "idle": 90.0, "total": 1200.0}


class Timeouts(StrictModel):
    """Seconds. The server enforces first_token, idle and total on every
    adapter; connect is passed to adapters that open connections."""

    connect: float | None = Field(default=None, gt=0, description="Seconds to open a connection.",
                                  json_schema_extra=_shown(DEFAULT_TIMEOUTS["connect"]))
    first_token: float | None = Field(default=None, gt=0, description="Seconds until the first token arrives.",
                                      json_schema_extra=_shown(DEFAULT_TIMEOUTS["first_token"]))
    idle: float | None = Field(default=None, gt=0, description="Seconds a stream may stay silent between tokens.",
                               json_schema_extra=_shown(DEFAULT_TIMEOUTS["idle"]))
    total: float | None = Field(default=None, gt=0, description="Seconds the whole answer may take.",
                                json_schema_extra=_shown(DEFAULT_TIMEOUTS["total"]))


class PriceTier(StrictModel):
    """Prices that apply once a request's input exceeds ``above_input_tokens``."""

    above_input_tokens: int = Field(gt=0, description="These prices apply above this many input tokens.")
    input: float = Field(ge=0, description="USD per million input tokens.")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cached_input: float | None = Field(default=None, ge=0, description="USD per million cached input tokens.")


class Prices(StrictModel):
    """US dollars per million tokens."""

    input: float | None = Field(default=None, ge=0, description="USD per million input tokens.")
    output: float | None = Field(default=None, ge=0, description="USD per million output tokens.")
    cached_input: float | None = Field(default=None, ge=0,
                                       description="USD per million cached input tokens (default: the input price).")
    tiers: list[PriceTier] = Field(default=[], description="Long-context prices, where a provider has them.")


class TaskBudget(StrictModel):
    """Limits for one task (UTC days and months)."""

    daily_usd: float | None = Field(default=None, ge=0, description="US dollars this task may spend per UTC day.")
    monthly_usd: float | None = Field(default=None, ge=0,
                                      description="US dollars this task may spend per UTC month.")


class Budget(StrictModel):
    """Spending limits for a project (UTC days and months), checked against the ledger."""

    daily_usd: float | None = Field(default=None, ge=0, description="US dollars the project may spend per UTC day; "
                                    "a project may only lower the user config's limit.")
    monthly_usd: float | None = Field(default=None, ge=0, description="US dollars the project may spend per UTC "
                                      "month; a project may only lower the user config's limit.")
    tasks: dict[Task, TaskBudget] = Field(default={}, description="Limits per task: [budget.tasks.review].")
    on_exceed: Literal["refuse", "downgrade"] | None = Field(
        default=None, description="What a request over budget gets: refused, or sent to downgrade_to; a project may "
        "not turn the user config's refuse into downgrade.", json_schema_extra=_shown("refuse"))
    downgrade_to: StringList | None = Field(
        default=None, description="The alias, or ordered chain, used over budget when on_exceed = \"downgrade\".")
    # User config only: how a budget counts an alias whose price is unknown.
    unknown_price: Literal["most_expensive", "refuse"] | None = Field(
        default=None, description="How a budget counts an alias without a price: at its provider's most expensive "
        "known price, or refused.", json_schema_extra=_shown("most_expensive"))


class Privacy(StrictModel):
    """What may be sent to a model."""

    exclude: Annotated[list[str], OneOrMany] = Field(
        default=[], description="Gitignore-style patterns of files never sent; adds to the lower layers' lists.")
    gitignore: bool | None = Field(default=None, description="Never send files that git ignores.",
                                   json_schema_extra=_shown(True))
    redact_secrets: bool | None = Field(default=None, description="Replace keys, tokens and passwords by "
                                        "placeholders before sending.", json_schema_extra=_shown(True))


class Completion(StrictModel):
    """[completion]: inline completion as you type (the ``complete`` task; docs/completion.md)."""

    enabled: bool | None = Field(default=None, description="Answer the editor's inline completion requests; a "
                                 "project may turn them off, not on.", json_schema_extra=_shown(True))
    debounce_ms: int | None = Field(default=None, ge=0, le=2000, description="Milliseconds an automatic request "
                                    "waits for the next keystroke before anything is sent (none for an explicit "
                                    "request).", json_schema_extra=_shown(125))
    first_token_timeout_s: float | None = Field(default=None, gt=0, le=30, description="Seconds a completion "
                                                "model may take to its first token.", json_schema_extra=_shown(1.0))
    deadline_s: float | None = Field(default=None, gt=0, le=60, description="Seconds after which a completion is "
                                     "too late to show; a retry or fallback starts only while it can still arrive "
                                     "in time.", json_schema_extra=_shown(2.5))
    max_output_tokens: int | None = Field(default=None, gt=0, le=4096, description="The longest completion asked "
                                          "for; a project may only lower it.", json_schema_extra=_shown(256))
    max_lines: int | None = Field(default=None, gt=0, le=200, description="Lines a completion may have; it also "
                                  "stops at a blank line or the end of the block.", json_schema_extra=_shown(8))
    prefix_tokens: int | None = Field(default=None, ge=64, le=32000, description="Tokens of code before the "
                                      "cursor sent; a project may only lower it.", json_schema_extra=_shown(1500))
    suffix_tokens: int | None = Field(default=None, ge=0, le=16000, description="Tokens of code after the cursor "
                                      "sent; a project may only lower it.", json_schema_extra=_shown(500))
    neighbours: bool | None = Field(default=None, description="Also send snippets of open files of the same "
                                    "language; only your user config may turn it on.",
                                    json_schema_extra=_shown(False))


class Classifier(StrictModel):
    """[classifier]: what happens when the classifier of free-form requests is unsure."""

    second_opinion: str | None = Field(default=None, min_length=1, description="An alias asked which task a request "
                                       "means when the local classifier is not confident (before asking you); "
                                       "off by default. Its cost is recorded as task 'classify'.")
    second_opinion_timeout_s: float | None = Field(default=None, gt=0, le=60, description="Seconds the second "
                                                   "opinion may take before you are asked instead.",
                                                   json_schema_extra=_shown(3.0))


class Review(StrictModel):
    """[review]: ``assistant-router review`` of a change (docs/ci.md)."""

    skip: Annotated[list[str], OneOrMany] = Field(
        default=[], description="Gitignore-style patterns of changed files a review leaves out, besides lock, "
        "vendored, generated and binary files; adds to the lower layers' lists.")
    include: Annotated[list[str], OneOrMany] = Field(
        default=[], description="Patterns of lock, vendored or generated files to review all the same; only your "
        "user config may set it (it widens what is sent).")
    near_lines: int | None = Field(default=None, ge=0, le=50, description="How many lines from a changed line a "
                                   "model's finding may be and still be reported (--all-lines: any).",
                                   json_schema_extra=_shown(3))


CheckFailure = Literal["escalate", "ask"]
# Tasks whose answers are edits (or carry quick fixes): the ones checked before delivery.
CHECKED_TASKS = (Task.SCAFFOLD, Task.TEST, Task.FIX, Task.REFACTOR, Task.REVIEW)
MAX_ESCALATIONS = 3


class TaskChecks(StrictModel):
    """``[checks.<task>]``: what a failed check does for this task."""

    on_check_failure: CheckFailure | None = Field(
        default=None, description="\"escalate\": the next model of the chain gets the task with the problems; "
        "\"ask\": nothing is escalated, the answer is shown with its problems.")
    max_escalations: int | None = Field(default=None, ge=0, le=MAX_ESCALATIONS,
                                        description="Escalations per task when checks fail.")


class Checks(StrictModel):
    """[checks]: what every edit is checked for before it is applied, and what a failure does."""

    on_check_failure: CheckFailure | None = Field(
        default=None, description="\"escalate\": the next model of the chain gets the task with the problems "
        "found; \"ask\": nothing is escalated, the answer is shown with its problems.",
        json_schema_extra=_shown("escalate"))
    max_escalations: int | None = Field(default=None, ge=0, le=MAX_ESCALATIONS, description="Escalations per task "
                                        "when checks fail (never beyond the route's chain).",
                                        json_schema_extra=_shown(1))
    syntax: bool | None = Field(default=None, description="The edited document must parse with no new syntax "
                                "errors; only your user config may turn it off.", json_schema_extra=_shown(True))
    safety_rules: bool | None = Field(default=None, description="Run the safety rules (shipped, the project's "
                                      ".assistant-router/rules/*.yml, yours) on what an edit adds; only your user "
                                      "config may turn them off.", json_schema_extra=_shown(True))
    disable_rules: Annotated[list[str], OneOrMany] = Field(
        default=[], description="Ids of shipped safety rules not to run (a project may, unless your user config "
        "sets allow_project_disable = false).")
    allow_project_disable: bool | None = Field(default=None, description="User config only: whether a project's "
                                               "disable_rules applies.", json_schema_extra=_shown(True))
    commands: list[CheckCommand] = Field(
        default=[], description="[[checks.commands]]: linters or type checkers run on a scratch copy of each edited "
        "file (name, command, languages, timeout_s, format, copy). Running a program is code execution: only your "
        "user config, or a project it lists in trusted_projects, may set them.")
    scaffold: TaskChecks | None = Field(default=None, description="[checks.scaffold]: overrides for scaffold.")
    test: TaskChecks | None = Field(default=None, description="[checks.test]: overrides for test.")
    fix: TaskChecks | None = Field(default=None, description="[checks.fix]: overrides for fix.")
    refactor: TaskChecks | None = Field(default=None, description="[checks.refactor]: overrides for refactor.")
    review: TaskChecks | None = Field(default=None, description="[checks.review]: overrides for review's quick "
                                      "fixes.")


class ModelEntry(StrictModel):
    """``[models.NAME]`` as written in one file; fields left out are inherited."""

    provider: str | None = Field(default=None, description="The provider: anthropic, openai, mock, or a plugin's "
                                 "name.")
    model: str | None = Field(default=None, description="The provider's model ID.")
    max_output_tokens: int | None = Field(default=None, gt=0, description="The most tokens an answer may have.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0 to 2.")
    timeouts: Timeouts | None = Field(default=None, description="Seconds: connect, first_token, idle, total.")
    retries: int | None = Field(default=None, ge=0, le=10, description="Extra tries of the same model for "
                                "retryable errors.", json_schema_extra=_shown(2))
    retry_backoff: float | None = Field(default=None, gt=0, le=60, description="Seconds before the first retry; "
                                        "doubles each time, with jitter.", json_schema_extra=_shown(0.5))
    max_concurrency: int | None = Field(default=None, gt=0, description="Streams at once for this alias (default: "
                                        "no limit).")
    context_budget: int | None = Field(default=None, gt=0, description="Tokens of context around the selection.",
                                       json_schema_extra=_shown(6000))
    context_window: int | None = Field(default=None, gt=0, description="The model's whole window, prompt plus "
                                       "answer: requests never exceed it.", json_schema_extra=_shown(128_000))
    prices: Prices | None = Field(default=None, description="US dollars per million tokens; a project may not go "
                                  "below the user config's or the shipped price of the same provider and model.")
    api: Literal["responses", "chat", "completions"] | None = Field(
        default=None, description="openai only: the Responses API (default), Chat Completions, or the Completions "
        "API with prompt and suffix (fill-in-the-middle, for the complete task only).")
    options: dict[str, Any] | None = Field(default=None, description="Provider-specific options.")
    # Where code and keys go: user config only (see TRUSTED_ONLY_KEYS).
    base_url: str | None = Field(default=None, description="The endpoint (default: the SDK's *_BASE_URL or the "
                                 "public API).")
    # "": the endpoint takes no key (a local server); otherwise a variable name.
    api_key_env: str | None = Field(default=None, pattern=r"^(?:[A-Za-z_][A-Za-z0-9_]*)?$",
                                    description="The environment variable holding the key; \"\": the endpoint "
                                    "takes no key (default: OPENAI_API_KEY / ANTHROPIC_API_KEY).")
    api_key_command: Annotated[
        list[str], BeforeValidator(_split_command, json_schema_input_type=str | list[str]), Field(min_length=1)
    ] | None = Field(default=None, description="A command that prints the key (a string is split like a shell).")
    headers: dict[str, str] | None = Field(default=None, description="Extra HTTP headers sent with each request.")


class When(StrictModel):
    """A rule's conditions: all optional, all must match."""

    task: TaskList | None = Field(default=None, description="The task is this one (or one of this list).")
    paths: StringList | None = Field(default=None, description="The file's path relative to the workspace root "
                                     "matches a gitignore-style glob.")
    languages: StringList | None = Field(default=None, description="The document's LSP language id is listed "
                                         "(case-insensitive).")
    min_lines: int | None = Field(default=None, ge=0, description="The selection has at least this many lines.")
    max_lines: int | None = Field(default=None, ge=0, description="The selection has at most this many lines.")

    @model_validator(mode="after")
    def _lines_in_order(self) -> When:
        if self.min_lines is not None and self.max_lines is not None and self.min_lines > self.max_lines:
            raise ValueError("min_lines is greater than max_lines")
        return self


class RuleEntry(StrictModel):
    """One ``[[rules]]`` entry: checked in order before ``[routes]``; the first match wins."""

    name: str | None = Field(default=None, description="Shown in the reason of a decision.")
    when: When = Field(default=When(), description="The conditions: task, paths, languages, min_lines, max_lines.")
    use: AliasChain = Field(description="The alias, or ordered chain (primary, then fallbacks), for a match.")


class PolicyFile(StrictModel):
    """One file's contents: the project policy and the user config share it."""

    models: dict[str, ModelEntry] = Field(default={}, description="Model aliases: [models.NAME] defines one or "
                                          "overrides part of one.")
    routes: dict[Task, AliasChain] = Field(default={}, description="Task to alias, or to an ordered chain (primary, "
                                           "then fallbacks).")
    rules: list[RuleEntry] = Field(default=[], description="Checked in order before [routes]; the first match wins.")
    instructions: str | None = Field(default=None, description="A file whose text is added to every task's prompt "
                                     "(a project's must be inside the project).")
    privacy: Privacy = Field(default=Privacy(), description="What may be sent to a model.")
    budget: Budget | None = Field(default=None, description="Spending limits, UTC days and months.")
    classifier: Classifier = Field(default=Classifier(), description="Free-form requests the classifier is unsure "
                                   "about: an optional second opinion from a model.")
    checks: Checks = Field(default=Checks(), description="Checks on every edit before it is applied (syntax, "
                           "safety rules) and what a failed check does (escalate, or ask).")
    completion: Completion = Field(default=Completion(), description="Inline completion as you type: timing, "
                                   "size and what is sent.")
    review: Review = Field(default=Review(), description="Reviews of a change (assistant-router review): which "
                           "files are left out, how near a changed line a finding must be.")
    ledger_url: str | None = Field(default=None, description="Where usage is recorded: sqlite:///path or "
                                   "postgresql://… for a team.")
    trusted_projects: list[str] | None = Field(default=None, description="Projects allowed to set the user-config-"
                                               "only model keys (base_url, api_key_env, api_key_command, headers).")
    offline: bool | None = Field(default=None, description="User config only. Every alias is answered by the "
                                 "offline mock provider: no keys, no network, nothing recorded at a real price "
                                 "(also `assistant-router serve --offline`).")


# --------------------------------------------------------------------------- #
# Resolved, merged policy


@dataclass(frozen=True)
class Origin:
    """Where a setting came from: a file and line, or the built-in defaults."""

    label: str
    line: int | None = None

    def __str__(self) -> str:
        return self.label if self.line is None else f"{self.label}:{self.line}"


@dataclass(frozen=True)
class ModelConfig:
    alias: str
    provider: str
    model: str
    max_output_tokens: int | None = None
    temperature: float | None = None
    timeouts: Timeouts = Timeouts()
    retries: int = 2  # extra tries of the same model for retryable errors
    retry_backoff: float = 0.5  # seconds before the first retry; doubles each time, with jitter
    max_concurrency: int | None = None
    context_budget: int = 6000  # tokens of context around the selection
    context_window: int = 128_000  # the model's whole window: prompt plus answer
    prices: Prices = Prices()
    api: Literal["responses", "chat", "completions"] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_command: tuple[str, ...] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    origin: Origin = Origin("built-in defaults")

    def secrets(self) -> list[str]:
        """Values that must never reach a log or a message (header values)."""
        return [v for v in self.headers.values() if v]

    @property
    def shown_model(self) -> str:
        """The model as named to the user (:func:`shown_name`); ``model`` is what is sent."""
        return shown_name(self.provider, self.model)

    @property
    def shown_provider_model(self) -> str:
        """The provider and the model as named to the user (:func:`shown_provider_and_name`)."""
        return shown_provider_and_name(self.provider, self.model)


@dataclass(frozen=True)
class Route:
    task: Task
    chain: tuple[str, ...]
    origin: Origin


@dataclass(frozen=True)
class Rule:
    index: int  # 1-based within its file
    name: str | None
    when: When
    chain: tuple[str, ...]
    origin: Origin

    def describe(self) -> str:
        label = f'rule #{self.index}' + (f' "{self.name}"' if self.name else "")
        conditions = []
        when = self.when
        if when.task:
            conditions.append("task=" + ",".join(t.value for t in when.task))
        if when.paths:
            conditions.append("paths=" + ",".join(when.paths))
        if when.languages:
            conditions.append("languages=" + ",".join(when.languages))
        if when.min_lines is not None:
            conditions.append(f"min_lines={when.min_lines}")
        if when.max_lines is not None:
            conditions.append(f"max_lines={when.max_lines}")
        if conditions:
            label += f" ({'; '.join(conditions)})"
        return label


@dataclass(frozen=True)
class PrivacySettings:
    exclude: tuple[str, ...] = ()  # gitignore-style, relative to the workspace root: defaults and user config
    # The project's own patterns, matched on their own: a negation there
    # re-includes only what the project itself excluded, never what the user
    # config or the defaults exclude (a file excluded by either list is not sent).
    project_exclude: tuple[str, ...] = ()
    gitignore: bool = True
    redact_secrets: bool = True


@dataclass(frozen=True)
class BudgetSettings:
    daily_usd: float | None = None
    monthly_usd: float | None = None
    tasks: dict[Task, TaskBudget] = field(default_factory=dict)
    on_exceed: Literal["refuse", "downgrade"] = "refuse"
    downgrade_to: tuple[str, ...] = ()
    origin: Origin | None = None
    # Where each limit that applies was set ("daily_usd", "tasks.review.monthly_usd"):
    # a project may lower a limit, so limits can come from different files.
    origins: dict[str, Origin] = field(default_factory=dict)
    # An alias without a price counts as its provider's most expensive known
    # price, or (user config: unknown_price = "refuse") is refused.
    unknown_price: Literal["most_expensive", "refuse"] = "most_expensive"

    @property
    def any(self) -> bool:
        return self.daily_usd is not None or self.monthly_usd is not None or bool(self.tasks)


@dataclass(frozen=True)
class ClassifierSettings:
    second_opinion: str | None = None  # an alias, or None: ask the user straight away
    second_opinion_timeout_s: float = 3.0
    origin: Origin | None = None


@dataclass(frozen=True)
class CompletionSettings:
    """[completion], merged: see :class:`Completion` for each key."""

    enabled: bool = True
    debounce_ms: int = 125  # a little over the gap between keystrokes at 10 a second
    first_token_timeout_s: float = 1.0
    deadline_s: float = 2.5
    max_output_tokens: int = 256
    max_lines: int = 8
    prefix_tokens: int = 1500
    suffix_tokens: int = 500
    neighbours: bool = False


@dataclass(frozen=True)
class ReviewSettings:
    """[review], merged: see :class:`Review` for each key."""

    skip: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    near_lines: int = 3
    skip_origin: str = "[review] skip"


# What a project may only lower (or turn off): it widens what is sent, or its cost.
_COMPLETION_CEILINGS = ("enabled", "max_output_tokens", "prefix_tokens", "suffix_tokens", "neighbours")


@dataclass(frozen=True)
class CheckSettings:
    on_check_failure: CheckFailure = "escalate"
    max_escalations: int = 1
    syntax: bool = True
    safety_rules: bool = True
    disabled_rules: frozenset[str] = frozenset()
    # Where rule files are read from, with who wrote them: the user's rules
    # directory (next to the user config), then the project's
    # .assistant-router/rules; set by routing/config.py load_policy.
    rule_directories: tuple[tuple[Path, Literal["project", "user"]], ...] = ()
    tasks: dict[Task, TaskChecks] = field(default_factory=dict)
    # Check commands: from the user config, or a project it trusts (running a
    # program is code execution); a higher layer's list replaces a lower one's.
    commands: tuple[CheckCommand, ...] = ()

    def failure_action(self, task: Task) -> CheckFailure:
        own = self.tasks.get(task)
        return own.on_check_failure if own is not None and own.on_check_failure else self.on_check_failure

    def escalations(self, task: Task) -> int:
        own = self.tasks.get(task)
        return own.max_escalations if own is not None and own.max_escalations is not None else self.max_escalations


@dataclass(frozen=True)
class Policy:
    models: dict[str, ModelConfig]
    routes: dict[Task, Route]
    rules: tuple[Rule, ...]
    sources: tuple[str, ...]  # labels of the layers that made it, lowest first
    privacy: PrivacySettings = PrivacySettings()
    instructions: Path | None = None  # resolved path of the instructions file
    budget: BudgetSettings = BudgetSettings()
    ledger_url: str | None = None
    # Aliases priced by a project alone (no user config or shipped price for
    # their provider and model): a budget counts them as unknown prices.
    unvouched_prices: frozenset[str] = frozenset()
    classifier: ClassifierSettings = ClassifierSettings()
    checks: CheckSettings = CheckSettings()
    completion: CompletionSettings = CompletionSettings()
    review: ReviewSettings = ReviewSettings()


@dataclass(frozen=True)
class PolicyIssue:
    """A problem in one policy file, located where possible."""

    source: str  # a file path, or "built-in defaults"
    message: str
    line: int | None = None
    key: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}: {self.severity}{key}: {self.message}"


@dataclass(frozen=True)
class Layer:
    label: str
    path: Path | None
    text: str
    role: Literal["builtin", "user", "project"] = "project"
    problem: str | None = None  # why the file could not be read (then text is empty)
    problem_line: int | None = None


# A hook through which the caller (who knows the provider registry) checks a
# resolved model: it returns (key below the model, message, severity) tuples.
ModelProblem = tuple[KeyPath, str, Literal["error", "warning"]]
ModelCheck = Callable[[ModelConfig], Iterable[ModelProblem]]


def builtin_layer() -> Layer:
    text = resources.files(__package__).joinpath("defaults.toml").read_text(encoding="utf-8")
    return Layer("built-in defaults", None, text, "builtin")


def file_layer(path: Path, role: Literal["user", "project"]) -> Layer | None:
    """The layer for ``path``, or None when the file does not exist.

    A file that cannot be read (too large, not UTF-8, a directory, no
    permission) is a layer whose ``problem`` says so, never an exception."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return Layer(str(path), path, "", role, f"cannot read the file: {getattr(exc, 'strerror', None) or exc}")
    if len(data) > MAX_FILE_BYTES:
        return Layer(str(path), path, "", role, f"the file is larger than the limit of {MAX_FILE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return Layer(str(path), path, "", role,
                     f"{path.name} is not valid UTF-8: byte 0x{data[exc.start]:02X} at line {line}, column {column}",
                     line)
    return Layer(str(path), path, text, role)


# Limits on one policy file, so a hostile file (cloned with a repository) is a
# diagnostic and not a stalled or crashed server. Documented in README.md.
MAX_FILE_BYTES = 1_000_000  # the whole file
MAX_DEPTH = 16  # tables and arrays nested in one another, counted from the top level
MAX_ENTRIES = 1_000  # keys of one table, or items of one array (rules, models, exclude, …)
MAX_STRING_CHARS = 10_000  # one string value or key
_MAX_LIMIT_ISSUES = 10


def limit_issues(layer: Layer, data: dict[str, Any], locations: TomlLocations) -> list[PolicyIssue]:
    """Where the parsed file exceeds a limit (walked without recursion)."""
    issues: list[PolicyIssue] = []

    def issue(path: KeyPath, message: str, first: str | int | None = None) -> None:
        line = locations.line_of(path)
        if line is None and first is not None:  # [[rules]] and [models.x] name no line of their parent
            line = locations.line_of((*path, first))
        issues.append(PolicyIssue(layer.label, message, line, key_text(path) or None))

    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack and len(issues) < _MAX_LIMIT_ISSUES:
        path, value = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                issue(path, f"a string of {len(value):,} characters; the limit is {MAX_STRING_CHARS:,}")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if len(path) >= MAX_DEPTH:
            issue(path, f"tables and arrays are nested deeper than the limit of {MAX_DEPTH} levels")
            continue
        if len(value) > MAX_ENTRIES:
            what = "keys" if isinstance(value, dict) else "items"
            first = next(iter(value)) if isinstance(value, dict) else 0
            issue(path, f"{len(value):,} {what} in {key_text(path) or 'the file'}; the limit is {MAX_ENTRIES:,}",
                  first)
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_STRING_CHARS:
                    issue(path, f"a key of {len(key):,} characters; the limit is {MAX_STRING_CHARS:,}")
                    continue
                stack.append(((*path, key), item))
        else:
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return issues


def _deep_line(text: str) -> int | None:
    """The line where brackets first nest deeper than MAX_DEPTH (strings and
    comments roughly skipped), for a file too deep for the TOML parser."""
    depth, line, quote = 0, 1, ""
    for char in text:
        if char == "\n":
            line += 1
            quote = ""
        elif quote:
            if char == quote[0] and quote != "#":
                quote = ""
        elif char in "\"'#":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif char in "]}":
            depth -= 1
    return None


@dataclass
class _Parsed:
    layer: Layer
    file: PolicyFile
    locations: TomlLocations

    def origin(self, path: KeyPath) -> Origin:
        line = self.locations.line_of(path) if self.layer.path is not None else None
        return Origin(self.layer.label, line)


def _pydantic_issues(layer: Layer, error: ValidationError, locations: TomlLocations) -> list[PolicyIssue]:
    issues = []
    for problem in problems(error):
        message = problem.message
        if problem.unknown_key and problem.loc:
            allowed = _allowed_keys(problem.loc[:-1])
            hint = difflib.get_close_matches(str(problem.loc[-1]), allowed, n=1)
            if hint:
                message += f"; did you mean '{hint[0]}'?"
            elif allowed:
                message += f" (allowed: {', '.join(sorted(allowed))})"
        issues.append(PolicyIssue(layer.label, message, locations.line_of(problem.loc), problem.key or None))
    return issues


def _allowed_keys(parent: KeyPath) -> list[str]:
    """The keys a table at ``parent`` accepts, for "did you mean" hints."""
    names = [p for p in parent if isinstance(p, str)]
    model: type[BaseModel] = PolicyFile
    if not names:
        return list(PolicyFile.model_fields)
    if names[0] == "privacy":
        model = Privacy
    elif names[0] == "budget":
        model = TaskBudget if len(names) > 2 else Budget
    elif names[0] == "classifier":
        model = Classifier
    elif names[0] == "completion":
        model = Completion
    elif names[0] == "checks":
        model = (CheckCommand if names[1] == "commands" else TaskChecks) if len(names) > 1 else Checks
    elif names[0] == "models":
        model = ModelEntry
        if names[-1] == "timeouts":
            model = Timeouts
        elif names[-1] == "prices":
            model = Prices
    elif names[0] == "rules":
        model = When if names[-1] == "when" else RuleEntry
    elif names[0] == "routes":
        return [t.value for t in Task]
    return list(model.model_fields)


def parse_layer(layer: Layer) -> tuple[_Parsed | None, list[PolicyIssue]]:
    if layer.problem is not None:
        return None, [PolicyIssue(layer.label, layer.problem, layer.problem_line)]
    if len(layer.text) > MAX_FILE_BYTES or len(layer.text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return None, [PolicyIssue(layer.label, f"the file is larger than the limit of {MAX_FILE_BYTES:,} bytes")]
    try:
        data = tomllib.loads(layer.text)
    except RecursionError:
        return None, [PolicyIssue(layer.label, f"tables and arrays are nested deeper than the limit of {MAX_DEPTH} "
                                  "levels", _deep_line(layer.text))]
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            import re

            found = re.search(r"at line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            if line is None and "(at end of document)" in str(exc):  # the last line with text on it
                line = layer.text.rstrip().count("\n") + 1
        return None, [PolicyIssue(layer.label, f"invalid TOML: {exc}", line)]
    locations = TomlLocations(layer.text)
    if too_much := limit_issues(layer, data, locations):
        return None, too_much
    try:
        parsed = PolicyFile.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_issues(layer, exc, locations)
    return _Parsed(layer, parsed, locations), []


def _compile_paths(rule: Rule) -> str | None:
    """Check the rule's globs compile; returns an error message otherwise."""
    from assistant_router.routing.matching import compile_paths

    try:
        compile_paths(rule.when.paths or [])
    except Exception as exc:  # pathspec raises several types for bad patterns
        return f"invalid path pattern: {exc}"
    return None


def _trusted_projects(parsed_layers: list[_Parsed]) -> set[Path]:
    paths: set[Path] = set()
    for parsed in parsed_layers:
        if parsed.layer.role == "user":
            paths.update(Path(p).expanduser().resolve() for p in parsed.file.trusted_projects or [])
    return paths


def _is_trusted(layer: Layer, trusted: set[Path]) -> bool:
    return layer.path is not None and layer.path.parent.resolve() in trusted


def build_policy(
    layers: Iterable[Layer], check_model: ModelCheck | None = None
) -> tuple[Policy | None, list[PolicyIssue]]:
    """Merge the layers (lowest precedence first) into one policy.

    Returns the policy (None if any layer has an error) and every issue found,
    warnings included.
    """
    issues: list[PolicyIssue] = []
    parsed_layers: list[_Parsed] = []
    for layer in layers:
        parsed, layer_issues = parse_layer(layer)
        issues.extend(layer_issues)
        if parsed is not None:
            parsed_layers.append(parsed)
    if any(i.severity == "error" for i in issues):
        return None, issues

    trusted = _trusted_projects(parsed_layers)

    # Models merge field by field (tables key by key): a project can change
    # just the model ID of an alias.
    merged: dict[str, dict[str, Any]] = {}
    model_origin: dict[str, tuple[_Parsed, Origin]] = {}
    # The defaults and the user config alone: the prices a project may not undercut.
    trusted_merged: dict[str, dict[str, Any]] = {}
    price_origin: dict[str, Origin] = {}
    project_priced: dict[str, _Parsed] = {}  # aliases whose prices a project sets
    user_priced: set[str] = set()  # aliases whose prices the user config sets
    for parsed in parsed_layers:
        layer = parsed.layer
        for alias, entry in parsed.file.models.items():
            values = entry.model_dump(exclude_none=True)
            if layer.role != "project":
                _merge_fields(trusted_merged.setdefault(alias, {}), values)
                if entry.prices is not None:
                    price_origin[alias] = parsed.origin(("models", alias, "prices"))
                    if layer.role == "user":
                        user_priced.add(alias)
            elif entry.prices is not None:
                project_priced[alias] = parsed
            if layer.role == "project" and not _is_trusted(layer, trusted):
                for key in TRUSTED_ONLY_KEYS:
                    if values.pop(key, None) is not None:
                        path: KeyPath = ("models", alias, key)
                        issues.append(
                            PolicyIssue(
                                layer.label,
                                f"'{key}' is ignored: it decides where your code and API key are sent, so only your "
                                "user config may set it; to allow it here, add this project to trusted_projects "
                                "in your user config",
                                parsed.locations.line_of(path),
                                key_text(path),
                                "warning",
                            )
                        )
            _merge_fields(merged.setdefault(alias, {}), values)
            model_origin[alias] = (parsed, parsed.origin(("models", alias)))
        if layer.role == "project" and parsed.file.offline is not None:
            issues.append(PolicyIssue(layer.label, "'offline' is ignored here: only the user config (or "
                                      "`serve --offline`) can take every model offline",
                                      parsed.locations.line_of(("offline",)), "offline", "warning"))
        if layer.role == "project" and parsed.file.trusted_projects is not None:
            issues.append(
                PolicyIssue(
                    layer.label,
                    "'trusted_projects' is ignored here: only the user config can trust a project",
                    parsed.locations.line_of(("trusted_projects",)),
                    "trusted_projects",
                    "warning",
                )
            )

    floors = _price_floors(trusted_merged, price_origin)
    offline = os.environ.get(OFFLINE_ENV) == "1" or any(
        p.file.offline for p in parsed_layers if p.layer.role != "project")
    unvouched: set[str] = set()
    models: dict[str, ModelConfig] = {}
    for alias, fields in merged.items():
        parsed, origin = model_origin[alias]
        missing = [k for k in ("provider", "model") if k not in fields]
        if missing:
            issues.append(
                PolicyIssue(
                    parsed.layer.label,
                    f"model alias '{alias}' needs {' and '.join(missing)}",
                    origin.line,
                    f"models.{alias}",
                )
            )
            continue
        if offline:  # every alias answered offline: named so wherever a model is named
            fields = {**fields, "provider": MOCK_PROVIDER, "model": OFFLINE_MODEL}
            for key in ("base_url", "api_key_env", "api_key_command", "headers", "api", "prices"):
                fields.pop(key, None)
        prices = Prices(**fields.get("prices", {}))
        if fields["provider"] == MOCK_PROVIDER and alias not in user_priced and alias not in project_priced:
            # The offline provider costs nothing: never a real model's price inherited with the alias.
            prices = Prices(input=0.0, output=0.0)
        if alias in project_priced:
            pair_floors = floors.get((fields["provider"], fields["model"]), [])
            for floor, floor_origin in pair_floors:
                prices = _at_least(prices, floor, floor_origin, project_priced[alias], alias, issues)
            if not pair_floors:
                unvouched.add(alias)
        command = fields.get("api_key_command")
        config = ModelConfig(
            alias=alias,
            provider=fields["provider"],
            model=fields["model"],
            max_output_tokens=fields.get("max_output_tokens"),
            temperature=fields.get("temperature"),
            timeouts=Timeouts(**{**DEFAULT_TIMEOUTS, **fields.get("timeouts", {})}),
            retries=fields.get("retries", ModelConfig.retries),
            retry_backoff=fields.get("retry_backoff", ModelConfig.retry_backoff),
            max_concurrency=fields.get("max_concurrency"),
            context_budget=fields.get("context_budget", ModelConfig.context_budget),
            context_window=fields.get("context_window", ModelConfig.context_window),
            prices=prices,
            api=fields.get("api"),
            options=fields.get("options", {}),
            base_url=fields.get("base_url"),
            api_key_env=fields.get("api_key_env"),
            api_key_command=tuple(command) if command else None,
            headers=fields.get("headers", {}),
            origin=origin,
        )
        models[alias] = config
        if check_model is not None:
            for subkey, message, severity in check_model(config):
                path = ("models", alias, *subkey)
                # Point at the layer that set the key, if it is not the last one.
                owner = next(
                    (
                        p
                        for p in reversed(parsed_layers)
                        if p.locations.line_of(path) is not None and alias in p.file.models
                    ),
                    parsed,
                )
                line = owner.locations.line_of(path) if owner.layer.path is not None else None
                issues.append(PolicyIssue(owner.layer.label, message, line, key_text(path), severity))

    def check_chain(parsed: _Parsed, chain: list[str], path: KeyPath) -> None:
        for alias in chain:
            if alias not in merged:
                hint = difflib.get_close_matches(alias, list(merged), n=1)
                suffix = f"; did you mean '{hint[0]}'?" if hint else f" (defined: {', '.join(sorted(merged))})"
                issues.append(
                    PolicyIssue(
                        parsed.layer.label,
                        f"unknown model alias '{alias}'{suffix}",
                        parsed.locations.line_of(path),
                        key_text(path),
                    )
                )

    routes: dict[Task, Route] = {}
    for parsed in parsed_layers:
        for task, chain in parsed.file.routes.items():
            check_chain(parsed, chain, ("routes", task.value))
            routes[task] = Route(task, tuple(chain), parsed.origin(("routes", task.value)))
            fim = [a for a in chain if task is not Task.COMPLETE and merged.get(a, {}).get("api") == "completions"]
            if fim:
                path = ("routes", task.value)
                issues.append(PolicyIssue(parsed.layer.label, f"'{fim[0]}' speaks the Completions API (api = "
                                          f"\"completions\", fill-in-the-middle), which only suits the complete "
                                          f"task: {task.value} needs a chat model", parsed.locations.line_of(path),
                                          key_text(path), "warning"))

    # Rules of the higher-precedence layer are checked first.
    rules: list[Rule] = []
    for parsed in reversed(parsed_layers):
        for index, rule_entry in enumerate(parsed.file.rules):
            check_chain(parsed, rule_entry.use, ("rules", index, "use"))
            rule = Rule(index + 1, rule_entry.name, rule_entry.when, tuple(rule_entry.use),
                        parsed.origin(("rules", index)))
            if (problem := _compile_paths(rule)) is not None:
                path = ("rules", index, "when", "paths")
                issues.append(PolicyIssue(parsed.layer.label, problem, parsed.locations.line_of(path), key_text(path)))
            rules.append(rule)

    missing_routes = [t.value for t in Task if t not in routes]
    if missing_routes:
        issues.append(PolicyIssue("built-in defaults", f"no route for: {', '.join(missing_routes)}"))

    privacy, instructions = _privacy_and_instructions(parsed_layers, issues)
    classifier = ClassifierSettings()
    for parsed in parsed_layers:  # key by key, the higher layer winning
        settings = parsed.file.classifier
        if settings.second_opinion is not None:
            check_chain(parsed, [settings.second_opinion], ("classifier", "second_opinion"))
            classifier = replace(classifier, second_opinion=settings.second_opinion,
                                 origin=parsed.origin(("classifier", "second_opinion")))
        if settings.second_opinion_timeout_s is not None:
            classifier = replace(classifier, second_opinion_timeout_s=settings.second_opinion_timeout_s)
    checks = _checks(parsed_layers, issues, trusted)
    completion = _completion(parsed_layers, issues)
    review = _review(parsed_layers, issues)
    budget = _budget(parsed_layers, merged, issues)
    if budget.any:
        for alias in sorted(unvouched):
            parsed = project_priced[alias]
            path = ("models", alias, "prices")
            unvouched_config = models.get(alias)
            name = f"{unvouched_config.provider} {unvouched_config.model}" if unvouched_config else alias
            issues.append(PolicyIssue(
                parsed.layer.label, f"under the budget, {name} counts at its provider's most expensive known price, "
                "not at this file's prices: only your user config (or the shipped defaults) may price a model a "
                "budget relies on", parsed.locations.line_of(path), key_text(path), "warning"))
    ledger_url = None
    for parsed in parsed_layers:
        if parsed.file.ledger_url is None:
            continue
        if parsed.layer.role == "project":
            issues.append(PolicyIssue(parsed.layer.label, "'ledger_url' is ignored here: only your user config may "
                                      "choose where usage is recorded", parsed.locations.line_of(("ledger_url",)),
                                      "ledger_url", "warning"))
            continue
        line = parsed.locations.line_of(("ledger_url",)) if parsed.layer.path is not None else None
        url_problem = ledger_url_problem(parsed.file.ledger_url)
        if url_problem is not None:
            issues.append(PolicyIssue(parsed.layer.label, url_problem[0], line, "ledger_url", url_problem[1]))
        if url_problem is None or url_problem[1] == "warning":
            ledger_url = parsed.file.ledger_url
    if any(i.severity == "error" for i in issues):
        return None, issues
    sources = tuple(p.layer.label for p in parsed_layers)
    return Policy(models, routes, tuple(rules), sources, privacy, instructions, budget, ledger_url,
                  frozenset(unvouched), classifier, checks, completion, review), issues


def _review(parsed_layers: list[_Parsed], issues: list[PolicyIssue]) -> ReviewSettings:
    """[review]: skip patterns add up; include (which widens what is sent)
    only from the user config; near_lines, the higher layer winning."""
    skip: list[str] = []
    include: list[str] = []
    near_lines = ReviewSettings.near_lines
    labels: list[str] = []
    for parsed in parsed_layers:
        file = parsed.file.review
        if file.skip:
            skip += file.skip
            labels.append(parsed.layer.label)
        if file.include:
            if parsed.layer.role == "project":
                issues.append(PolicyIssue(parsed.layer.label, "'review.include' is ignored here: reviewing files "
                                          "the defaults leave out widens what is sent, so only your user config "
                                          "may", parsed.locations.line_of(("review", "include")), "review.include",
                                          "warning"))
            else:
                include += file.include
        if file.near_lines is not None:
            near_lines = file.near_lines
    origin = f"[review] skip in {', '.join(labels)}" if labels else ReviewSettings.skip_origin
    return ReviewSettings(tuple(skip), tuple(include), near_lines, origin)


def _completion(parsed_layers: list[_Parsed], issues: list[PolicyIssue]) -> CompletionSettings:
    """[completion], key by key, the higher layer winning; a project may only
    lower what widens what is sent or what it costs (or turn it off)."""
    settings = CompletionSettings()
    for parsed in parsed_layers:
        file = parsed.file.completion
        values: dict[str, Any] = {}
        for key in Completion.model_fields:
            value = getattr(file, key)
            if value is None:
                continue
            current = getattr(settings, key)
            if parsed.layer.role == "project" and key in _COMPLETION_CEILINGS and value > current:
                issues.append(PolicyIssue(parsed.layer.label, f"'completion.{key} = {str(value).lower()}' is ignored: "
                                          f"a project may lower it (now {str(current).lower()}), only your user "
                                          "config may raise it", parsed.locations.line_of(("completion", key)),
                                          f"completion.{key}", "warning"))
                continue
            values[key] = value
        settings = replace(settings, **values)
    return settings


def _checks(parsed_layers: list[_Parsed], issues: list[PolicyIssue], trusted: set[Path]) -> CheckSettings:
    """[checks], key by key, the higher layer winning; a project may not turn
    checks off, and its disable_rules applies only while the user config allows it."""
    settings = CheckSettings()
    project_disabled: list[tuple[_Parsed, list[str]]] = []
    disabled: set[str] = set()
    allow_project_disable = True
    for parsed in parsed_layers:
        layer, file = parsed.layer, parsed.file.checks
        role = layer.role
        values: dict[str, Any] = {}
        if file.on_check_failure is not None:
            values["on_check_failure"] = file.on_check_failure
        if file.max_escalations is not None:
            values["max_escalations"] = file.max_escalations
        for key in ("syntax", "safety_rules"):
            value = getattr(file, key)
            if value is None:
                continue
            if role == "project" and value is False:
                issues.append(PolicyIssue(layer.label, f"'checks.{key} = false' is ignored: only your user config "
                                          "may turn off the checks that keep broken or unsafe edits out of your files",
                                          parsed.locations.line_of(("checks", key)), f"checks.{key}", "warning"))
                continue
            values[key] = value
        if file.commands:
            if role == "project" and not _is_trusted(layer, trusted):
                issues.append(PolicyIssue(layer.label, "'checks.commands' is ignored: running a program is code "
                                          "execution, so only your user config may set check commands; to allow "
                                          "this project's, add it to trusted_projects in your user config",
                                          parsed.locations.line_of(("checks", "commands", 0)), "checks.commands",
                                          "warning"))
            else:
                values["commands"] = tuple(file.commands)
        if file.allow_project_disable is not None:
            if role == "project":
                issues.append(PolicyIssue(layer.label, "'checks.allow_project_disable' is ignored here: only your "
                                          "user config decides whether a project may switch off safety rules",
                                          parsed.locations.line_of(("checks", "allow_project_disable")),
                                          "checks.allow_project_disable", "warning"))
            else:
                allow_project_disable = file.allow_project_disable
        if file.disable_rules:
            if role == "project":
                project_disabled.append((parsed, list(file.disable_rules)))
            else:
                disabled.update(file.disable_rules)
        tasks = dict(settings.tasks)
        for task in CHECKED_TASKS:
            own = getattr(file, task.value)
            if own is not None:
                before = tasks.get(task, TaskChecks())
                tasks[task] = before.model_copy(update=own.model_dump(exclude_none=True))
        settings = replace(settings, tasks=tasks, **values)
    for parsed, ids in project_disabled:
        if allow_project_disable:
            disabled.update(ids)
        else:
            issues.append(PolicyIssue(parsed.layer.label, "'checks.disable_rules' is ignored: your user config sets "
                                      "allow_project_disable = false", parsed.locations.line_of(
                                          ("checks", "disable_rules")), "checks.disable_rules", "warning"))
    return replace(settings, disabled_rules=frozenset(disabled))


def _merge_fields(fields: dict[str, Any], values: dict[str, Any]) -> None:
    """One layer's keys of an alias over the lower layers': tables key by key."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(fields.get(key), dict):
            fields[key] = {**fields[key], **value}
        else:
            fields[key] = value


def _price_floors(
    trusted: dict[str, dict[str, Any]], origins: dict[str, Origin]
) -> dict[tuple[str, str], list[tuple[Prices, Origin]]]:
    """Per provider and model, the prices the defaults and the user config set."""
    floors: dict[tuple[str, str], list[tuple[Prices, Origin]]] = {}
    for alias, fields in trusted.items():
        if "provider" in fields and "model" in fields and fields.get("prices") and alias in origins:
            floors.setdefault((fields["provider"], fields["model"]), []).append(
                (Prices(**fields["prices"]), origins[alias]))
    return floors


def _at_least(
    prices: Prices, floor: Prices, floor_origin: Origin, parsed: _Parsed, alias: str, issues: list[PolicyIssue]
) -> Prices:
    """``prices`` (set by a project) raised to ``floor`` (the user config's or
    the shipped prices of the same provider and model) wherever lower, with a
    warning on the project's line: a project may not make a model look cheaper
    than the user's budget counts it."""
    from assistant_router.engine.usage.prices import rates_for

    def warn(key: str, shown: str) -> None:
        path: KeyPath = ("models", alias, "prices", key)
        line = parsed.locations.line_of((*path, 0) if key == "tiers" else path)  # [[…tiers]] is an array
        issues.append(PolicyIssue(
            parsed.layer.label, f"prices.{key} {shown} is ignored: it is lower than the price at {floor_origin} for "
            "the same model, which applies; only your user config may lower a price",
            line, key_text(path), "warning"))

    values: dict[str, Any] = {}
    for key in ("input", "output"):
        own, least = getattr(prices, key), getattr(floor, key)
        if least is not None and (own is None or own < least):
            if own is not None:
                warn(key, f"= {own:g}")
            own = least
        values[key] = own
    own_cached = prices.cached_input
    least_cached = floor.cached_input if floor.cached_input is not None else floor.input
    if own_cached is not None and least_cached is not None and own_cached < least_cached:
        warn("cached_input", f"= {own_cached:g}")
        own_cached = floor.cached_input
    values["cached_input"] = own_cached
    raised = Prices(**values, tiers=prices.tiers)

    def cheaper(at: int) -> bool:
        mine, least = rates_for(raised, at), rates_for(floor, at)
        pairs = [(mine.input, least.input), (mine.output, least.output),
                 (mine.cached_input if mine.cached_input is not None else mine.input,
                  least.cached_input if least.cached_input is not None else least.input)]
        return any(a is not None and b is not None and a < b for a, b in pairs)

    breakpoints = [0, *(t.above_input_tokens + 1 for t in (*raised.tiers, *floor.tiers))]
    if raised.tiers != floor.tiers and any(cheaper(at) for at in breakpoints):
        warn("tiers", "(a long-context price)")
        raised = Prices(**values, tiers=floor.tiers)
    return raised


LEDGER_SCHEMES = ("sqlite", "postgresql", "postgres")
_LEDGER_FORMS = "use sqlite:///absolute/path, sqlite://~/path or postgresql://user@host/db"


def ledger_url_problem(url: str) -> tuple[str, Literal["error", "warning"]] | None:
    """What is wrong with a ``ledger_url``, checked when the policy loads so a
    mistake is reported on its line instead of failing the first recorded task.

    Accepts what ``engine.usage.ledger.open_ledger`` opens: ``sqlite://PATH``
    and libpq URLs (``postgresql://`` or ``postgres://``). Messages never
    repeat a password.
    """
    scheme, separator, rest = url.partition("://")
    if not url.strip():
        return f"ledger_url is empty: leave it out for the default ledger, or {_LEDGER_FORMS}", "error"
    if not separator or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        hint = "sqlite://" + url if url.startswith(("/", "~")) else None
        if hint is None and (head := url.split(":", 1)[0].lower()) in LEDGER_SCHEMES:
            hint = f"{head}://…"
        return (f"ledger_url {_without_password(url)!r} is not a URL: "
                + (f"write {hint!r}" if hint else _LEDGER_FORMS)), "error"
    if scheme == "sqlite":
        if not rest or rest.endswith("/"):
            return f"ledger_url {url!r} names no SQLite file: {_LEDGER_FORMS}", "error"
        if "?" in rest or "#" in rest:
            return (f"ledger_url {url!r}: SQLite URL parameters are not supported (the path is taken as written); "
                    "name just the file"), "error"
        if rest.startswith("/~"):
            return f"ledger_url {url!r}: write sqlite://~{rest[2:]} for a file in your home directory", "error"
        if not Path(rest).expanduser().is_absolute():
            return (f"ledger_url {url!r} is a relative path, found from wherever the editor started the server; "
                    "use sqlite:///absolute/path or sqlite://~/path"), "warning"
        return None
    if scheme in ("postgresql", "postgres"):
        return _postgres_url_problem(url)
    close = difflib.get_close_matches(scheme.lower(), LEDGER_SCHEMES, n=1)
    suggestion = f"; did you mean '{close[0]}://'?" if close else f": {_LEDGER_FORMS}"
    return f"unsupported ledger_url scheme '{scheme}' (supported: sqlite, postgresql){suggestion}", "error"


def _without_password(url: str) -> str:
    import re

    return re.sub(r"^([^:/?#]+://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)


def _postgres_url_problem(url: str) -> tuple[str, Literal["error", "warning"]] | None:
    """Parsed by libpq (through psycopg, imported only for such a URL)."""
    from psycopg import Error as PsycopgError
    from psycopg.conninfo import conninfo_to_dict

    shown = _without_password(url)
    try:
        params = conninfo_to_dict(url)
    except PsycopgError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = url.partition("://")[2].rpartition("@")[0].partition(":")[2]
        if password:
            detail = detail.replace(password, "***")
        return f"ledger_url {shown!r} is not a valid PostgreSQL URL: {detail}", "error"
    for port in str(params.get("port") or "").split(","):
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"ledger_url {shown!r}: the port {port!r} is not a number from 1 to 65535", "error"
    return None


def _budget(parsed_layers: list[_Parsed], aliases: dict[str, Any], issues: list[PolicyIssue]) -> BudgetSettings:
    """The budget, key by key over the layers. The user config may set
    anything; a project may only tighten it: each limit is the lower of the
    user's and the project's, ``on_exceed = "refuse"`` stays refuse, and
    ``unknown_price`` is the user's alone. What a project may not do is
    ignored with a warning on its line."""
    limits: dict[str, tuple[float, Origin]] = {}
    settings: dict[str, Any] = {}
    origin: Origin | None = None
    user_refuses = False  # the user config set limits (refuse is the default) or on_exceed = "refuse"

    def warn(parsed: _Parsed, path: KeyPath, message: str) -> None:
        issues.append(PolicyIssue(parsed.layer.label, message, parsed.locations.line_of(path), key_text(path),
                                  "warning"))

    for parsed in parsed_layers:
        budget = parsed.file.budget
        if budget is None:
            continue
        project = parsed.layer.role == "project"
        origin = parsed.origin(("budget",))
        layer_limits: list[tuple[KeyPath, float]] = [
            (("budget", name), value) for name in ("daily_usd", "monthly_usd")
            if (value := getattr(budget, name)) is not None
        ]
        for task, task_budget in budget.tasks.items():
            layer_limits += [(("budget", "tasks", task.value, name), value) for name in ("daily_usd", "monthly_usd")
                             if (value := getattr(task_budget, name)) is not None]
        for path, value in layer_limits:
            key = key_text(path[1:])
            current = limits.get(key)
            if project and current is not None and value > current[0]:
                warn(parsed, path, f"{key} = {value:g} is ignored: the limit ${current[0]:g} at {current[1]} "
                     "applies; a project may only lower a limit your user config sets")
                continue
            limits[key] = (value, parsed.origin(path))
        if budget.on_exceed is not None:
            if project and budget.on_exceed == "downgrade" and user_refuses:
                warn(parsed, ("budget", "on_exceed"), 'on_exceed = "downgrade" is ignored: your user config refuses '
                     "a request over budget, and a project may not switch that to downgrade")
            else:
                settings["on_exceed"] = budget.on_exceed
        if budget.downgrade_to:
            settings["downgrade_to"] = budget.downgrade_to
            for alias in budget.downgrade_to:
                if alias not in aliases:
                    path = ("budget", "downgrade_to")
                    issues.append(PolicyIssue(parsed.layer.label, f"unknown model alias '{alias}'",
                                              parsed.locations.line_of(path), key_text(path)))
        if budget.unknown_price is not None:
            if project:
                warn(parsed, ("budget", "unknown_price"), "'unknown_price' is ignored here: only your user config "
                     "may choose how a budget counts an alias without a price")
            else:
                settings["unknown_price"] = budget.unknown_price
        if parsed.layer.role == "user" and (layer_limits or budget.on_exceed is not None):
            user_refuses = settings.get("on_exceed", "refuse") == "refuse"
    if settings.get("on_exceed") == "downgrade" and not settings.get("downgrade_to"):
        issues.append(PolicyIssue(origin.label if origin else "policy", "on_exceed = \"downgrade\" needs downgrade_to",
                                  origin.line if origin else None, "budget.downgrade_to"))
    tasks: dict[Task, TaskBudget] = {}
    for key, (value, _) in limits.items():
        if key.startswith("tasks."):
            _, task_name, name = key.split(".")
            task_budget = tasks.setdefault(Task(task_name), TaskBudget())
            tasks[Task(task_name)] = task_budget.model_copy(update={name: value})
    return BudgetSettings(
        limits["daily_usd"][0] if "daily_usd" in limits else None,
        limits["monthly_usd"][0] if "monthly_usd" in limits else None,
        tasks, settings.get("on_exceed", "refuse"), tuple(settings.get("downgrade_to", ())), origin,
        {key: where for key, (_, where) in limits.items()}, settings.get("unknown_price", "most_expensive"),
    )


def _path_value(base: Path, value: str) -> tuple[Path | None, str]:
    """``value`` resolved against ``base``, checked the way it will be used
    (``resolve``, ``is_file``), or None and why it is no valid path (a name
    too long, a NUL byte, an unknown ``~user``)."""
    try:
        candidate = (base / Path(value).expanduser()).resolve()
        candidate.is_file()
    except (OSError, ValueError, RuntimeError) as exc:
        return None, getattr(exc, "strerror", None) or str(exc)
    return candidate, ""


def _privacy_and_instructions(
    parsed_layers: list[_Parsed], issues: list[PolicyIssue]
) -> tuple[PrivacySettings, Path | None]:
    """Excludes add up across layers; a project may switch protections on but
    only the user config may switch them off. The instructions file of the
    highest layer wins; a project's must lie inside the project."""
    exclude: list[str] = []
    project_exclude: list[str] = []
    switches = {"gitignore": True, "redact_secrets": True}
    instructions: Path | None = None
    for parsed in parsed_layers:
        layer, privacy = parsed.layer, parsed.file.privacy
        if layer.role == "project":
            project_exclude.extend(privacy.exclude)
            for pattern in privacy.exclude:
                if pattern.startswith("!") and exclude:
                    path = ("privacy", "exclude")
                    issues.append(PolicyIssue(
                        layer.label, f"'{pattern}' re-includes only what this file itself excludes: it cannot "
                        "undo an exclusion of your user config or the built-in defaults (only your user config may)",
                        _line_of_value(parsed, path, pattern), key_text(path), "warning"))
        else:
            exclude.extend(privacy.exclude)
        for name in switches:
            value = getattr(privacy, name)
            if value is None:
                continue
            if value is False and layer.role == "project":
                path = ("privacy", name)
                issues.append(PolicyIssue(layer.label, f"'{name} = false' is ignored here: only your user config may "
                                          "turn a privacy protection off", parsed.locations.line_of(path),
                                          key_text(path), "warning"))
                continue
            switches[name] = value
        if parsed.file.instructions and layer.path is not None:
            base = layer.path.parent
            line = parsed.locations.line_of(("instructions",))
            candidate, problem = _path_value(base, parsed.file.instructions)
            if candidate is None:
                issues.append(PolicyIssue(layer.label, f"instructions is not a valid path: {problem}", line,
                                          "instructions"))
            elif layer.role == "project" and not candidate.is_relative_to(base.resolve()):
                issues.append(PolicyIssue(layer.label, "the instructions file must be inside the project", line,
                                          "instructions"))
            elif not candidate.is_file():
                issues.append(PolicyIssue(layer.label, f"no instructions file at {candidate}", line, "instructions",
                                          "warning"))
            else:
                instructions = candidate
    from assistant_router.routing.matching import compile_paths

    for patterns in (exclude, project_exclude):
        try:
            compile_paths(patterns)
        except Exception as exc:
            issues.append(
                PolicyIssue(parsed_layers[-1].layer.label, f"invalid exclude pattern: {exc}", None, "privacy.exclude")
            )
    return PrivacySettings(tuple(exclude), tuple(project_exclude), **switches), instructions


def _line_of_value(parsed: _Parsed, path: KeyPath, value: str) -> int | None:
    """The line of ``value`` in the array at ``path`` (which may span lines)."""
    start = parsed.locations.line_of(path)
    if start is None or parsed.layer.path is None:
        return start
    quoted = (f'"{value}"', f"'{value}'")
    for number, line in enumerate(parsed.layer.text.splitlines()[start - 1:], start=start):
        if any(q in line for q in quoted):
            return number
    return start
