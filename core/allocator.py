"""How a task's process asks the C allocator for memory while a run lasts.

A run makes thousands of short-lived arrays of one to thirty megabytes (a mask, a code or a
copy per column, per check). glibc's malloc gives each of those its own fresh mapping from the
kernel and returns it on free, so every one of them is faulted in page by page again, and on a
virtual machine each such first touch is expensive: on the 1,000,000-row benchmark that was
over 160,000 page faults and three to five seconds of kernel time, more than the file's whole
parse. From a process's first run on we ask malloc instead to serve arrays up to its ceiling
(32 MiB) from its heap, to keep what is freed for the next array, and to use at most one heap
per core, so the same pages are reused. The settings stay for the life of the process (the
processes that run tasks do nothing else); when each run ends the memory it freed is handed
back to the system, so a long-lived worker does not hold a finished run's high-water mark.

Only glibc has these knobs; elsewhere (musl, macOS) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for this setting on 64-bit systems
TRIM_THRESHOLD = 1 << 30  # only a gigabyte free at the top of the heap is returned mid-run


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Reuse freed memory for the rest of the run instead of returning it at once.

    True when the allocator took the settings (glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    arenas = max(os.cpu_count() or 1, 1)
    return all(
        libc.mallopt(parameter, value) == 1
        for parameter, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_ARENA_MAX, arenas),
        )
    )


def release_freed_memory() -> bool:
    """Hand the memory a finished run freed back to the system. True when some was returned."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


@contextmanager
def run_memory() -> Iterator[None]:
    """The allocator settings for a run (kept by the process afterwards), with the memory the
    run freed returned at its end."""
    try:
        keep_freed_memory()
    except OSError:  # an allocator that refuses is only slower, never wrong
        log.debug("allocator settings not applied", exc_info=True)
    try:
        yield
    finally:
        release_freed_memory()
