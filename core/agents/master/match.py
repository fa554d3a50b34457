"""The `match` agent: score record pairs with a Splink model nobody had to configure.

Blocking rules are chosen from the data within a pair budget (`blocking.py`), the model from
the fields' kinds (`model.py`), trained without labels, then every blocked pair is scored.
Pairs at or above the `match_threshold` probability are matches. The scored pairs go to
`matches.csv` with each field's agreement level and weight; the report gets the score
distribution and a few pairs explained in plain English.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.master.blocking import choose_rules
from core.agents.master.explain import explain_pair
from core.agents.master.model import KEPT_PROBABILITY, train
from core.agents.master.state import MasterRun, master_run

AGENT_ID = "match"
DEFAULT_THRESHOLD = 0.95
SAMPLE_PAIRS = 12


class MatchAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        run = master_run(context, AGENT_ID)
        threshold = float(context.parameters.get("match_threshold") or DEFAULT_THRESHOLD)
        result = AgentResult()
        used = run.used_fields
        if len(run.records) < 2 or not used:
            run.pairs, run.threshold = _empty_pairs(run), threshold
            result.alerts.append(_nothing_to_compare(len(run.records), len(used)))
            result.metrics = {"threshold": threshold, "pairs_scored": 0, "pairs_matched": 0}
            return result
        context.progress(0.05, "Choosing blocking rules")
        rules, considered = choose_rules(run.records, run.fields)
        if not rules:
            run.pairs, run.threshold = _empty_pairs(run), threshold
            result.alerts.append(_nothing_to_compare(len(run.records), 0))
            result.metrics = {"threshold": threshold, "pairs_scored": 0, "blocking_rules": considered}
            return result
        context.progress(0.1, "Training the model (no labels needed)")
        model = train(run.records, run.fields, rules)
        try:
            context.progress(0.6, "Scoring record pairs")
            predictions = model.linker.inference.predict()
            table = predictions.physical_name
            total = int(model.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            histogram = _histogram(model.con, table)
            gammas = ", ".join(f"gamma_{f.key}, mw_{f.key}" for f in used)
            kept = model.con.execute(
                f"SELECT unique_id_l, unique_id_r, match_weight, match_probability, {gammas} "
                f"FROM {table} WHERE match_probability >= {KEPT_PROBABILITY}"
            ).df()
            settings = model.linker.misc.save_model_to_json()
        finally:
            model.close()
        context.progress(0.9, "Writing the scored pairs")
        labels = _level_labels(settings)
        pairs = _pairs_frame(kept, used, labels)
        run.pairs, run.threshold, run.score_histogram = pairs, threshold, histogram
        matched = int((pairs["match_probability"] >= threshold).sum())
        prior = float(settings["probability_two_random_records_match"])
        result.artifacts["matches.csv"] = matches_csv(run, pairs, threshold)
        samples = _sample_explanations(run, pairs, threshold)
        if samples:  # the report's sample of explained pairs, also as a sheet of report.xlsx
            result.artifacts["match_explanations.csv"] = pd.DataFrame(samples)
        result.metrics = {
            "threshold": threshold,
            "pairs_scored": total,
            "pairs_listed": len(pairs),
            "pairs_matched": matched,
            "prior_match_weight": math.log2(prior / (1 - prior)),
            "probability_two_random_records_match": prior,
            "blocking_rules": [{**r.to_dict(), "sql": r.sql()} for r in rules],
            "blocking_rules_considered": considered,
            "training_rules": model.training_rules,
            "training_rules_skipped": model.skipped_rules,
            "score_histogram": histogram,
            "field_levels": _level_weights(settings, used),
            "sample_pairs": samples,
        }
        if matched == 0:
            result.alerts.append(
                Finding(
                    severity="info",
                    agent=AGENT_ID,
                    code="NO_MATCHES",
                    message="No two records scored above the match threshold: "
                    "every record is its own entity.",
                )
            )
        return result


def _nothing_to_compare(records: int, fields: int) -> Finding:
    reason = "fewer than two records" if records < 2 else "no column that can tell records apart"
    return Finding(
        severity="high",
        agent=AGENT_ID,
        code="NOTHING_TO_MATCH",
        message=f"There is {reason}, so no pairs were scored (fields compared: {fields}).",
    )


def _empty_pairs(run: MasterRun) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "unique_id_l": np.empty(0, np.int64),
        "unique_id_r": np.empty(0, np.int64),
        "match_weight": np.empty(0),
        "match_probability": np.empty(0),
    }
    for item in run.used_fields:
        columns[f"level_{item.key}"] = pd.Series([], dtype="str")
        columns[f"weight_{item.key}"] = np.empty(0)
    return pd.DataFrame(columns)


def probability_of(weight: float) -> float:
    """Match probability of a match weight (log2 odds), safe for any weight."""
    return 1 / (1 + 2 ** -min(max(weight, -1000.0), 1000.0))


def _histogram(con: Any, table: str) -> list[dict[str, Any]]:
    """Scored pairs per one-unit bin of match weight (log2 odds): the whole distribution,
    including the pairs too weak to be listed."""
    rows = con.execute(
        f"SELECT floor(match_weight) AS low, count(*) AS n FROM {table} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [
        {
            "weight_from": float(low),
            "weight_to": float(low) + 1,
            "probability_from": probability_of(float(low)),
            "pairs": int(n),
        }
        for low, n in rows
        if low is not None
    ]


def _level_labels(settings: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Per comparison, gamma value -> level label (null level -1, the rest counting down)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        labels[comparison["output_column_name"]] = {
            len(levels) - 1 - i: str(lv.get("label_for_charts") or i) for i, lv in enumerate(levels)
        }
    return labels


def _level_weights(settings: dict[str, Any], used: list) -> list[dict[str, Any]]:
    names = {f.key: f.name for f in used}
    out = []
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            out.append(
                {
                    "field": names.get(comparison["output_column_name"], comparison["output_column_name"]),
                    "level": level.get("label_for_charts"),
                    "m_probability": m,
                    "u_probability": u,
                    "match_weight": weight,
                }
            )
    return out


def _pairs_frame(kept: pd.DataFrame, used: list, labels: dict[str, dict[int, str]]) -> pd.DataFrame:
    """The kept pairs with each field's level label (None when a value is missing) and weight
    in bits (log2 of its Bayes factor, Splink's `mw_`), strongest pairs first."""
    frame = pd.DataFrame(
        {
            "unique_id_l": kept["unique_id_l"].astype(np.int64),
            "unique_id_r": kept["unique_id_r"].astype(np.int64),
            "match_weight": kept["match_weight"].astype(float),
            "match_probability": kept["match_probability"].astype(float),
        }
    )
    for item in used:
        gamma = kept[f"gamma_{item.key}"].to_numpy()
        lookup = labels.get(item.key, {})
        size = max(lookup, default=0) + 2
        table = np.array([None, *[lookup.get(g) for g in range(size - 1)]], dtype=object)
        frame[f"level_{item.key}"] = pd.Series(table[np.clip(gamma + 1, 0, size - 1)], dtype="str")
        frame[f"weight_{item.key}"] = kept[f"mw_{item.key}"].astype(float).to_numpy()
    order = np.lexsort((frame["unique_id_r"], frame["unique_id_l"], -frame["match_weight"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def matches_csv(run: MasterRun, pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """`matches.csv`: each listed pair by file and row (1 = first data row), its score, the
    decision and every field's agreement level and weight."""
    records = run.records
    left = records.iloc[pairs["unique_id_l"].to_numpy()]
    right = records.iloc[pairs["unique_id_r"].to_numpy()]
    names = run.source_names
    out = pd.DataFrame(
        {
            "left_file": left["source"].map(names).to_numpy(),
            "left_row": left["row"].to_numpy() + 1,
            "right_file": right["source"].map(names).to_numpy(),
            "right_row": right["row"].to_numpy() + 1,
            "match_probability": pairs["match_probability"].round(6).to_numpy(),
            "match_weight": pairs["match_weight"].round(3).to_numpy(),
            "decision": np.where(pairs["match_probability"].to_numpy() >= threshold, "match", "no match"),
        }
    )
    for item in run.used_fields:
        out[f"{item.name} level"] = pairs[f"level_{item.key}"].to_numpy()
        out[f"{item.name} weight"] = pairs[f"weight_{item.key}"].round(3).to_numpy()
    return out


def pair_explanation(run: MasterRun, pair: pd.Series, threshold: float) -> str:
    used = run.used_fields
    levels = {
        f.name: (None if pd.isna(pair[f"level_{f.key}"]) else str(pair[f"level_{f.key}"])) for f in used
    }
    weights = {f.name: float(pair[f"weight_{f.key}"]) for f in used}
    return explain_pair(levels, weights, float(pair["match_probability"]), threshold)


def _sample_explanations(run: MasterRun, pairs: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    """A few pairs worth reading: the strongest, those just above and just below the threshold."""
    if pairs.empty:
        return []
    probability = pairs["match_probability"].to_numpy()
    above = np.flatnonzero(probability >= threshold)
    below = np.flatnonzero(probability < threshold)
    picks = [*above[:4], *above[-4:], *below[:4]]
    sample = []
    for position in dict.fromkeys(int(p) for p in picks):
        pair = pairs.iloc[position]
        left, right = run.records.iloc[int(pair["unique_id_l"])], run.records.iloc[int(pair["unique_id_r"])]
        sample.append(
            {
                "left": f"{run.source_names[left['source']]} row {int(left['row']) + 1}",
                "right": f"{run.source_names[right['source']]} row {int(right['row']) + 1}",
                "match_probability": round(float(pair["match_probability"]), 6),
                "explanation": pair_explanation(run, pair, threshold),
            }
        )
    return sample[:SAMPLE_PAIRS]
