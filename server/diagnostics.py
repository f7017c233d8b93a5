"""One owner for everything the server publishes as diagnostics.

Several producers (policy validation, review findings) publish on the same
URIs; each owns a channel, and a document's diagnostics are the union of its
channels, so one producer never wipes another's findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lsprotocol import types

# The channel review findings are published on (policy problems have their own).
REVIEW_CHANNEL = "review"
RULES_CHANNEL = "rule files"  # problems of safety-rule files (.assistant-router/rules/*.yml)
CHECKS_CHANNEL = "checks"  # the problems of answers held back by their checks (server/held.py)


class DiagnosticsHub:
    def __init__(self, publish: Callable[[types.PublishDiagnosticsParams], None]) -> None:
        self._publish = publish
        self._by_uri: dict[str, dict[str, list[types.Diagnostic]]] = {}

    def set(self, uri: str, channel: str, diagnostics: Sequence[types.Diagnostic]) -> None:
        channels = self._by_uri.setdefault(uri, {})
        if not diagnostics and channel not in channels:
            return
        channels[channel] = list(diagnostics)
        merged = [d for items in channels.values() for d in items]
        self._publish(types.PublishDiagnosticsParams(uri=uri, diagnostics=merged))

    def get(self, uri: str, channel: str) -> list[types.Diagnostic]:
        return list(self._by_uri.get(uri, {}).get(channel, []))
