"""Provider registry: name → provider class, built-ins plus entry-point plugins.

A provider is a subclass of :class:`assistant_router.providers.base.Provider`;
the registry instantiates it with the resolved model alias
(:class:`assistant_router.routing.policy.ModelConfig`) through
``Provider.create(config, context)``. Its ``Options`` pydantic model (if any)
validates the alias's ``options`` table when the policy loads. Third-party
packages register classes under the entry-point group
``assistant_router.providers``::

    [project.entry-points."assistant_router.providers"]
    ollama = "my_package.adapter:OllamaProvider"

A plugin that fails to load, or loads something that is not a complete
``Provider`` subclass, is blocked (reported once, its name refused with the
reason), never fatal to the server.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from assistant_router.providers.base import FatalProviderError, Provider, ProviderError
from assistant_router.providers.context import ProviderContext

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig, ModelProblem

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assistant_router.providers"

Factory = type[Provider]

# Built-ins as import paths, so nothing heavy loads until a provider is used.
BUILTIN_PROVIDERS: dict[str, str] = {
    "anthropic": "assistant_router.providers.anthropic_adapter:AnthropicProvider",
    "openai": "assistant_router.providers.openai_adapter:OpenAIProvider",
    "mock": "assistant_router.providers.mock:MockProvider",
}

_INTERFACE = "assistant_router.providers.base.Provider"


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


class _NotAProvider(Exception):
    """What was loaded cannot serve as a provider; the message says why."""


def _provider_class(value: object, label: str) -> Factory:
    """``value`` (loaded from ``label``) as a provider class; raises _NotAProvider."""
    if not (isinstance(value, type) and issubclass(value, Provider)):
        raise _NotAProvider(
            f"{label} is not a subclass of {_INTERFACE} (see docs/providers.md, \"Writing an adapter\")"
        )
    if inspect.isabstract(value):
        raise _NotAProvider(f"{label} does not implement {', '.join(sorted(value.__abstractmethods__))}()")
    if value.Options is not None:
        from pydantic import BaseModel

        if not (isinstance(value.Options, type) and issubclass(value.Options, BaseModel)):
            raise _NotAProvider(f"{label}.Options is not a pydantic model")
    wire_apis: object = value.wire_apis
    if not (isinstance(wire_apis, tuple) and all(isinstance(api, str) for api in wire_apis)):
        raise _NotAProvider(f"{label}.wire_apis is not a tuple of strings")
    return value


class ProviderRegistry:
    def __init__(self, builtins: dict[str, str] | None = None, *, entry_points: bool = True) -> None:
        # name → (where it comes from, how to load it): loaded on first use.
        self._targets: dict[str, tuple[str, Callable[[], object]]] = {
            name: (target, functools.partial(_import, target))
            for name, target in (builtins or BUILTIN_PROVIDERS).items()
        }
        self._factories: dict[str, Factory] = {}
        self._blocked: dict[str, str] = {}
        self._scan_entry_points = entry_points

    def register(self, name: str, factory: Factory) -> None:
        """Add or replace a provider class (tests and embedding applications).

        Raises TypeError when ``factory`` is not a complete Provider subclass.
        """
        try:
            self._factories[name] = _provider_class(factory, repr(factory))
        except _NotAProvider as exc:
            raise TypeError(str(exc)) from None
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
            self._targets[entry.name] = (entry.value, entry.load)

    def names(self) -> list[str]:
        self._discover()
        return sorted({*self._targets, *self._factories} - set(self._blocked))

    def knows(self, name: str) -> bool:
        if name in self._factories or name in self._targets:
            return True
        self._discover()
        return name in self._targets

    def factory(self, name: str) -> Factory:
        """The provider class for ``name``, loaded and checked once.

        Raises FatalProviderError when there is none or it is blocked.
        """
        if (factory := self._factories.get(name)) is not None:
            return factory
        if name in self._blocked:
            raise FatalProviderError(self._blocked[name])
        if not self.knows(name):
            raise FatalProviderError(
                f"no provider adapter named '{name}' is installed (installed: {', '.join(self.names()) or 'none'})"
            )
        label, load = self._targets[name]
        try:
            loaded = load()
        except Exception as exc:
            raise self._block(name, f"provider plugin '{name}' failed to load and is disabled: "
                                    f"{type(exc).__name__}: {exc}") from exc
        try:
            factory = self._factories[name] = _provider_class(loaded, label)
        except _NotAProvider as exc:
            raise self._block(name, f"provider plugin '{name}' is disabled: {exc}") from None
        return factory

    def _block(self, name: str, message: str) -> FatalProviderError:
        """Refuse ``name`` from now on with ``message`` (logged once)."""
        logger.error(message)
        self._blocked[name] = message
        return FatalProviderError(message)

    def create(self, config: ModelConfig, context: ProviderContext | None = None) -> Provider:
        """A new provider for ``config``; ``context``: what it shares with the
        other providers of its pool (a fresh one when None)."""
        factory = self.factory(config.provider)
        if factory.Options is None and config.options:
            raise FatalProviderError(f"provider '{config.provider}' takes no options")
        try:
            provider = factory.create(config, ProviderContext() if context is None else context)
        except ProviderError:
            raise
        except Exception as exc:  # a bug in the adapter: this alias fails, the server goes on
            logger.error("provider '%s' failed to start for alias '%s'", config.provider, config.alias, exc_info=exc)
            raise FatalProviderError(
                f"provider '{config.provider}' failed to start for alias '{config.alias}': {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(provider, Provider):
            raise FatalProviderError(
                f"provider '{config.provider}' made a {type(provider).__name__}, not a {_INTERFACE}"
            )
        return provider

    def _loaded(self, provider: str) -> Factory | None:
        """``provider``'s class, or None when it cannot load (its tasks report why)."""
        try:
            return self.factory(provider)
        except Exception:
            return None

    def sdk_modules(self, provider: str) -> tuple[str, ...]:
        """The SDK modules ``provider`` imports on first use."""
        factory = self._loaded(provider)
        return factory.sdk_modules() if factory is not None else ()

    def rehearsal(self, provider: str) -> Callable[[str, ProviderContext], Coroutine[Any, Any, None]] | None:
        """``provider``'s warm-up rehearsal (``SdkProvider.rehearse``), if it has one."""
        return getattr(self._loaded(provider), "rehearse", None)

    def shares_tls(self, provider: str) -> bool:
        """Whether ``provider``'s clients use the pool's shared TLS context."""
        return bool(getattr(self._loaded(provider), "shares_tls", False))

    def check(self, config: ModelConfig) -> Iterable[ModelProblem]:
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
        if config.api is not None and config.api not in factory.wire_apis:
            yield (("api",), f"provider '{config.provider}' has no wire API choice; 'api' applies to openai", "error")
        if factory.Options is None:
            if config.options:
                yield (("options",), f"provider '{config.provider}' takes no options", "error")
            return
        from pydantic import ValidationError

        from assistant_router.routing.strict import problems

        try:
            factory.Options.model_validate(config.options)
        except ValidationError as exc:
            for problem in problems(exc, unknown="unknown option"):
                yield (("options", *problem.loc), problem.message, "error")


