"""Byte-level facts about Arrow text, computed with numpy over the raw UTF-8 buffers.

The value checks (patterns, phones, sensitive) run once per distinct value, and a
high-cardinality column (a million emails, timestamps or ids) holds a million of them: each
regex pass costs 30-70 ms there, `\\D` removal over 300 ms, and most of those passes only ask
"does this value hold a character outside this set?" or "which of its bytes are digits?".
Those questions are answered here in one pass with lookup tables, so the regexes run only on
the few values they can still match. The byte sets are read off RE2 itself (`regex_bytes`),
so a prefilter cannot disagree with the regex it guards.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ASCII = 128


@dataclass(frozen=True)
class TextBytes:
    """The bytes of a text array's values back to back, and where each value starts."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len(values) + 1, starting at 0

    @cached_property
    def lengths(self) -> np.ndarray:
        """Bytes per value; kept, since most helpers ask for it (a million-value diff each)."""
        return np.diff(self.offsets)

    @property
    def starts(self) -> np.ndarray:
        return self.offsets[:-1]


class ByteMap:
    """A 256-entry byte table applied to every byte of a buffer. Tables of bytes or booleans
    go through `bytes.translate`, a plain C loop over the bytes that costs about half a numpy
    gather (even one through a two-byte table) and stays ahead with two threads at it."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = np.asarray(table)
        self.translated = self.table.dtype in (np.dtype(bool), np.dtype(np.uint8))
        self.table_bytes = self.table.astype(np.uint8).tobytes() if self.translated else b""

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """The table's value for each byte of `data` (uint8 array), as the table's dtype
        (read-only when translated)."""
        if not self.translated:
            return self.table[data]
        mapped = np.ascontiguousarray(data).tobytes().translate(self.table_bytes)
        return np.frombuffer(mapped, dtype=np.uint8).view(self.table.dtype)


def text_bytes(array: pa.Array | pa.ChunkedArray) -> TextBytes | None:
    """The buffers of a string array without copying them; None when it holds nulls (the
    callers then take their plain Arrow path, which treats nulls its own way)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    _, offsets_buffer, data_buffer = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    if len(array) == 0 or offsets_buffer is None:
        return TextBytes(np.empty(0, np.uint8), np.zeros(len(array) + 1, np.int64))
    offsets = np.frombuffer(offsets_buffer, dtype=width)[array.offset : array.offset + len(array) + 1]
    offsets = offsets.astype(np.int64)
    raw = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    return TextBytes(raw[offsets[0] : offsets[-1]], offsets - offsets[0])


def regex_bytes(char_class: str) -> np.ndarray:
    """Per byte value, True for the ASCII characters RE2 matches with `char_class` (such as
    `[\\d\\s().-]`); bytes of non-ASCII characters are False, the callers decide about those."""
    probe = pa.array([chr(b) for b in range(ASCII)])
    hits = pc.match_substring_regex(probe, f"^{char_class}$").to_numpy(zero_copy_only=False)
    table = np.zeros(256, dtype=bool)
    table[:ASCII] = hits
    return table


def per_value_or(text: TextBytes, per_byte: np.ndarray) -> np.ndarray:
    """Per value, the bitwise OR of `per_byte` over its bytes (0 for an empty value): with one
    bit per kind of character, which kinds the value holds."""
    out = np.zeros(len(text.offsets) - 1, dtype=per_byte.dtype)
    nonempty = text.lengths > 0
    if nonempty.any():
        out[nonempty] = np.bitwise_or.reduceat(per_byte, text.starts[nonempty])
    return out


def per_value_sum(text: TextBytes, hits: np.ndarray) -> np.ndarray:
    """Per value, how many of its bytes are True in `hits` (one bool per byte of `text`)."""
    out = np.zeros(len(text.offsets) - 1, dtype=np.int64)
    nonempty = text.lengths > 0
    if nonempty.any():  # int32 sums: half the time of int64, and no value is 2 GB long
        out[nonempty] = np.add.reduceat(hits, text.starts[nonempty], dtype=np.int32)
    return out


