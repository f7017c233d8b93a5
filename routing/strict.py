"""The one strict pydantic base and its error formatter.

Every typed edge (policy files, command arguments, initialization options,
provider options) forbids unknown keys and reports each problem as a key path
and a sentence; the policy adds the line, the others the argument name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Unknown keys are errors; values are immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Problem:
    """One validation problem: where (a key path) and what."""

    loc: tuple[str | int, ...]
    message: str
    unknown_key: bool  # the key itself is not allowed here

    @property
    def key(self) -> str:
        """``a.b[2].c``: entries of arrays numbered from 1, as users count them."""
        return key_text(self.loc)


def key_text(loc: tuple[str | int, ...]) -> str:
    """A key path as users write it: ``rules[2].when.paths`` (arrays counted from 1)."""
    text = ""
    for part in loc:  # not "."-joined then ".[" replaced: that mangles a key such as ".["
        text += f"[{part + 1}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def problems(error: ValidationError, *, unknown: str = "unknown key") -> Iterator[Problem]:
    """The errors of ``error`` as :class:`Problem` s, messages without pydantic's prefixes."""
    for detail in error.errors(include_url=False):
        loc = tuple(p for p in detail["loc"] if p != "[key]")
        if detail["type"] == "extra_forbidden":
            yield Problem(loc, f"{unknown} '{loc[-1]}'" if loc else unknown, True)
        else:
            yield Problem(loc, str(detail["msg"]).removeprefix("Value error, ") + _did_you_mean(detail), False)


def _did_you_mean(detail: Any) -> str:
    """For a value that is not one of a few (a task, a provider), the closest one."""
    if detail["type"] not in ("enum", "literal_error") or not isinstance(detail.get("input"), str):
        return ""
    choices = re.findall(r"'([^']*)'", str(detail.get("ctx", {}).get("expected", "")))
    close = difflib.get_close_matches(detail["input"], choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def describe(error: ValidationError, *, what: str = "argument", unknown: str = "unknown key") -> str:
    """One line for a message or a JSON-RPC error: ``range.start.line: ...; task: ...``."""
    return "; ".join(f"{p.key or what}: {p.message}" for p in problems(error, unknown=unknown))

