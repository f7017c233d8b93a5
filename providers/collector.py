"""Keep Python's cyclic garbage collector from stalling the event loop while
an SDK is imported in a worker thread.

Importing ``anthropic`` or ``openai`` creates hundreds of thousands of
objects, which triggers full (generation 2) collections in the middle of the
import. A collection runs in C holding the interpreter lock, so while it runs
the event loop answers nothing: 40 to 80 ms at a time on this project's test
machine, the largest stalls of the whole warm-up. :func:`collections_paused`
switches the collector off for the import and, at the end, moves every object
that survived it into the permanent generation (:func:`gc.freeze`), so no
later collection walks the SDK's modules and classes again either.

The collector is one per process, so its pause is counted per process: the
collector comes back on when the last overlapping pause ends, and only if it
was on when the first began. Frozen objects are still freed by reference
counting; only reference cycles among them are never collected, and modules
and classes do not die.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collection while the block runs (in any thread); what exists
    when the last overlapping block ends is frozen out of later collections."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0:
                gc.freeze()
                if _was_enabled:
                    gc.enable()