def byte_at(text: TextBytes, position: int = 0) -> np.ndarray:
    """Per value, its byte at `position`, or -1 when it is shorter."""
    if len(text.lengths) and text.lengths.min() > position:  # all long enough: no masks
        return text.data[text.starts + position].astype(np.int16)
    out = np.full(len(text.offsets) - 1, -1, dtype=np.int16)
    long_enough = text.lengths > position
    out[long_enough] = text.data[text.starts[long_enough] + position]
    return out


def last_byte(text: TextBytes) -> np.ndarray:
    """Per value, its last byte, or -1 when it is empty."""
    if len(text.lengths) and text.lengths.min() > 0:  # none empty: no masks
        return text.data[text.offsets[1:] - 1].astype(np.int16)
    out = np.full(len(text.offsets) - 1, -1, dtype=np.int16)
    filled = text.lengths > 0
    out[filled] = text.data[text.offsets[1:][filled] - 1]
    return out


def trimmable_bytes() -> np.ndarray:
    """Per byte value (and -1, for "no byte", at index 256 via `table[-1]`), True where
    `utf8_trim_whitespace` might remove it: ASCII whitespace as Arrow trims it, and every
    byte of a non-ASCII character (some of those are whitespace). Read off Arrow itself."""
    probe = pa.array([chr(b) + "x" for b in range(ASCII)])
    kept = pc.equal(pc.utf8_trim_whitespace(probe), probe).to_numpy(zero_copy_only=False)
    table = np.ones(257, dtype=bool)
    table[:ASCII] = ~kept
    return table


_TRIMMABLE = trimmable_bytes()


def trimmable_ends(text: TextBytes) -> np.ndarray:
    """Per value, True when trimming whitespace might shorten it: it is not empty and its first
    or last byte is whitespace or part of a non-ASCII character (`trimmable_bytes`). The
    whitespace Arrow trims in ASCII is the same as Python's `str.strip`."""
    return (_TRIMMABLE[byte_at(text)] | _TRIMMABLE[last_byte(text)]) & (text.lengths > 0)


def is_plain_ascii(array: pa.Array | pa.ChunkedArray) -> bool:
    """True when every byte of the text is ASCII and none is one of the separators \\x1c-\\x1f
    (which Arrow's Unicode trim removes and its ASCII trim keeps): then Arrow's ASCII kernels
    give the same result as the Unicode ones. False for arrays holding nulls."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        text = text_bytes(chunk)
        if text is None:
            return False
        if len(text.data) and (text.data.max() >= ASCII or ((text.data - np.uint8(0x1C)) < 4).any()):
            return False
    return True


def trim_whitespace(values: pa.Array) -> pa.Array:
    """`pc.utf8_trim_whitespace(values)`, trimming only the values whose first or last byte
    may be trimmed (`trimmable_bytes`): the array itself when none can be (most columns),
    else those few trimmed and put back in place. Two byte lookups instead of a scan of
    every character of a million values."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = text_bytes(values)
    if text is None or len(values) == 0:
        return pc.utf8_trim_whitespace(values)
    ends = trimmable_ends(text)
    if not ends.any():
        return values
    if ends.mean() > 0.5:
        return pc.utf8_trim_whitespace(values)
    mask = pa.array(ends)
    return pc.replace_with_mask(values, mask, pc.utf8_trim_whitespace(values.filter(mask)))


def _from_bytes(like: pa.Array, data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    out = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
    return out if pa.types.is_large_string(like.type) else out.cast(like.type)


def keep_bytes(array: pa.Array, text: TextBytes, member: ByteMap) -> pa.Array:
    """Each value of `array` (whose bytes are `text`) with only its bytes in `member` (a bool
    table) kept: for an ASCII `member`, the same as removing every character outside it."""
    keep = member(text.data)
    counts = per_value_sum(text, keep)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _from_bytes(array, text.data[keep], offsets)


def drop_leading(array: pa.Array, text: TextBytes, counts: np.ndarray) -> pa.Array:
    """Each value of `array` (whose bytes are `text`) without its first `counts` bytes (ASCII
    prefixes only, at most the value's length)."""
    counts = np.minimum(counts, text.lengths)
    if not counts.any():
        return array
    keep = np.ones(len(text.data), dtype=bool)
    for k in range(int(counts.max())):
        keep[text.starts[counts > k] + k] = False
    offsets = text.offsets - np.concatenate(([0], np.cumsum(counts)))
    return _from_bytes(array, text.data[keep], offsets)
