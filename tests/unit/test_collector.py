"""collections_paused: no cyclic garbage collection while an SDK is imported
in a worker thread (a collection holds the interpreter lock for tens of ms),
and what survived the import is frozen out of later collections."""

from __future__ import annotations

import gc

import pytest

from assistant_router.providers.collector import collections_paused


@pytest.fixture(autouse=True)
def collector_state():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_back_on_after_with_the_survivors_frozen():
    gc.enable()
    gc.unfreeze()
    with collections_paused():
        assert not gc.isenabled()
        kept = [[index] for index in range(3)]  # containers the collector tracks
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert not any(item is kept for item in gc.get_objects())  # frozen objects are in no generation


def test_overlapping_pauses_end_with_the_last_one():
    gc.enable()
    first, second = collections_paused(), collections_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second import is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    with collections_paused():
        pass
    assert not gc.isenabled()


def test_a_failed_import_still_switches_the_collector_back_on():
    gc.enable()
    with pytest.raises(ImportError), collections_paused():
        raise ImportError("no module named 'anthropic'")
    assert gc.isenabled()
