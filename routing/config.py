"""Where policy files live, and loading all layers for one workspace."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def user_config_path() -> Path:
    """``$ASSISTANT_ROUTER_CONFIG``, else ``<user config dir>/assistant-router/config.toml``."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path("assistant-router") / "config.toml"


def project_policy_path(root: Path) -> Path:
    return root / PROJECT_POLICY_FILENAME


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
    """
    user_path = user_config or user_config_path()
    layers: list[Layer] = [builtin_layer()]
    if (user := file_layer(user_path, "user")) is not None:
        layers.append(user)
    project_path = project_policy_path(project_root) if project_root is not None else None
    if project_path is not None:
        if project_text is not None:
            layers.append(Layer(str(project_path), project_path, project_text))
        elif (project := file_layer(project_path, "project")) is not None:
            layers.append(project)
    policy, issues = build_policy(layers, check_model)
    return PolicyLoad(policy, issues, user_path, project_path)


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a policy file or a
    ``.git`` directory; ``start`` itself when there is none."""
    start = start if start.is_dir() else start.parent
    for directory in (start, *start.parents):
        if (directory / PROJECT_POLICY_FILENAME).exists() or (directory / ".git").exists():
            return directory
    return start
