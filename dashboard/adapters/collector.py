"""Holding off Python's cycle collector while a bulk job allocates many small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Hold off Python's cycle collector for the block. A bulk job (ingest's copy, a bulk
    action) allocates container objects per record (message headers, audit entries, result
    rows), which triggers collection after collection over everything still alive; what
    those jobs allocate forms no cycle, so reference counting frees it all the same."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
