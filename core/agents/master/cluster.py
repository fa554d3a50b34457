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
    """`E-` and 16 hex digits: the smallest record hash of each component. Two components
    holding identical records (same content, never matched) get `-2`, `-3`... in record order."""
    frame = pd.DataFrame({"component": components, "hash": hashes})
    smallest = frame.groupby("component", sort=True)["hash"].min()
    base = pd.Series([f"E-{int(h):016x}" for h in smallest.to_numpy()], index=smallest.index)
    repeat = base.groupby(base).cumcount()
    base = base.where(repeat == 0, base + "-" + (repeat + 1).astype(str))
    return base.reindex(components).to_numpy()


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
        ids = entity_ids(components, record_hashes(context, run))
        run.entity_ids = pd.Series(ids, index=run.records.index, dtype="str")
        sizes = run.entity_ids.map(run.entity_ids.value_counts())
        context.progress(0.7, "Writing clusters.csv")
        result = AgentResult(artifacts={"clusters.csv": clusters_frame(context, run, sizes)})
        result.metrics = cluster_metrics(run, sizes)
        return result


def clusters_frame(context: AgentContext, run: MasterRun, sizes: pd.Series) -> pd.DataFrame:
    """Every input record: its entity, the entity's size, where it came from, and its values
    under the aligned field names (so records of different files line up)."""
    records = run.records
    out = pd.DataFrame(
        {
            "entity_id": run.entity_ids.to_numpy(),
            "entity_size": sizes.to_numpy(np.int64),
            "source_file": records["source"].map(run.source_names).to_numpy(),
            "source_row": records["row"].to_numpy() + 1,
        }
    )
    for item in run.fields:
        out[item.name] = field_values(context, run, item)
    return out.sort_values(["entity_id", "source_file", "source_row"], kind="stable").reset_index(drop=True)


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


def cluster_metrics(run: MasterRun, sizes: pd.Series) -> dict[str, Any]:
    per_entity = run.entity_ids.value_counts()
    distribution = Counter(per_entity.to_numpy().tolist())
    sources_per_entity = run.records.groupby(run.entity_ids.to_numpy())["source"].nunique()
    return {
        "records": len(run.records),
        "entities": len(per_entity),
        "records_merged": int(len(run.records) - len(per_entity)),
        "largest_entity": int(per_entity.max()) if len(per_entity) else 0,
        "cluster_sizes": [{"size": int(s), "entities": int(c)} for s, c in sorted(distribution.items())],
        "entities_in_several_sources": int((sources_per_entity > 1).sum()),
        "threshold": run.threshold,
    }