class ProviderPool:
    """One provider instance per model alias configuration (they hold clients),
    and the :class:`ProviderContext` they share: key-command results and
    imported SDKs belong to the pool, never to the process."""

    def __init__(self, registry: ProviderRegistry, context: ProviderContext | None = None) -> None:
        self._registry = registry
        self.context = ProviderContext() if context is None else context
        self._instances: dict[str, Provider] = {}

    def get(self, config: ModelConfig) -> Provider:
        """The provider for ``config``: a :class:`Provider` (``prepare()`` and
        ``stream()`` always there). Raises FatalProviderError when there is none."""
        key = repr(config)
        provider = self._instances.get(key)
        if provider is None:
            provider = self._instances[key] = self._registry.create(config, self.context)
        return provider

    async def warm(self, configs: Iterable[ModelConfig]) -> None:
        """Import the SDKs of these aliases' providers in the background, each
        once (see :meth:`ProviderContext.warm`), build the shared TLS context,
        then rehearse one request through each provider that has a rehearsal."""
        providers = dict.fromkeys(config.provider for config in configs)
        modules = dict.fromkeys(name for provider in providers for name in self._registry.sdk_modules(provider))
        await self.context.warm(modules, tls=any(self._registry.shares_tls(provider) for provider in providers))
        for provider in providers:
            rehearse = self._registry.rehearsal(provider)
            if rehearse is None or not all(map(self.context.imported, self._registry.sdk_modules(provider))):
                continue  # a failed import is reported by the task
            started = time.perf_counter()
            try:
                await self.context.rehearse(provider, functools.partial(rehearse, provider, self.context))
            except Exception as exc:  # the user's first task reports a real problem
                logger.warning("rehearsing a request to %s failed: %s: %s", provider, type(exc).__name__, exc)
            else:
                logger.debug("rehearsed a request to %s in %.0f ms", provider, (time.perf_counter() - started) * 1000)
