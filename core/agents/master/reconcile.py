"""The `reconcile` agent: where sources disagree about the same entity, and who is missing where.

For each entity found in several files, a field is in conflict when the files hold different
values for it (compared by match key, so "Smith" and "SMITH " agree). Every record value
involved is listed next to the golden value, so a steward can see which source to correct.
Records whose entity appears in one file only are listed too: with two or more sources those
are the customers one system knows and the other does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.master.cluster import field_values, source_ranks
from core.agents.master.golden import field_keys
from core.agents.master.state import requires

AGENT_ID = "reconcile"
CONFLICT = "values differ between sources"
SINGLE_SOURCE = "only in one source"
COLUMNS = ["entity_id", "kind", "field", "source_file", "source_row", "value", "golden_value"]


class ReconcileAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        run = requires(context, AGENT_ID, "cluster", "entity_codes")
        result = AgentResult()
        entity = run.entity_codes  # entity numbers, in entity id order
        names = run.entity_names
        source_file = run.records["source"].map(run.source_names).to_numpy(dtype=object)
        source_row = run.records["row"].to_numpy() + 1
        spread = pd.DataFrame({"entity": entity, "source": source_ranks(run)}).drop_duplicates()
        several = np.bincount(spread["entity"].to_numpy(), minlength=len(names)) > 1
        in_several = several[entity]
        golden = run.golden  # one row per entity number
        parts: list[pd.DataFrame] = []
        per_field: dict[str, int] = {}
        for item in run.fields:
            if len(item.columns) < 2:
                continue  # only one file has this field: nothing to disagree about
            values = field_values(context, run, item)
            keys = field_keys(run, item, values)
            frame = pd.DataFrame({"entity": entity, "key": keys, "position": np.arange(len(entity))})
            frame = frame[in_several & (keys != "")]
            distinct = frame.groupby("entity")["key"].nunique()
            conflicted = distinct[distinct > 1].index
            if len(conflicted) == 0:
                continue
            rows = frame[frame["entity"].isin(conflicted)]
            at = rows["position"].to_numpy()
            at_entity = rows["entity"].to_numpy()
            golden_value = golden[item.name].to_numpy()[at_entity] if golden is not None else ""
            parts.append(
                pd.DataFrame(
                    {
                        "entity": rows["entity"].to_numpy(),
                        "kind": CONFLICT,
                        "field": item.name,
                        "source_file": source_file[at],
                        "source_row": source_row[at],
                        "value": values[at],
                        "golden_value": golden_value,
                    }
                )
            )
            per_field[item.name] = len(conflicted)
        single = np.flatnonzero(~in_several) if len(context.tables) > 1 else np.empty(0, np.int64)
        if len(single):
            parts.append(
                pd.DataFrame(
                    {
                        "entity": entity[single],
                        "kind": SINGLE_SOURCE,
                        "field": "",
                        "source_file": source_file[single],
                        "source_row": source_row[single],
                        "value": "",
                        "golden_value": "",
                    }
                )
            )
        if parts:
            conflicts = pd.concat(parts, ignore_index=True)
            conflicts = conflicts.sort_values(
                ["entity", "kind", "field", "source_file", "source_row"], kind="stable"
            )
            conflicts.insert(0, "entity_id", names[conflicts.pop("entity").to_numpy()])
        else:
            conflicts = pd.DataFrame(columns=COLUMNS)
        result.artifacts["conflicts.csv"] = conflicts.reset_index(drop=True)
        only = pd.Series(source_file[single]).value_counts() if len(single) else pd.Series(dtype=int)
        entities_single = len(np.unique(entity[single]))
        result.metrics = {
            "entities_in_several_sources": len(several),
            "entities_with_conflicts": int(
                conflicts.loc[conflicts["kind"] == CONFLICT, "entity_id"].nunique() if len(conflicts) else 0
            ),
            "conflicts_by_field": per_field,
            "entities_in_one_source_only": entities_single,
            "records_in_one_source_only": {str(k): int(v) for k, v in only.items()},
        }
        for name, count in sorted(per_field.items(), key=lambda x: -x[1]):
            result.alerts.append(
                Finding(
                    severity="medium",
                    agent=AGENT_ID,
                    code="SOURCES_DISAGREE",
                    message=f"{count:,} entities have different '{name}' values in different files; "
                    "see conflicts.csv.",
                    column=name,
                    count=count,
                )
            )
        if len(context.tables) > 1 and entities_single:
            result.alerts.append(
                Finding(
                    severity="info",
                    agent=AGENT_ID,
                    code="ONLY_IN_ONE_SOURCE",
                    message=f"{entities_single:,} entities appear in one file only; see conflicts.csv.",
                    count=entities_single,
                )
            )
        return result
