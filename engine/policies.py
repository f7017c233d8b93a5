"""Active routing policy per workspace root, reloaded on change.

An invalid policy never replaces a working one: the store keeps the last good
policy for the root (or, at first load, the defaults plus the user config),
reports the problems, and says which policy is serving. Not even a bug of the
loader breaks the router: an exception while loading is an issue on the policy
file and a log line with its traceback, handled like any invalid policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant_router.engine.privacy import ExclusionRules
from assistant_router.providers.registry import ProviderRegistry
from assistant_router.routing.config import (
    PolicyLoad,
    load_policy,
    loader_failure,
    project_policy_path,
    user_config_path,
)
from assistant_router.routing.policy import Policy, PolicyIssue
from assistant_router.routing.router import Router

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyReport:
    """What a (re)load found, for the server to show: issues per file, and a
    message when an invalid file left an older policy in charge."""

    root: Path | None
    files: tuple[Path, ...]  # files whose diagnostics must be refreshed
    issues: tuple[PolicyIssue, ...]
    message: str | None  # one clear sentence for window/showMessage, or None


class PolicyStore:
    def __init__(self, registry: ProviderRegistry, on_report: Callable[[PolicyReport], None]) -> None:
        self._registry = registry
        self._on_report = on_report
        self._routers: dict[Path | None, Router] = {}
        self._exclusions: dict[Path | None, ExclusionRules] = {}
        self.generation = 0  # bumps on every change of any active policy

    @property
    def user_config(self) -> Path:
        return user_config_path()

    def router(self, root: Path | None) -> Router:
        """The active router for ``root``, loading it on first use."""
        router = self._routers.get(root)
        if router is None:
            self.reload(root)
            router = self._routers[root]
        return router

    def exclusions(self, root: Path | None) -> ExclusionRules:
        """Which files of ``root`` may not be sent, under the active policy."""
        router = self.router(root)
        rules = self._exclusions.get(root)
        if rules is None or rules.settings is not router.policy.privacy:
            label = router.policy.sources[-1] if router.policy.sources else "the routing policy"
            rules = self._exclusions[root] = ExclusionRules(root, router.policy.privacy, label)
        return rules

    def _load(self, root: Path | None, project_text: str | None = None) -> PolicyLoad:
        try:
            return load_policy(root, self._registry.check, project_text=project_text)
        except Exception as exc:
            return self._failed(root, exc)

    def _failed(self, root: Path | None, exc: BaseException) -> PolicyLoad:
        logger.exception("loading the routing policy for %s failed", root or "(no workspace)")
        user_config = self.user_config
        project = project_policy_path(root) if root is not None else None
        return PolicyLoad(None, [loader_failure(project or user_config, exc)], user_config, project)

    def validate(self, root: Path, text: str) -> PolicyReport:
        """Check unsaved policy text (as the user types); the active policy stays."""
        load = self._load(root, text)
        return self._report(root, load, None)

    def reload(self, root: Path | None) -> PolicyReport:
        load = self._load(root)
        message = None
        router = None
        if load.policy is not None:
            try:
                router = Router(load.policy)
            except Exception as exc:
                load = self._failed(root, exc)
        if router is not None and load.policy is not None:
            self._routers[root] = router
            self.generation += 1
            logger.info(
                "routing policy for %s loaded from %s", root or "(no workspace)", ", ".join(load.policy.sources)
            )
        else:
            count = len(load.errors)
            bad = sorted({i.source for i in load.errors})
            if root in self._routers:
                serving = "the previous policy keeps serving"
            else:
                self._routers[root] = self._fallback(root)
                self.generation += 1
                serving = f"serving {', '.join(self._routers[root].policy.sources)} instead"
            message = (
                f"assistant-router: {count} error{'s' if count != 1 else ''} in {', '.join(bad)}; {serving}. "
                f"First: {load.errors[0]}"
            )
            logger.error("%s", message)
        report = self._report(root, load, message)
        try:
            self._on_report(report)
        except Exception:
            logger.exception("could not report the policy's problems")
        return report

    def _fallback(self, root: Path | None) -> Router:
        """Defaults plus the user config, or the defaults alone."""
        without_project = self._load(None)
        if without_project.policy is not None:
            try:
                return Router(without_project.policy)
            except Exception:
                logger.exception("the user config's policy cannot route; serving the built-in defaults")
        from assistant_router.routing.policy import build_policy, builtin_layer

        policy, _ = build_policy([builtin_layer()], self._registry.check)
        assert policy is not None, "the built-in defaults must be valid"
        return Router(policy)

    def _report(self, root: Path | None, load: PolicyLoad, message: str | None) -> PolicyReport:
        for issue in load.issues:
            if issue.severity == "warning":
                logger.warning("%s", issue)
        files = [load.user_config]
        if load.project_policy is not None:
            files.append(load.project_policy)
        return PolicyReport(root, tuple(files), tuple(load.issues), message)

    def forget(self, root: Path | None) -> None:
        self._routers.pop(root, None)


class StaticPolicies:
    """One policy for one root, as loaded once (the terminal)."""

    def __init__(self, root: Path | None, policy: Policy) -> None:
        self._router = Router(policy)
        label = policy.sources[-1] if policy.sources else "the routing policy"
        self._exclusions = ExclusionRules(root, policy.privacy, label)

    def router(self, root: Path | None) -> Router:
        return self._router

    def exclusions(self, root: Path | None) -> ExclusionRules:
        return self._exclusions
