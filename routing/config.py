"""Where policy files live, and loading all layers for one workspace."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from assistant_router.routing.constants import CONFIG_ENV, PROJECT_POLICY_FILENAME
from assistant_router.routing.policy import (
    Layer,
    ModelCheck,
    Policy,
    PolicyIssue,
    build_policy,
    builtin_layer,
    file_layer,
)

logger = logging.getLogger(__name__)


def user_config_path() -> Path:
    """``$ASSISTANT_ROUTER_CONFIG``, else ``<user config dir>/assistant-router/config.toml``."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path("assistant-router") / "config.toml"


def project_policy_path(root: Path) -> Path:
    return root / PROJECT_POLICY_FILENAME


def project_rules_directory(root: Path) -> Path:
    """A project's own safety rules: ``.assistant-router/rules`` in a workspace folder."""
    return root / ".assistant-router" / "rules"


def user_rules_directory(user_config: Path | None = None) -> Path:
    """The user's safety rules: ``rules/`` next to the user config file, e.g.
    ``~/.config/assistant-router/rules`` on Linux."""
    return (user_config or user_config_path()).parent / "rules"


@dataclass(frozen=True)
class PolicyLoad:
    policy: Policy | None  # None when a layer has an error
    issues: list[PolicyIssue]
    user_config: Path
    project_policy: Path | None

    @property
    def errors(self) -> list[PolicyIssue]:
        return [i for i in self.issues if i.severity == "error"]


def load_policy(
    project_root: Path | None,
    check_model: ModelCheck | None = None,
    project_text: str | None = None,
    user_config: Path | None = None,
) -> PolicyLoad:
    """Load defaults < user config < project policy.

    ``project_text`` validates unsaved editor contents instead of the file.
    Never raises for what a file holds: any failure, a bug of the loader
    included, is an issue on the policy file (and a log line with the
    traceback), and ``policy`` is None.
    """
    user_path = user_config or user_config_path()
    project_path = project_policy_path(project_root) if project_root is not None else None
    try:
        return _load_policy(user_path, project_path, check_model, project_text)
    except Exception as exc:
        logger.exception("loading the routing policy failed")
        path = project_path if project_path is not None and (project_text is not None or _exists(project_path)) \
            else user_path
        return PolicyLoad(None, [loader_failure(path, exc)], user_path, project_path)


def loader_failure(path: Path, exc: BaseException) -> PolicyIssue:
    """The issue for an unexpected exception while loading the policy."""
    detail = str(exc)
    detail = detail if len(detail) <= 200 else detail[:200] + "…"
    return PolicyIssue(str(path), f"could not load the policy ({type(exc).__name__}: {detail}); this is a bug in "
                       "assistant-router, please report it")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _load_policy(
    user_path: Path, project_path: Path | None, check_model: ModelCheck | None, project_text: str | None
) -> PolicyLoad:
    layers: list[Layer] = [builtin_layer()]
    if (user := file_layer(user_path, "user")) is not None:
        layers.append(user)
    if project_path is not None:
        if project_text is not None:
            layers.append(Layer(str(project_path), project_path, project_text))
        elif (project := file_layer(project_path, "project")) is not None:
            layers.append(project)
    policy, issues = build_policy(layers, check_model)
    if policy is not None:
        # Safety rules are read from these folders whether or not a policy file
        # sits next to them. The user's first: an id is kept by the first rule
        # that has it, so a project can add rules but not replace the user's.
        directories: list[tuple[Path, Literal["project", "user"]]] = [(user_rules_directory(user_path), "user")]
        if project_path is not None:
            directories.append((project_rules_directory(project_path.parent), "project"))
        policy = replace(policy, checks=replace(policy.checks, rule_directories=tuple(directories)))
    return PolicyLoad(policy, issues, user_path, project_path)


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a policy file or a
    ``.git`` directory; ``start`` itself when there is none."""
    start = start if start.is_dir() else start.parent
    for directory in (start, *start.parents):
        if (directory / PROJECT_POLICY_FILENAME).exists() or (directory / ".git").exists():
            return directory
    return start
