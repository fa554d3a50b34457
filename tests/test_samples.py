"""The demo sample files: present, small, listed, readable, and exactly what the generator makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.loading import load_table
from samples.make_samples import FILES, write_samples
from ui.samples import SAMPLES, SAMPLES_DIR, sample_bytes

MAX_SAMPLE_BYTES = 200 * 1024
EXPECTED = {  # name -> (rows, columns, delimiter, encoding)
    "customers.csv": (432, 10, ",", "utf-8"),
    "orders.csv": (963, 10, ",", "utf-8"),
    "products.csv": (181, 10, ";", "utf-8-sig"),
}


def test_every_sample_is_listed_exists_and_is_small() -> None:
    assert [s.filename for s in SAMPLES] == list(FILES) == list(EXPECTED)
    for item in SAMPLES:
        assert item.path == SAMPLES_DIR / item.filename
        assert item.path.is_file(), f"{item.filename} is missing: run python samples/make_samples.py"
        assert 0 < item.path.stat().st_size < MAX_SAMPLE_BYTES
        assert item.title and item.description
        assert sample_bytes(item.filename) == item.path.read_bytes()


def test_the_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    written = write_samples(tmp_path)
    assert sorted(p.name for p in written) == sorted(FILES)
    for path in written:
        committed = SAMPLES_DIR / path.name
        assert path.read_bytes() == committed.read_bytes(), (
            f"samples/{path.name} differs from what make_samples.py generates; "
            "run python samples/make_samples.py and commit the result"
        )
    again = write_samples(tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in written]


@pytest.mark.parametrize("name", ["../pyproject.toml", "README.md", "make_samples.py", "nope.csv"])
def test_only_listed_samples_can_be_read(name: str) -> None:
    with pytest.raises(KeyError):
        sample_bytes(name)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_sample_reads_as_a_table(name: str) -> None:
    rows, columns, delimiter, encoding = EXPECTED[name]
    table = load_table(SAMPLES_DIR / name, "primary", name)
    assert table.frame.shape == (rows, columns)
    assert (table.delimiter, table.encoding) == (delimiter, encoding)
    assert not table.malformed_rows


def test_planted_problems_are_there() -> None:
    """A few of the problems samples/README.md promises, checked on the text itself."""
    customers = sample_bytes("customers.csv").decode()
    orders = sample_bytes("orders.csv").decode()
    products = sample_bytes("products.csv").decode("utf-8-sig")
    for text in ("mailto:", "@@", "N/A", "U.S.", "Deutschland", ",999,", ",-4,", "555-CALL-NOW"):
        assert text in customers, text
    for text in ('"$1,', "USD ", "2024-02-30", ",2108,Boston", "SHIPPED", "Canceled"):
        assert text in orders, text
    assert any(line.split(",")[4].startswith("-") for line in orders.splitlines()[1:])
    for text in ("1.299,00", "Kitchenware", "TOOLS", "sku", ";Main;", "Käsereibe"):
        assert text in products, text
    lines = customers.splitlines()
    assert len(lines) - len(set(lines)) == 6  # the exact duplicates
