"""Plain-English explanations of a scored pair, from its per-field levels and weights.

"same date of birth and postcode, surname differs by one letter: strong match" tells a data
steward why two records were merged without opening the model. The sentence is built from the
same per-field weights the match-weight chart draws, so the words and the chart agree.
"""

from __future__ import annotations

from collections.abc import Mapping

LEVEL_PHRASES = {
    "exact": "same {field}",
    "one_edit": "{field} differs by one letter",
    "close": "{field} very similar",
    "similar": "{field} similar",
    "same_year": "{field} in the same year",
    "tokens": "{field} shares most words",
    "same_user": "{field} has the same mailbox name",
    "last_digits": "{field} ends with the same digits",
    "else": "{field} differs",
}
NEUTRAL_WEIGHT = 0.5  # |weight| below this (in bits) is not worth a word


def strength(probability: float, threshold: float) -> str:
    if probability >= max(threshold, 0.999):
        return "strong match"
    if probability >= threshold:
        return "match"
    if probability >= 0.5:
        return "possible match, below the threshold"
    return "not a match"


def explain_pair(
    levels: Mapping[str, str | None], weights: Mapping[str, float], probability: float, threshold: float
) -> str:
    """One sentence: the agreeing fields, strongest first; then the disagreeing ones; then
    the verdict. `levels` maps field name to level label (None when either value is missing)."""
    agree: list[tuple[float, str]] = []
    differ: list[tuple[float, str]] = []
    same: list[str] = []
    for name, label in levels.items():
        if label is None:
            continue
        weight = float(weights.get(name, 0.0))
        if label == "exact" and weight >= NEUTRAL_WEIGHT:
            same.append(name)
            continue
        phrase = LEVEL_PHRASES.get(label, "{field}: " + label).format(field=name)
        if weight >= NEUTRAL_WEIGHT:
            agree.append((weight, phrase))
        elif weight <= -NEUTRAL_WEIGHT:
            differ.append((weight, phrase))
    parts = []
    if same:
        ordered = sorted(same, key=lambda n: -float(weights.get(n, 0.0)))
        parts.append("same " + _join(ordered))
    parts.extend(p for _, p in sorted(agree, key=lambda x: -x[0]))
    parts.extend(p for _, p in sorted(differ, key=lambda x: x[0]))
    evidence = ", ".join(parts) if parts else "nothing in common that counts"
    return f"{evidence}: {strength(probability, threshold)}"


def _join(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
