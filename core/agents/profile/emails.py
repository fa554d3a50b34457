"""Which distinct values of a column are email addresses, shared by the agents that ask.

`patterns` (validity) and `sensitive` (personal data) both run the email regex over a
column's trimmed distinct values; on a million addresses that is a 50-70 ms pass, plus an
upper-cased copy for `sensitive`. The answer is kept with the column's profile (weakly, so
it goes when the run's profiles do) and the second agent reads it.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.profile.inference import _EMAIL, ColumnProfile

_MATCHES: weakref.WeakKeyDictionary[ColumnProfile, np.ndarray] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def email_matches(profile: ColumnProfile, stripped: pa.Array) -> np.ndarray:
    """Per distinct value of `profile`, True when its trimmed text (`stripped`) fully matches
    `_EMAIL`; computed once per profile."""
    with _LOCK:
        found = _MATCHES.get(profile)
    if found is None:
        found = pc.fill_null(pc.match_substring_regex(stripped, f"^(?:{_EMAIL})$"), False).to_numpy(
            zero_copy_only=False
        )
        with _LOCK:
            _MATCHES[profile] = found
    return found


def known_email_matches(profile: ColumnProfile) -> np.ndarray | None:
    """`email_matches` when an agent already computed it for this profile, else None."""
    with _LOCK:
        return _MATCHES.get(profile)
