"""Process-wide settings that keep a long ingest run's memory near what it actually uses.

Each returns memory that a long run would otherwise hold beyond its use, without costing
speed (docs/ingest-design.md has the history). They are for a process that only ingests
(`dlq ingest`); the app and the tests do not call them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# glibc's mallopt() parameter for the size above which an allocation gets pages of its own.
_M_MMAP_THRESHOLD = -3
# Fixed, not glibc's default (128 KiB, raised after every large free up to 32 MiB): a freed
# batch buffer (a few MiB of record values, Arrow output) then goes back to the system at
# once instead of staying in a heap that the threads handing batches to each other fragment
# (with the default, glibc keeps such freed memory in its heap for the rest of the run).
MMAP_THRESHOLD_BYTES = 256 * 1024


def return_large_frees_to_the_system() -> bool:
    """Fix glibc's mmap threshold; False where the C library is not glibc (nothing done)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"{fullname} is kept out of the ingest process (see ingest.process_memory)",
                name=fullname,
            )
        return None


def keep_pandas_out() -> bool:
    """Make `import pandas` fail in this process, unless it is already imported.

    pyarrow imports pandas (when installed, and Streamlit installs it) the first time it
    builds any array, only to ask whether its input is a pandas object: pandas' pages that
    the ingest job, which never hands it one, would carry for its whole run. pyarrow and
    DuckDB treat a failed import as "pandas is not installed".
    """
    if "pandas" in sys.modules:
        return False
    if not any(isinstance(finder, _Refuse) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Refuse(frozenset({"pandas"})))
    return True


def arrow_allocates_with_malloc() -> bool:
    """Make pyarrow allocate through the C library's malloc instead of its bundled mimalloc.

    mimalloc keeps the pages of freed buffers for later: with batches handed from thread to
    thread, they sit idle at the job's peak. With malloc, a freed batch buffer goes back to
    the system at once (see MMAP_THRESHOLD_BYTES). Applies to buffers allocated from now on;
    False if this pyarrow has no system pool (nothing changed).
    """
    import pyarrow as pa

    if "system" not in pa.supported_memory_backends():
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return True


def tune_for_ingest() -> None:
    return_large_frees_to_the_system()
    keep_pandas_out()
    arrow_allocates_with_malloc()
