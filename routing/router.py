"""Routing decisions: which model chain handles a request, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_router.routing.matching import RouteRequest, matches
from assistant_router.routing.tasks import Task

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig, Policy


@dataclass(frozen=True)
class Decision:
    task: Task
    chain: tuple[ModelConfig, ...]  # primary first, then fallbacks
    reason: str

    @property
    def primary(self) -> ModelConfig:
        return self.chain[0]

    def to_json(self) -> dict[str, Any]:
        primary = self.primary
        return {
            "task": self.task.value,
            "alias": primary.alias,
            "provider": primary.provider,
            "model": primary.shown_model,
            "chain": [{"alias": m.alias, "provider": m.provider, "model": m.shown_model} for m in self.chain],
            "reason": self.reason,
        }


class Router:
    """Applies a policy: rules in order (first match wins), then routes."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def decide(self, request: RouteRequest) -> Decision:
        models = self.policy.models
        for rule in self.policy.rules:
            if matches(rule.when, request):
                chain = tuple(models[a] for a in rule.chain)
                return Decision(request.task, chain, f"{rule.describe()} at {rule.origin}")
        route = self.policy.routes[request.task]
        chain = tuple(models[a] for a in route.chain)
        where = (
            "built-in default route"
            if route.origin.line is None
            else f"[routes] {request.task.value} at {route.origin}"
        )
        return Decision(request.task, chain, f"{where}: {request.task.value} → {', '.join(route.chain)}")
