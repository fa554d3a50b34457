"""The `standardise` agent: which columns hold the same thing, and their match keys.

It pairs the columns of every file with the primary file's (by header and content, or as the
`column_mapping` parameter says), works out what each field is (a name, a date...) and
rewrites every value into a match key. The keys feed the model only; no output value changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.agents.base import AgentContext, AgentResult, Finding
from core.agents.master.fields import align_fields, parse_mapping
from core.agents.master.keys import column_keys
from core.agents.master.state import CACHE_KEY, MasterRun

AGENT_ID = "standardise"


class StandardiseAgent:
    id = AGENT_ID

    def run(self, context: AgentContext) -> AgentResult:
        result = AgentResult()
        try:
            mapping = parse_mapping(str(context.parameters.get("column_mapping") or ""))
        except ValueError as error:
            mapping = []
            result.alerts.append(_mapping_alert(str(error)))
        fields, problems = align_fields(context, mapping)
        result.alerts.extend(_mapping_alert(p) for p in problems)
        frames = []
        next_id = 0
        used = [f for f in fields if f.used]
        for index, table in enumerate(context.tables.values()):
            n = len(table.frame)
            frame = pd.DataFrame(
                {
                    "unique_id": np.arange(next_id, next_id + n, dtype=np.int64),
                    "source": pd.Series([table.file_key] * n, dtype="str"),
                    "row": np.arange(n, dtype=np.int64),
                }
            )
            next_id += n
            for item in used:
                column = item.columns.get(table.file_key)
                if column is None:
                    frame[item.key] = pd.Series([None] * n, dtype="str")
                else:
                    frame[item.key] = column_keys(context, table, column, item.kind).to_numpy()
            frames.append(frame)
            context.progress((index + 1) / len(context.tables), f"Match keys for {table.filename}")
        records = pd.concat(frames, ignore_index=True)
        for item in used:
            records[item.key] = records[item.key].astype("str")
        context.cache[CACHE_KEY] = MasterRun(
            fields=fields,
            records=records,
            source_names={t.file_key: t.filename for t in context.tables.values()},
        )
        result.metrics = {
            "records": len(records),
            "sources": len(context.tables),
            "fields": [f.to_dict() for f in fields],
            "fields_compared": len(used),
            "column_mapping": {
                table.file_key: {
                    f.columns[table.file_key]: f.name for f in fields if table.file_key in f.columns
                }
                for table in list(context.tables.values())[1:]
            },
        }
        return result


def _mapping_alert(message: str) -> Finding:
    return Finding(
        severity="high",
        agent=AGENT_ID,
        code="COLUMN_MAPPING_IGNORED",
        message=f"{message} This entry of the column mapping was ignored.",
    )
