"""The report writers' shortcuts give the json module's own text, bit for bit, and leave
anything unusual to it (its errors included)."""

from __future__ import annotations

import enum
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.reports import report_json_bytes, to_jsonable


class _Level(enum.IntEnum):
    HIGH = 3


class _Text(str):
    pass


def _reference(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


TRICKY: list[Any] = [
    {},
    [],
    {"a": {}, "b": [], "c": [[]], "d": [{}], "e": {"f": {"g": []}}},
    {"text": 'tab\there "quoted" back\\slash \n newline é 漢字 😀 \x00 \u2028 </script>'},
    {"numbers": [0, -1, 2**70, 1.0, -0.0, 0.1, 1e16, 1e-7, 5e-324, 1.7976931348623157e308]},
    {"floats": [1.5, -0.0, 1e300], "ints": [1, 2, 3], "bools": [True, False], "nones": [None, None]},
    {"mixed": [1, "a", None, True, 2.5, [1, [2, {}]], {"k": [None]}]},
    {"columns": [{"name": "c0", "min": 0, "mean": 41.5, "top": [{"value": 0, "count": 1}]}] * 3},
    [[[[1]]], {"deep": {"deeper": {"deepest": ["x"]}}}],
    {"": "", " ": " "},
    "just text",
    3,
    None,
    {7: "int key", 2.5: "float key", False: "bool key", None: "none key"},
    {"tuple": (1, 2, (3,))},
    {"enum": _Level.HIGH, "enums": [_Level.HIGH]},
    {"subclass": _Text("x"), _Text("key"): 1},
]


@pytest.mark.parametrize("value", TRICKY)
def test_report_json_is_the_json_modules_text(value: Any) -> None:
    assert report_json_bytes(value) == _reference(value)


@pytest.mark.parametrize(
    "value", [{"x": math.nan}, {"x": [math.inf]}, [1.0, -math.inf], {"x": np.int64(1)}, {"x": {1, 2}}]
)
def test_report_json_raises_what_the_json_module_raises(value: Any) -> None:
    with pytest.raises(Exception) as expected:
        _reference(value)
    with pytest.raises(type(expected.value)):
        report_json_bytes(value)


def test_report_json_of_a_circular_report_is_the_json_modules_error() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular"):
        report_json_bytes(loop)


def test_to_jsonable_shortcuts_change_nothing() -> None:
    value = {
        "plain": ["a", 1, True, None, 2.5, -0.0, math.nan, math.inf, -math.inf, 2**70],
        "numpy": [np.int64(3), np.float64(math.nan), np.float32(1.5), np.bool_(True), np.str_("s")],
        "dates": [datetime(2024, 1, 2, tzinfo=UTC), pd.Timestamp("2024-01-02 03:04"), pd.NaT, pd.NA],
        "containers": ((1, 2), {3}, [], {}, {"nested": [{"x": (np.int64(1),)}]}),
        1: "int key",
        np.int64(2): "numpy key",
        None: "none key",
        "enum": _Level.HIGH,
        "subclass": _Text("x"),
        "tuple_top": (math.nan,),
        "finite_floats": [0.5, -0.0, 1e308],
        "floats_and_nan": [0.5, math.nan],
        "float_and_int": [0.5, 1],
        "flat": {"a": 1, "b": "x", "c": None, "d": True},
        "flat_int_keys": {1: "a", 2: "b"},
        "flat_with_float": {"a": 1.5, "b": math.inf},
    }
    want = {
        "plain": ["a", 1, True, None, 2.5, -0.0, None, None, None, 2**70],
        "numpy": [3, None, 1.5, True, "s"],
        "dates": ["2024-01-02T00:00:00+00:00", "2024-01-02T03:04:00", None, None],
        "containers": [[1, 2], [3], [], {}, {"nested": [{"x": [1]}]}],
        "1": "int key",
        "2": "numpy key",
        "None": "none key",
        "enum": _Level.HIGH,
        "subclass": "x",
        "tuple_top": [None],
        "finite_floats": [0.5, -0.0, 1e308],
        "floats_and_nan": [0.5, None],
        "float_and_int": [0.5, 1],
        "flat": {"a": 1, "b": "x", "c": None, "d": True},
        "flat_int_keys": {"1": "a", "2": "b"},
        "flat_with_float": {"a": 1.5, "b": None},
    }
    got = to_jsonable(value)
    assert got == want
    assert repr(got) == repr(want)  # the same types (1 and True, 0.0 and -0.0 apart)
    assert json.dumps(got, default=repr) == json.dumps(want, default=repr)
    flat = {"a": [1, 2], "b": {"c": "d"}}
    copied = to_jsonable(flat)
    assert copied == flat and copied["a"] is not flat["a"] and copied["b"] is not flat["b"]
