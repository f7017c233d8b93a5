"""Hypothesis settings for the fuzz suite: bounded and deterministic.

``derandomize`` draws the same examples on every run and ``database=None``
keeps no state between runs, so `make test` is reproducible on any machine.
``ASSISTANT_ROUTER_FUZZ_EXAMPLES=2000`` raises the number of examples per
property for a long local run (see docs/architecture.md, Tests).
"""

from __future__ import annotations

from hypothesis import settings
from support import fuzz_examples

settings.register_profile(
    "assistant-router",
    derandomize=True,
    database=None,
    max_examples=fuzz_examples(),
    # An in-process example takes milliseconds; 2 s is far beyond that even on a
    # loaded 2-core machine, and still catches a handler that hangs.
    deadline=2000,
    print_blob=False,
)
settings.load_profile("assistant-router")
