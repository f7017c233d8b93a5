"""Provider registry: name → factory, built-ins plus entry-point plugins.

A factory is any callable ``factory(config) -> Provider`` where ``config`` is
the resolved model alias (:class:`assistant_router.routing.policy.ModelConfig`).
It may carry an ``Options`` pydantic model, used to validate the alias's
``options`` table when the policy loads. Third-party packages register
factories under the entry-point group ``assistant_router.providers``::

    [project.entry-points."assistant_router.providers"]
    ollama = "my_package.adapter:OllamaProvider"

A plugin that fails to load is blocked (reported once, its name refused), never
fatal to the server.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from assistant_router.providers.base import FatalProviderError, Provider

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assistant_router.providers"

Factory = Callable[["ModelConfig"], Provider]

# Built-ins as import paths, so nothing heavy loads until a provider is used.
BUILTIN_PROVIDERS: dict[str, str] = {
    "anthropic": "assistant_router.providers.anthropic_adapter:AnthropicProvider",
    "openai": "assistant_router.providers.openai_adapter:OpenAIProvider",
    "mock": "assistant_router.providers.mock:MockProvider",
}


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


class ProviderRegistry:
    def __init__(self, builtins: dict[str, str] | None = None, *, entry_points: bool = True) -> None:
        self._targets: dict[str, Callable[[], Factory]] = {
            name: (lambda target=target: _import(target)) for name, target in (builtins or BUILTIN_PROVIDERS).items()
        }
        self._factories: dict[str, Factory] = {}
        self._blocked: dict[str, str] = {}
        self._scan_entry_points = entry_points

    def register(self, name: str, factory: Factory) -> None:
        """Add or replace a provider (tests and embedding applications)."""
        self._factories[name] = factory
        self._blocked.pop(name, None)

    def _discover(self) -> None:
        if not self._scan_entry_points:
            return
        self._scan_entry_points = False
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            if entry.name in self._targets or entry.name in self._factories:
                logger.warning("provider plugin %r (%s) ignored: the name is taken", entry.name, entry.value)
                continue
            self._targets[entry.name] = entry.load

    def names(self) -> list[str]:
        self._discover()
        return sorted({*self._targets, *self._factories} - set(self._blocked))

    def knows(self, name: str) -> bool:
        if name in self._factories or name in self._targets:
            return True
        self._discover()
        return name in self._targets

    def factory(self, name: str) -> Factory:
        if (factory := self._factories.get(name)) is not None:
            return factory
        if name in self._blocked:
            raise FatalProviderError(self._blocked[name])
        if not self.knows(name):
            raise FatalProviderError(
                f"no provider adapter named '{name}' is installed (installed: {', '.join(self.names()) or 'none'})"
            )
        try:
            factory = self._targets[name]()
        except Exception as exc:
            message = f"provider plugin '{name}' failed to load and is disabled: {type(exc).__name__}: {exc}"
            logger.error(message)
            self._blocked[name] = message
            raise FatalProviderError(message) from exc
        self._factories[name] = factory
        return factory

    def create(self, config: ModelConfig) -> Provider:
        factory = self.factory(config.provider)
        options_model = getattr(factory, "Options", None)
        if options_model is None and config.options:
            raise FatalProviderError(f"provider '{config.provider}' takes no options")
        return factory(config)

    def check(self, config: ModelConfig) -> Iterable[tuple[tuple[str, ...], str, Literal["error", "warning"]]]:
        """Policy-load check of one model alias (see ``routing.policy.ModelCheck``)."""
        if not self.knows(config.provider):
            yield (
                ("provider",),
                f"no provider adapter named '{config.provider}' is installed (installed: {', '.join(self.names())}); "
                f"tasks routed to '{config.alias}' will fail",
                "warning",
            )
            return
        try:
            factory = self.factory(config.provider)
        except FatalProviderError as exc:
            yield (("provider",), str(exc), "warning")
            return
        if config.api is not None and config.api not in getattr(factory, "wire_apis", ()):
            yield (("api",), f"provider '{config.provider}' has no wire API choice; 'api' applies to openai", "error")
        options_model = getattr(factory, "Options", None)
        if options_model is None:
            if config.options:
                yield (("options",), f"provider '{config.provider}' takes no options", "error")
            return
        from pydantic import ValidationError

        try:
            options_model.model_validate(config.options)
        except ValidationError as exc:
            for detail in exc.errors(include_url=False):
                key = tuple(str(p) for p in detail["loc"])
                message = f"unknown option '{key[-1]}'" if detail["type"] == "extra_forbidden" else detail["msg"]
                yield (("options", *key), message, "error")


class ProviderPool:
    """One provider instance per model alias configuration (they hold clients)."""

    def __init__(self, registry: ProviderRegistry) -> None:
        self._registry = registry
        self._instances: dict[str, Provider] = {}

    def get(self, config: ModelConfig) -> Provider:
        key = repr(config)
        provider = self._instances.get(key)
        if provider is None:
            provider = self._instances[key] = self._registry.create(config)
        return provider
