"""The `cluster` agent: matched pairs become entities, each with an id that survives a re-run.

Entities are the connected components of the match graph (A matches B and B matches C: one
entity). The `entity_id` is derived from the content of the entity's records, not from row
order or a counter, so running the same data again, or the same data sorted differently,
gives every entity the same id.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult
from core.agents.master.state import MasterRun, requires

AGENT_ID = "cluster"


def connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label per node (the smallest node of its component): union-find with path
    halving, then every node pointed at its root."""
    parent = np.arange(n, dtype=np.int64)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    while True:  # pointer jumping until every node points at its root
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def record_hashes(context: AgentContext, run: MasterRun) -> np.ndarray:
    """A 64-bit hash of each record's content (its file's values, in its file's column order),
    stable across runs (pandas hashes with a fixed key)."""
    parts = []
    for table in context.tables.values():
        frame = table.frame.astype("str").fillna("")
        parts.append(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64))
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def entity_ids(components: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """`E-` and 16 hex digits per record: the smallest record hash of its component. Two
    components holding identical records (same content, never matched) get `-2`, `-3`... in
    record order."""
    codes, names = entity_codes(components, hashes)
    return names[codes]


def entity_codes(components: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per record a dense entity number, numbered in the order of the entity ids (so sorting
    by number sorts by id), and the ids themselves. Everything after clustering groups by the
    number: grouping a million text ids costs seconds, a million integers milliseconds."""
    dense = np.unique(components, return_inverse=True)[1].astype(np.int64)
    count = int(dense.max()) + 1 if len(dense) else 0
    smallest = np.full(count, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(smallest, dense, hashes.astype(np.uint64))
    first_record = np.full(count, len(dense), dtype=np.int64)
    np.minimum.at(first_record, dense, np.arange(len(dense), dtype=np.int64))
    names = np.array([f"E-{int(h):016x}" for h in smallest.tolist()], dtype=object)
    # identical records in separate entities: -2, -3... by the entity's first record
    order = np.lexsort((first_record, smallest))
    repeat = np.zeros(count, dtype=np.int64)
    same = np.concatenate(([False], smallest[order][1:] == smallest[order][:-1]))
    runs = np.cumsum(~same) - 1
    starts = np.flatnonzero(~same)
    repeat[order] = np.arange(count) - starts[runs]
    names = np.where(repeat == 0, names, names + "-" + (repeat + 1).astype(str).astype(object))
    rank = np.empty(count, dtype=np.int64)
    by_name = np.argsort(names.astype(str), kind="stable")
    rank[by_name] = np.arange(count)
    return rank[dense], names[by_name]


class ClusterAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        run = requires(context, AGENT_ID, "match", "pairs")
        threshold = float(run.threshold or 0.0)
        matched = run.pairs[run.pairs["match_probability"] >= threshold]
        n = len(run.records)
        context.progress(0.2, "Joining matched pairs into entities")
        components = connected_components(
            n, matched["unique_id_l"].to_numpy(np.int64), matched["unique_id_r"].to_numpy(np.int64)
        )
        run.entity_codes, run.entity_names = entity_codes(components, record_hashes(context, run))
        run.entity_ids = pd.Series(run.entity_names[run.entity_codes], index=run.records.index, dtype="str")
        sizes = np.bincount(run.entity_codes, minlength=len(run.entity_names))
        context.progress(0.7, "Writing clusters.csv")
        result = AgentResult(artifacts={"clusters.csv": clusters_frame(context, run, sizes)})
        result.metrics = cluster_metrics(run, sizes)
        return result


def clusters_frame(context: AgentContext, run: MasterRun, sizes: np.ndarray) -> pd.DataFrame:
    """Every input record: its entity, the entity's size, where it came from, and its values
    under the aligned field names (so records of different files line up), by entity."""
    records = run.records
    codes = run.entity_codes
    columns = {
        "entity_id": run.entity_ids.to_numpy(),
        "entity_size": sizes[codes],
        "source_file": records["source"].map(run.source_names).to_numpy(),
        "source_row": records["row"].to_numpy() + 1,
    }
    for item in run.fields:  # gathered, then framed once (a column at a time is quadratic)
        columns[item.name] = field_values(context, run, item)
    out = pd.DataFrame(columns)
    order = np.lexsort((records["row"].to_numpy(), source_ranks(run), codes))
    return out.iloc[order].reset_index(drop=True)


def source_ranks(run: MasterRun) -> np.ndarray:
    """Each record's file as its position in the task's slots (primary 0, secondary 1...)."""
    return run.records["source"].map({slot: i for i, slot in enumerate(run.source_names)}).to_numpy(np.int64)


def field_values(context: AgentContext, run: MasterRun, item: Any) -> np.ndarray:
    """The file's own text of one field for every record (empty where a file lacks it)."""
    parts = []
    for table in context.tables.values():
        column = item.columns.get(table.file_key)
        if column is None:
            parts.append(np.full(len(table.frame), "", dtype=object))
        else:
            parts.append(table.frame[column].astype("str").fillna("").to_numpy(dtype=object))
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


def cluster_metrics(run: MasterRun, sizes: np.ndarray) -> dict[str, Any]:
    distribution = Counter(sizes.tolist())
    pairs = pd.DataFrame({"entity": run.entity_codes, "source": source_ranks(run)}).drop_duplicates()
    several = int((np.bincount(pairs["entity"].to_numpy(), minlength=len(sizes)) > 1).sum())
    return {
        "records": len(run.records),
        "entities": len(sizes),
        "records_merged": int(len(run.records) - len(sizes)),
        "largest_entity": int(sizes.max()) if len(sizes) else 0,
        "cluster_sizes": [{"size": int(s), "entities": int(c)} for s, c in sorted(distribution.items())],
        "entities_in_several_sources": several,
        "threshold": run.threshold,
    }
