"""The storage key layout, in one place: `users/{user_id}/tasks/{task_id}/inputs|outputs/{name}`."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_BYTES = 200  # file systems allow 255 bytes per name; keep room for temp suffixes
_UNSAFE = re.compile(r"[^\w.\- ()+,@=]+", re.UNICODE)


def safe_filename(name: str, default: str = "file") -> str:
    """A file name that cannot escape its folder or confuse a shell, a browser or a spreadsheet.

    Path separators, `..`, control characters and leading dots are removed; the length is bounded
    while the extension is kept (bounded in bytes, as file systems count).
    """
    name = unicodedata.normalize("NFC", str(name))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    while ".." in name:
        name = name.replace("..", ".")
    if not name:
        name = default
    if len(name.encode()) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if not (dot and 0 < len(ext) <= 10 and stem):
            stem, ext = name, ""
        budget = MAX_FILENAME_BYTES - len(ext.encode()) - (1 if ext else 0)
        stem = stem.encode()[:budget].decode("utf-8", errors="ignore")
        name = f"{stem}.{ext}" if ext else stem
    return name


def task_prefix(user_id: int | str, task_id: str) -> str:
    return f"users/{user_id}/tasks/{task_id}/"


def input_key(user_id: int | str, task_id: str, filename: str) -> str:
    return f"{task_prefix(user_id, task_id)}inputs/{safe_filename(filename)}"


def output_key(user_id: int | str, task_id: str, filename: str) -> str:
    return f"{task_prefix(user_id, task_id)}outputs/{safe_filename(filename)}"
