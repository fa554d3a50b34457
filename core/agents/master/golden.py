"""The `golden_record` agent: one best record per entity, each value with its source.

For every field the survivorship rule (`survivorship.py`) picks the record whose value
survives; the golden record then carries, beside each value, the file and row it came from,
so a data steward can trace and trust every cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.master.cluster import field_values
from core.agents.master.fields import MatchField
from core.agents.master.keys import column_keys
from core.agents.master.state import MasterRun, requires
from core.agents.master.survivorship import default_rule, parse_overrides, pick

AGENT_ID = "golden_record"


def _source_ranks(context: AgentContext, run: MasterRun, result: AgentResult) -> np.ndarray:
    """Rank of each record's file in `source_priority` (default: the slots' order)."""
    order = list(context.tables)
    wanted = [s.strip() for s in str(context.parameters.get("source_priority") or "").split(",") if s.strip()]
    unknown = [s for s in wanted if s not in order]
    if unknown:
        result.alerts.append(
            Finding(
                severity="medium",
                agent=AGENT_ID,
                code="SOURCE_PRIORITY_IGNORED",
                message=f"source_priority names {', '.join(unknown)}, which hold no file; "
                f"the files that do are: {', '.join(order)}.",
            )
        )
    ranked = [s for s in wanted if s in order] + [s for s in order if s not in wanted]
    return run.records["source"].map({s: i for i, s in enumerate(ranked)}).to_numpy(np.int64)


def _recency(context: AgentContext, run: MasterRun, result: AgentResult) -> np.ndarray | None:
    """Each record's date in the `recency_column` (a field name) as a number, NaN where unknown."""
    wanted = str(context.parameters.get("recency_column") or "").strip()
    if not wanted:
        return None
    item = next((f for f in run.fields if f.name == wanted or wanted in f.columns.values()), None)
    if item is None:
        result.alerts.append(
            Finding(
                severity="medium",
                agent=AGENT_ID,
                code="RECENCY_COLUMN_UNKNOWN",
                message=f"recency_column '{wanted}' is not a column of the files; "
                "'most recent' rules fell back to 'most frequent'.",
            )
        )
        return None
    parts = []
    for table in context.tables.values():
        column = item.columns.get(table.file_key)
        if column is None:
            parts.append(np.full(len(table.frame), np.nan))
            continue
        iso = column_keys(context, table, column, "date")
        stamps = pd.to_datetime(iso, errors="coerce", format="%Y-%m-%d")
        parts.append(stamps.astype("int64").where(stamps.notna()).to_numpy(dtype=float))
    return np.concatenate(parts)


def field_keys(run: MasterRun, item: MatchField, values: np.ndarray) -> np.ndarray:
    """What decides whether two values of a field are the same: its match key when the field
    is compared, else its trimmed lower-case text ("" where missing)."""
    if item.used:
        return run.records[item.key].fillna("").to_numpy(dtype=object)
    return pd.Series(values, dtype="str").fillna("").str.strip().str.lower().to_numpy(dtype=object)


def entity_sources(run: MasterRun, entity: np.ndarray) -> pd.Series:
    """Per entity, the files its records come from ("a.csv; b.csv"): one bit per file, summed
    over the entity's distinct files, so a million entities cost one group-by, not a million
    Python calls."""
    slots = list(run.source_names)
    bits = run.records["source"].map({slot: 1 << i for i, slot in enumerate(slots)}).to_numpy(np.int64)
    pairs = pd.DataFrame({"entity": entity, "bit": bits}).drop_duplicates()
    masks = pairs.groupby("entity")["bit"].sum()
    names = {
        mask: "; ".join(sorted(run.source_names[s] for i, s in enumerate(slots) if mask >> i & 1))
        for mask in masks.unique().tolist()
    }
    return masks.map(names)


class GoldenRecordAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        run = requires(context, AGENT_ID, "cluster", "entity_codes")
        result = AgentResult()
        overrides, problems = parse_overrides(str(context.parameters.get("survivorship") or ""))
        for problem in problems:
            result.alerts.append(
                Finding(severity="medium", agent=AGENT_ID, code="SURVIVORSHIP_RULE_IGNORED", message=problem)
            )
        ranks = _source_ranks(context, run, result)
        recency = _recency(context, run, result)
        entity = run.entity_codes  # entity numbers, in entity id order
        entities = pd.RangeIndex(len(run.entity_names))
        values_by_field = {f.key: field_values(context, run, f) for f in run.fields}
        filled = np.zeros(len(entity), dtype=np.int64)
        for values in values_by_field.values():
            filled += (pd.Series(values, dtype="str").fillna("").str.strip() != "").to_numpy()
        # columns are gathered first and framed once: inserting three columns per field into a
        # growing frame costs quadratic time on a file with thousands of columns
        columns: dict[str, Any] = {
            "entity_id": run.entity_names,
            "records": np.bincount(entity, minlength=len(entities)),
            "sources": entity_sources(run, entity).reindex(entities).to_numpy(),
        }
        known = {f.name for f in run.fields} | {c for f in run.fields for c in f.columns.values()}
        for column in overrides:
            if column not in known:
                result.alerts.append(
                    Finding(
                        severity="medium",
                        agent=AGENT_ID,
                        code="SURVIVORSHIP_RULE_IGNORED",
                        message=f"survivorship names '{column}', which is not a column of the files.",
                    )
                )
        rules_used: list[dict[str, Any]] = []
        source_file = run.records["source"].map(run.source_names).to_numpy(dtype=object)
        source_row = run.records["row"].to_numpy() + 1
        for index, item in enumerate(run.fields):
            rule = next(
                (overrides[c] for c in (item.name, *item.columns.values()) if c in overrides),
                default_rule(item.kind, recency is not None),
            )
            if rule == "most_recent" and recency is None:
                rule = "most_frequent"
            values = values_by_field[item.key]
            chosen = pick(rule, entity, values, field_keys(run, item, values), filled, ranks, recency)
            positions = chosen.reindex(entities)
            has = positions.notna().to_numpy()
            at = positions.fillna(0).astype(np.int64).to_numpy()
            columns[item.name] = np.where(has, values[at], "")
            columns[f"{item.name} source"] = np.where(has, source_file[at], "")
            columns[f"{item.name} row"] = pd.Series(source_row[at], dtype="Int64").where(has).array
            rules_used.append({"field": item.name, "kind": item.kind, "rule": rule})
            context.progress((index + 1) / len(run.fields), f"Golden values for {item.name}")
        golden = pd.DataFrame(columns)
        run.golden = golden
        result.artifacts["golden_records.csv"] = golden
        result.metrics = {
            "golden_records": len(golden),
            "from_several_records": int((golden["records"] > 1).sum()),
            "survivorship": rules_used,
            "source_priority": _priority_list(ranks, run),
        }
        return result


def _priority_list(ranks: np.ndarray, run: MasterRun) -> list[str]:
    """The files in the order their values win ties."""
    first = pd.DataFrame({"rank": ranks, "source": run.records["source"]}).drop_duplicates("rank")
    return [run.source_names[s] for s in first.sort_values("rank")["source"]]
