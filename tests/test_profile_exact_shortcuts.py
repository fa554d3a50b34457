"""The numeric shortcuts of statistics and outliers give numpy's own answers bit for bit,
including ties, signed zeros and values near the float limits."""

from __future__ import annotations

import numpy as np

from core.agents.profile.outliers import MAD_SCALE, _fences, _robust_z
from core.agents.profile.statistics import _most_common, _sorted_median


def _samples(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [
        rng.normal(size=n),
        rng.lognormal(size=n),
        rng.choice([1e308, -1e308, 0.0, -0.0, 1.0, 5e-324, -5e-324], size=n),
        rng.choice([-0.0, 0.0, 2.0], size=n),
        rng.integers(-(2**62), 2**62, n).astype("float64"),
    ]


def test_sorted_median_is_numpys() -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 120):
        for values in _samples(rng, n):
            ordered = np.sort(values)
            got, want = _sorted_median(ordered), float(np.median(ordered))
            assert got == want and np.signbit(got) == np.signbit(want)


def test_most_common_is_the_stable_argsort() -> None:
    rng = np.random.default_rng(1)
    for n in [*range(0, 30), 5000]:
        for high in (1, 2, 10, 1000):
            counts = rng.integers(1, high + 1, n)
            for limit in (0, 1, 3, 10):
                expected = np.argsort(-counts, kind="stable")[:limit]
                assert np.array_equal(_most_common(counts, limit), expected)


def test_fences_and_robust_z_are_the_plain_formulas() -> None:
    rng = np.random.default_rng(2)
    with np.errstate(all="ignore"):
        for n in (1, 2, 3, 20, 1001):
            for values in _samples(rng, n):
                fence = _fences(values)
                ordered = np.sort(values)
                median = float(np.quantile(ordered, 0.5))
                assert fence["mad"] == float(np.median(np.abs(ordered - median)))
                if fence["mad"] > 0:
                    expected = MAD_SCALE * (values - fence["median"]) / fence["mad"]
                    assert np.array_equal(_robust_z(values, fence), expected, equal_nan=True)


def test_encode_over_many_chunks_is_pandas_factorize() -> None:
    """Codes into one dictionary shared by every chunk, in order of first appearance, with
    exact counts: what pandas' factorize gives, without its int64 codes."""
    import pandas as pd
    import pyarrow as pa

    from core.agents.profile.inference import encode

    rng = np.random.default_rng(2)
    words = np.array(["a", "b", "", " a", "é", "A", "b "], dtype=object)
    chunks = [pa.array(rng.choice(words, size), type=pa.large_string()) for size in (5, 0, 17, 1, 40)]
    text = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))
    encoded = encode(text)
    codes, uniques = pd.factorize(text, sort=False)
    assert encoded.codes.dtype == np.int32
    assert np.array_equal(encoded.codes, codes)
    assert encoded.values.to_pylist() == list(uniques)
    assert np.array_equal(encoded.counts, np.bincount(codes, minlength=len(uniques)))
    empty = encode(pd.Series([], dtype="str"))
    assert len(empty.codes) == len(empty.values) == len(empty.counts) == 0


def test_sorted_quantiles_are_numpys() -> None:
    from core.agents.profile.order_stats import sorted_quantiles

    rng = np.random.default_rng(4)
    quantiles = [
        np.array([0.25, 0.5, 0.75]),
        np.array([0.0, 0.05, 0.95, 1.0]),
        rng.random(7),
    ]
    for n in [*range(1, 60), 1001]:
        for values in _samples(rng, n):
            ordered = np.sort(values)
            for q in quantiles:
                got, want = sorted_quantiles(ordered, q), np.quantile(ordered, q)
                assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
