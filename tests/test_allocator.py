"""The allocator settings a run uses: taken by glibc, harmless elsewhere, and undone at the end."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

from core import allocator


def _is_glibc() -> bool:
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return False
    return True


@pytest.mark.skipif(not _is_glibc(), reason="the settings exist in glibc only")
def test_glibc_takes_the_settings_and_a_run_still_computes() -> None:
    assert allocator.keep_freed_memory() is True
    with allocator.run_memory():
        blocks = [np.ones(2_000_000) for _ in range(5)]  # 16 MB each: served from the heap now
        total = sum(float(b.sum()) for b in blocks)
        del blocks
    assert total == 10_000_000.0


def test_without_glibc_both_calls_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    assert allocator.keep_freed_memory() is False
    assert allocator.release_freed_memory() is False
    with allocator.run_memory():
        pass


def test_an_allocator_that_refuses_does_not_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> bool:
        raise OSError("no such symbol")

    monkeypatch.setattr(allocator, "keep_freed_memory", refuse)
    ran = []
    with allocator.run_memory():
        ran.append(True)
    assert ran == [True]
