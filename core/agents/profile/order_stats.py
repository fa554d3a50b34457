"""Order statistics read off values that are sorted already.

`np.quantile` copies and partitions its input and spends about 0.1 ms setting up on every
call: nothing for one column of a million values, but most of the cost of a wide file's
thousands of short columns, whose values the agents have sorted anyway. These functions
give numpy's own answers, bit for bit, by the same steps.
"""

from __future__ import annotations

import numpy as np


def sorted_quantiles(ordered: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """`np.quantile(ordered, quantiles)` (method "linear") for sorted float64 values without
    NaN, read at the two neighbours of each quantile's position and interpolated as numpy
    does (`_lerp`: from the lower neighbour below the midpoint, from the upper one above it).

    A zero next to a quantile's position goes to numpy: its partition may bring -0.0 or 0.0
    there, and the sign of the result follows it."""
    count = len(ordered)
    if count == 0:
        return np.quantile(ordered, quantiles)
    virtual = (count - 1) * np.asarray(quantiles, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1
    last = virtual >= count - 1  # at or past the last value: numpy takes the last one
    previous[last] = -1
    following[last] = -1
    lower = ordered[previous.astype(np.intp)]
    upper = ordered[following.astype(np.intp)]
    if not (lower.all() and upper.all()):
        return np.quantile(ordered, quantiles)
    gamma = virtual - previous.astype(np.intp)
    span = upper - lower
    result = lower + span * gamma
    high = gamma >= 0.5
    result[high] = (upper - span * (1 - gamma))[high]
    return result


def sorted_median(floats: np.ndarray) -> float:
    """`np.median` of sorted float64 values, read at the middle instead of copying and
    partitioning a million values; the same mean of the two middle ones numpy takes. A zero
    in the middle goes to numpy: its partition may bring -0.0 or 0.0 there."""
    middle = len(floats) // 2
    if floats[middle] == 0 or floats[middle - 1] == 0:
        return float(np.median(floats))
    if len(floats) % 2:
        return float(floats[middle])
    return (float(floats[middle - 1]) + float(floats[middle])) / 2  # np.mean's sum, then division
