"""The numeric shortcuts of statistics and outliers give numpy's own answers bit for bit,
including ties, signed zeros and values near the float limits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.agents.profile.order_stats import sorted_median
from core.agents.profile.outliers import MAD_SCALE, _fences, _robust_z
from core.agents.profile.statistics import (
    QUANTILES,
    _filled_numbers,
    _most_common,
    _numeric,
    _plain,
    _top_values,
)


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
            got, want = sorted_median(ordered), float(np.median(ordered))
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


def _numpy_numeric(values: np.ndarray, bins: int) -> dict[str, Any]:
    """What `_numeric` gave when it called numpy for each figure (the reference)."""
    ordered = np.sort(values)
    floats = ordered.astype("float64")
    edges = np.histogram_bin_edges(floats, bins=bins)
    counts, _ = np.histogram(floats, bins=edges)
    return {
        "distinct_count": len(np.unique(ordered)),
        "min": ordered[0].item(),
        "max": ordered[-1].item(),
        "mean": float(values.astype("float64").mean()),
        "median": float(np.median(floats)),
        "std": float(values.astype("float64").std(ddof=1)) if len(values) > 1 else None,
        "quantiles": dict(
            zip(QUANTILES, np.quantile(floats, list(QUANTILES.values())).tolist(), strict=True)
        ),
        "histogram": {"bins": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def _same(got: Any, want: Any) -> bool:
    """Equal, with floats compared bit for bit (signed zeros; NaN and infinities are None in
    `_numeric`'s answer)."""
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float):
        if not math.isfinite(want):
            return got is None or (isinstance(got, float) and math.isnan(got) and math.isnan(want))
        return type(got) is float and got == want and math.copysign(1, got) == math.copysign(1, want)
    return type(got) is type(want) and got == want


def test_numeric_summary_is_numpys() -> None:
    """Quantiles, median and bin edges read off the sorted values are numpy's own, bit for bit,
    for floats (signed zeros, extremes, ties, one value) and integers beyond 2**53."""
    rng = np.random.default_rng(3)
    with np.errstate(all="ignore"):
        for n in (1, 2, 3, 4, 5, 7, 20, 21, 101, 1000):
            samples = [
                *_samples(rng, n),
                rng.integers(-5, 5, n),
                rng.integers(-(2**62), 2**62, n),
                np.full(n, 7, dtype=np.int64),
                np.full(n, 1e-300),
                np.full(n, -0.0),
                rng.choice([1.0, 1.0 + 2**-52], size=n),
            ]
            for values in samples:
                for bins in (1, 5, 20):
                    try:
                        want = _numpy_numeric(values, bins)
                    except ValueError:  # too many bins for the range: the column fails as before
                        with pytest.raises(ValueError, match="Too many bins"):
                            _numeric(values, np.sort(values), bins)
                        continue
                    got = _numeric(values, np.sort(values), bins)
                    assert _same(got, want), (values, bins, got, want)


def test_top_values_are_plain_python_numbers() -> None:
    """The same values, counts, order and Python types as unwrapping each numpy scalar of the
    stable sort by count (`_plain`), with and without repeated values."""
    rng = np.random.default_rng(4)
    samples = [
        np.array([3, 1, 3, 2, 2**62], dtype=np.int64),
        np.array([2.5, -0.0, 2.5, 1e308]),
        np.arange(25, dtype=np.int64)[::-1],
        rng.normal(size=30),
        np.array([7], dtype=np.int64),
        rng.integers(0, 4, 50),
    ]
    for values in samples:
        ordered = np.sort(values)
        distinct, counts = np.unique(ordered, return_counts=True)
        for limit in (0, 1, 3, 10, 100):
            order = np.argsort(-counts, kind="stable")[:limit]
            want = [{"value": _plain(distinct[i]), "count": int(counts[i])} for i in order]
            got = _top_values(ordered, limit)
            assert got == want
            assert [type(t["value"]) for t in got] == [type(t["value"]) for t in want]


def test_filled_numbers_drop_missing_and_infinite_values() -> None:
    """The same numbers, in row order and type, as `dropna` and a finite filter on the Series."""
    cases = [
        pd.Series(pd.array([1, None, 3, 2**62], dtype="Int64")),
        pd.Series(pd.array([None, None], dtype="Int64")),
        pd.Series(pd.array([], dtype="Int64")),
        pd.Series(pd.array([5], dtype="Int64")),
        pd.Series([1.5, np.nan, np.inf, -np.inf, -0.0, 2.0]),
        pd.Series([np.nan, np.nan]),
        pd.Series([], dtype="float64"),
        pd.Series([4, 5], dtype="int64"),
    ]
    for typed in cases:
        kept = typed.dropna()
        if not pd.api.types.is_integer_dtype(kept.dtype):
            kept = kept[np.isfinite(kept.to_numpy(dtype="float64"))]
        want = kept.to_numpy(dtype="int64" if pd.api.types.is_integer_dtype(kept.dtype) else "float64")
        got = _filled_numbers(typed)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


def test_completeness_counts_are_the_row_by_row_ones() -> None:
    """Empty and missing counts from the distinct values (none compared when a column has no
    marker) and complete rows from the columns with gaps only: the same as counting each cell."""
    from core.agents.profile.completeness import CompletenessAgent
    from core.agents.profile.inference import is_missing, is_null
    from tests.profile_helpers import context_of, table_of

    tables = [
        {"id": ["1", "2", "3"], "city": ["Oslo", "", "N/A"], "none": ["", "", ""], "full": ["a", "b", "c"]},
        {"one": ["x"], "blank": [""], "marker": ["null"]},
        {"a": [], "b": []},
    ]
    for columns in tables:
        table = table_of(columns)
        result = CompletenessAgent().run(context_of(table))
        gaps = np.zeros(len(table.frame), dtype=bool)
        for name in columns:
            text = table.frame[name]
            null, missing = is_null(text).to_numpy(), is_missing(text).to_numpy()
            gaps |= missing
            facts = result.columns[("primary", name)]
            assert facts["null_count"] == int(null.sum())
            assert facts["missing_count"] == int(missing.sum())
            assert facts["disguised_missing_count"] == int((missing & ~null).sum())
        assert result.metrics["complete_rows"] == int((~gaps).sum())


def test_factorize_text_is_pandas_factorize() -> None:
    """Codes and distinct texts as `pd.factorize` gives them (first appearance order, -1 for
    a null), for a plain array, a chunked one, an empty one and one with nulls; codes are int32."""
    import pyarrow as pa

    from core.agents.profile.inference import factorize_text

    words = ["b", "a", "", "b", "é", "a ", "A", "b"]
    for array in (
        pa.array(words, type=pa.large_string()),
        pa.chunked_array([pa.array(words[:3]), pa.array([], pa.string()), pa.array(words[3:])]),
    ):
        codes, values = factorize_text(array)
        expected_codes, expected_values = pd.factorize(pd.Series(words, dtype="str"))
        assert codes.dtype == np.int32
        assert np.array_equal(codes, expected_codes) and values.to_pylist() == list(expected_values)
    codes, values = factorize_text(pa.chunked_array([], pa.large_string()))
    assert len(codes) == 0 and len(values) == 0
    with_nulls = ["a", None, "b", "a", None]
    codes, values = factorize_text(pa.array(with_nulls))
    expected_codes, expected_values = pd.factorize(pd.Series(with_nulls, dtype="str"))
    assert np.array_equal(codes, expected_codes) and values.to_pylist() == list(expected_values)
