"""The byte-level shortcuts of the value checks give exactly what the Arrow kernels and
regexes they replace or guard give, on text with spaces, separators, NUL bytes and
non-ASCII characters (some of which upper-case to ASCII letters)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.agents.profile.emails import email_matches
from core.agents.profile.patterns import _trimmable
from core.agents.profile.sensitive import (
    _ALLOWED,
    _CARD,
    _EMAIL,
    _IBAN,
    _NINO,
    _SSN,
    _emails,
    _shaped_like,
    _where,
)
from core.agents.profile.textbytes import (
    ByteMap,
    byte_at,
    drop_leading,
    is_plain_ascii,
    keep_bytes,
    last_byte,
    per_value_or,
    regex_bytes,
    text_bytes,
    trim_whitespace,
)

_ALPHABET = [*"0123456789 -+.@_%'()/:aZkx\t\n\x00", "ı", "ſ", "é", "ß", "\u00a0", "\u2003", "ǅ"]


def _random_texts(seed: int, count: int = 3000, longest: int = 24) -> pa.Array:
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(_ALPHABET, size=int(n))) for n in rng.integers(0, longest, count)]
    texts += ["4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "123-45-6789", "ab123456c", "a@b.co"]
    return pa.array(texts, pa.large_string())


def test_byte_map_matches_the_plain_table() -> None:
    rng = np.random.default_rng(1)
    for table in (rng.integers(0, 256, 256).astype(np.uint8), rng.random(256) < 0.5):
        mapped = ByteMap(table)
        for n in (0, 1, 2, 7, 1000):
            data = rng.integers(0, 256, n).astype(np.uint8)
            assert np.array_equal(mapped(data), table[data])


def test_keep_and_drop_bytes_match_arrow() -> None:
    values = _random_texts(2)
    text = text_bytes(values)
    assert text is not None
    digits = keep_bytes(values, text, ByteMap(regex_bytes(r"\d")))
    assert digits.equals(pc.replace_substring_regex(values, r"\D", ""))
    digit_text = text_bytes(digits)
    assert digit_text is not None
    counts = np.random.default_rng(3).integers(0, 4, len(digits))
    dropped = drop_leading(digits, digit_text, counts)
    expected = [d[c:] for d, c in zip(digits.to_pylist(), counts, strict=True)]
    assert dropped.to_pylist() == expected
    sliced = values.slice(5, 50)
    sliced_text = text_bytes(sliced)
    assert sliced_text is not None
    assert byte_at(sliced_text).tolist() == [v.encode()[0] if v else -1 for v in sliced.to_pylist()]


def test_per_value_or_holds_each_values_bits() -> None:
    values = _random_texts(4)
    text = text_bytes(values)
    assert text is not None
    bits = per_value_or(text, ByteMap(np.arange(256, dtype=np.uint8) & 0x0F)(text.data))
    expected = []
    for value in values.to_pylist():
        held = 0
        for byte in value.encode():
            held |= byte & 0x0F
        expected.append(held)
    assert bits.tolist() == expected


def test_sensitive_prefilters_keep_every_match() -> None:
    values = _random_texts(5)
    upper = pc.utf8_upper(values)
    shaped = _shaped_like(values)
    patterns = {"email": (_EMAIL,), "national_id": (_SSN, _NINO), "card_number": (_CARD,), "iban": (_IBAN,)}
    assert set(patterns) == set(_ALLOWED)
    for kind, kind_patterns in patterns.items():
        for pattern in kind_patterns:
            matches = pc.match_substring_regex(upper, f"^(?:{pattern})$").to_numpy(zero_copy_only=False)
            assert not (matches & ~shaped[kind]).any(), kind
        assert shaped[kind].sum() < len(values)  # and they do filter


def test_values_that_trim_are_all_flagged_as_trimmable() -> None:
    values = _random_texts(6, longest=4)
    trims = ~pc.equal(pc.utf8_trim_whitespace(values), values).to_numpy(zero_copy_only=False)
    python_trims = np.array([v.strip() != v for v in values.to_pylist()])
    flagged = _trimmable(values)
    assert not ((trims | python_trims) & ~flagged).any()


def test_trim_whitespace_is_arrows_trim() -> None:
    for seed, longest in ((7, 4), (8, 24)):
        values = _random_texts(seed, longest=longest)
        for array in (values, values.cast(pa.string()), values.slice(5, 100)):
            assert trim_whitespace(array).equals(pc.utf8_trim_whitespace(array))
    clean = pa.array(["a", "b c", "", "é x é"[2:3]], pa.large_string())
    assert trim_whitespace(clean) is clean  # nothing to trim: no copy
    few = pa.array(["a", " b", "c", "", "d\u3000"] * 3, pa.string())
    assert trim_whitespace(few).equals(pc.utf8_trim_whitespace(few))
    nulls = pa.array(["a ", None, ""], pa.string())
    assert trim_whitespace(nulls).equals(pc.utf8_trim_whitespace(nulls))


def test_sensitive_emails_read_from_the_shared_matches_as_from_the_regex() -> None:
    class Profile:  # stands in for a column profile: only its identity is used
        pass

    values = pa.concat_arrays(
        [_random_texts(9), pa.array(["ſam@ex.com", "ıvan@x.ſs", "a@Kx.co"], pa.large_string())]
    )
    stripped = trim_whitespace(values)
    shaped = _shaped_like(stripped)
    expected = np.zeros(len(values), dtype=bool)
    _where(expected, stripped, shaped["email"], _EMAIL)
    known = Profile()
    email_matches(known, stripped)
    for profile in (known, Profile()):
        found = np.zeros(len(values), dtype=bool)
        _emails(found, profile, stripped, shaped)
        assert np.array_equal(found, expected)
    assert (expected & ~email_matches(known, stripped)).any()  # upper-casing made some match


def test_byte_at_and_last_byte_with_and_without_short_values() -> None:
    texts = _random_texts(10, count=500).to_pylist()
    for values in (texts, [t for t in texts if len(t.encode()) >= 3], ["é", "ab", "x\x00"]):
        array = pa.array(values, pa.large_string())
        text = text_bytes(array)
        assert text is not None
        encoded = [v.encode() for v in values]
        for position in (0, 1, 2, 5):
            expected = [e[position] if len(e) > position else -1 for e in encoded]
            assert byte_at(text, position).tolist() == expected
        assert last_byte(text).tolist() == [e[-1] if e else -1 for e in encoded]


def test_plain_ascii_text_is_lowered_and_trimmed_as_the_unicode_kernels_do() -> None:
    """`is_plain_ascii` picks Arrow's ASCII kernels only where they agree with the Unicode ones:
    the separators \\x1c-\\x1f, non-ASCII text and nulls take the Unicode path."""
    for seed in range(4):
        values = _random_texts(seed)
        ascii_only = values.filter(pc.string_is_ascii(values))
        for array in (values, ascii_only, pa.array([" N/A\x1c", "x"]), pa.array(["a", None])):
            if is_plain_ascii(array):
                fast = pc.ascii_lower(pc.ascii_trim_whitespace(array))
                assert fast.equals(pc.utf8_lower(pc.utf8_trim_whitespace(array)))
        assert is_plain_ascii(pa.array(["a\tB ", "c"]))
        assert not is_plain_ascii(pa.array([" N/A\x1c"])) and not is_plain_ascii(pa.array(["é"]))
        assert not is_plain_ascii(pa.array(["a", None]))


def test_missing_markers_found_through_the_prefilter_are_the_plain_check() -> None:
    """The first-byte and length prefilter never hides a marker: the verdicts equal Arrow's
    trim, lower-case and compare on every value, for markers in any case and dress."""
    import pandas as pd

    from core.agents.profile.inference import _MARKER_SET, MISSING_MARKERS, _normalised, is_missing

    markers = sorted(MISSING_MARKERS)
    dressed = [m.upper() for m in markers] + [m.title() for m in markers] + [f" {m}\t" for m in markers]
    others = ["100000", "+1 726-555-2975", "nano", "NAN1", "Ｎ/A", "\u212a"]  # none is a marker
    others += ["\xa0n/a\xa0", "ｎａ", "-1", "#1", "?x"]
    rng = np.random.default_rng(3)
    values = [*markers, *dressed, *others, *rng.choice(markers + others, 500).tolist()]
    array = pa.array(values, type=pa.large_string())
    plain = pc.is_in(_normalised(array), value_set=_MARKER_SET).to_numpy(zero_copy_only=False)
    got = is_missing(pd.Series(pd.arrays.ArrowStringArray(array))).to_numpy()
    assert np.array_equal(got, plain)
    assert got[: len(markers) * 4].all() and not got[len(markers) * 4 : len(markers) * 4 + 6].any()
