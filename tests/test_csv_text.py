"""CSV text built with Arrow is, byte for byte, what pandas' `to_csv` (Python's `csv` module)
writes; and the Arrow formula guard judges every value as the per-value one does."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.csv_text import csv_text
from core.safe_output import neutralise_frame, neutralise_table

CELLS = st.one_of(
    st.sampled_from(["-5", "+5", "-\u0665", "-5\n", "=1+1", "@x", "", '"', "a,b"]),
    st.text(alphabet=st.sampled_from(list("ab ,;\t|\"\n\r'=+-@5.\u00e9\u2028\u0665")), max_size=6),
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    width = draw(st.integers(1, 4))
    rows = draw(st.integers(0, 6))
    names = draw(st.lists(CELLS, min_size=width, max_size=width, unique=True))
    return pd.DataFrame(
        {name: draw(st.lists(CELLS, min_size=rows, max_size=rows)) for name in names}, dtype="str"
    )


@settings(max_examples=1500, deadline=None)
@given(frames(), st.sampled_from([",", ";", "\t", "|"]))
def test_csv_text_is_what_pandas_writes(frame: pd.DataFrame, delimiter: str) -> None:
    expected = frame.to_csv(index=False, sep=delimiter, lineterminator="\n").encode()
    assert csv_text(pa.Table.from_pandas(frame, preserve_index=False), delimiter) == expected


def test_a_lone_empty_field_is_quoted_and_an_empty_table_is_only_its_header() -> None:
    one = pd.DataFrame({"name": ["", "x"]}, dtype="str")
    assert csv_text(pa.Table.from_pandas(one, preserve_index=False)) == b'name\n""\nx\n'
    none = pd.DataFrame({"a": [], "b": []}, dtype="str")
    assert csv_text(pa.Table.from_pandas(none, preserve_index=False), ";") == b"a;b\n"


@settings(max_examples=800, deadline=None)
@given(frames())
def test_the_arrow_formula_guard_agrees_with_the_per_value_one(frame: pd.DataFrame) -> None:
    guarded = neutralise_table(pa.Table.from_pandas(frame, preserve_index=False)).to_pandas()
    expected = neutralise_frame(frame)
    assert list(guarded.columns) == list(expected.columns)
    assert guarded.astype(object).values.tolist() == expected.astype(object).values.tolist()


def test_a_null_cell_is_refused_rather_than_written_as_something() -> None:
    with pytest.raises(ValueError, match="without nulls"):
        csv_text(pa.table({"a": pa.array(["x", None], pa.large_string())}))
