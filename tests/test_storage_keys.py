"""Key rules: what the local store accepts, and that every key `storage/keys.py` builds from a
user's file name is one the stores accept and stays inside its task's folder."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from core.errors import StorageError
from storage.keys import input_key, output_key, safe_filename, task_prefix
from storage.local import content_disposition, validate_content_type, validate_key, validate_prefix

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..",
    ".",
    "",
    "a\x00b.csv",
    "dir\\sub\\x.csv",
    "/abs/path.csv",
    " .hidden.csv ",
    "line\nbreak.csv",
    "\u202egnp.exe",
    "x" * 400 + ".xlsx",
    "Résumé 2024 (final).csv",
]


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "users/1/tasks/t/inputs/data.csv",
        "é/数据/file name (1).csv",
        "a/.hidden",
        "a-b/c_d/e.f",
        "x" * 250,
    ],
)
def test_valid_keys_are_accepted_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/a",
        "a/../b",
        "../a",
        "a/..",
        ".",
        "a//b",
        "a/",
        "a\\b",
        "a\x00b",
        "a\x1fb",
        "a\x7fb",
        "a\u2028b",
        "x" * 251,
    ],
)
def test_invalid_keys_are_refused(key: str) -> None:
    with pytest.raises(StorageError) as caught:
        validate_key(key)
    assert caught.value.code == "INVALID_KEY"


def test_over_long_keys_are_refused() -> None:
    key = "/".join(["abcdefghi"] * 103)  # 1,029 bytes: over the S3 limit
    with pytest.raises(StorageError, match="1,024 bytes"):
        validate_key(key)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", ("", "")), ("users/", ("users/", "")), ("users/1/ta", ("users/1/", "ta")), ("abc", ("", "abc"))],
)
def test_prefix_split(prefix: str, expected: tuple[str, str]) -> None:
    assert validate_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["../", "a/../", "/abs/", "a//"])
def test_hostile_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(StorageError):
        validate_prefix(prefix)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_keys_built_from_user_file_names_stay_in_their_task(name: str) -> None:
    for build, folder in ((input_key, "inputs/"), (output_key, "outputs/")):
        key = build(42, "task-1", name)
        assert validate_key(key) == key
        assert key.startswith(task_prefix(42, "task-1") + folder)
        assert "/" not in key.removeprefix(task_prefix(42, "task-1") + folder)


def test_long_non_ascii_file_names_make_storable_keys() -> None:
    key = input_key(1, "t", "数" * 200 + ".csv")
    assert validate_key(key) == key
    assert key.endswith(".csv") and len(key.rsplit("/", 1)[-1].encode()) <= 200


def test_safe_filename_keeps_the_extension_of_long_names() -> None:
    name = safe_filename("y" * 500 + ".xlsx")
    assert name.endswith(".xlsx") and len(name.encode()) <= 200


@pytest.mark.parametrize(
    ("filename", "ascii_part", "utf8_part"),
    [
        ("report.xlsx", "report.xlsx", "report.xlsx"),
        ("Résumé 数据.csv", "Resume __.csv", "R%C3%A9sum%C3%A9%20%E6%95%B0%E6%8D%AE.csv"),
        ('a"b\\c.csv', "a_b_c.csv", "a%22b_c.csv"),
        ("100%.csv", "100_.csv", "100%25.csv"),
        ("evil\r\nSet-Cookie: x=1.csv", "evilSet-Cookie: x=1.csv", "evilSet-Cookie%3A%20x%3D1.csv"),
        ("数据", "download", "%E6%95%B0%E6%8D%AE"),
        ("", "download", "download"),
    ],
)
def test_content_disposition(filename: str, ascii_part: str, utf8_part: str) -> None:
    header = content_disposition(filename)
    assert header == f"attachment; filename=\"{ascii_part}\"; filename*=UTF-8''{utf8_part}"
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert unquote(utf8_part) in (filename.replace("\\", "_").replace("\r\n", ""), "download")


@pytest.mark.parametrize(
    "content_type", ["text/csv", "application/json; charset=utf-8", "application/vnd.ms-excel"]
)
def test_valid_content_types(content_type: str) -> None:
    assert validate_content_type(content_type) == content_type


@pytest.mark.parametrize("content_type", ["", "csv", "text/csv\r\nX: y", "tëxt/csv", "a/" + "b" * 300])
def test_invalid_content_types(content_type: str) -> None:
    with pytest.raises(StorageError) as caught:
        validate_content_type(content_type)
    assert caught.value.code == "INVALID_CONTENT_TYPE"
