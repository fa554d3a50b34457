"""The results of master-my-data: how many records became how many entities, a browser of
entities (golden record above its records, differing values highlighted), the score histogram
with the threshold, and any scored pair as a match-weight waterfall with its explanation.

Everything drawn here comes from the task's own outputs (report.json and the CSVs the agents
wrote), read through the task service; the explanations use the same core function as the
report, so the screen and the files never disagree.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.csv as pacsv
import streamlit as st

from core.agents.master.explain import explain_pair
from core.services import Services
from core.users import UserView

TOOL_ID = "master-my-data"
MAX_ENTITY_CHOICES = 500
MAX_PAIR_CHOICES = 300
HIGHLIGHT = "background-color: #FEF0C7; color: #7A2E0E; font-weight: 600"
SOURCE_COLUMNS = ("entity_id", "entity_size", "source_file", "source_row")


def csv_table(data: bytes) -> pd.DataFrame:
    """A CSV output as text columns, "" where empty (Arrow's reader: a million rows in seconds)."""
    header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")]), [])
    read = pacsv.ReadOptions(encoding="utf-8-sig")
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False)
    return pacsv.read_csv(io.BytesIO(data), read_options=read, convert_options=convert).to_pandas().fillna("")


@st.cache_data(show_spinner=False, max_entries=8)
def _load(user_id: int, task_id: str, name: str, _svc: Services) -> pd.DataFrame | None:
    """One output table of a finished task, read once per session (outputs never change)."""
    data = _svc.tasks.read_output(user_id, task_id, name)
    return None if data is None else csv_table(data)


def _output(svc: Services, user: UserView, task: dict[str, Any], name: str) -> pd.DataFrame | None:
    return _load(user.id, task["task_id"], name, svc)


def _metrics(report: dict[str, Any], agent: str) -> dict[str, Any]:
    return ((report.get("agents") or {}).get(agent) or {}).get("metrics") or {}


def weight_of(probability: float) -> float:
    probability = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))


def score_histogram(histogram: list[dict[str, Any]], threshold: float) -> go.Figure:
    """Scored pairs per match-weight bin, matches in green, with the threshold marked."""
    cut = weight_of(threshold)
    figure = go.Figure(
        go.Bar(
            x=[(b["weight_from"] + b["weight_to"]) / 2 for b in histogram],
            y=[b["pairs"] for b in histogram],
            width=[b["weight_to"] - b["weight_from"] for b in histogram],
            marker_color=["#12B76A" if b["weight_from"] >= cut else "#98A2B3" for b in histogram],
            customdata=[round(b["probability_from"], 4) for b in histogram],
            hovertemplate="weight %{x}: %{y} pairs (probability from %{customdata})<extra></extra>",
        )
    )
    figure.add_vline(
        x=cut, line_dash="dash", line_color="#D92D20", annotation_text=f"threshold {threshold:g}"
    )
    figure.update_layout(
        title="Match scores of every compared pair",
        xaxis_title="match weight (higher = more alike)",
        yaxis_title="pairs",
        yaxis_type="log",
        bargap=0.05,
        height=340,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def cluster_sizes(sizes: list[dict[str, Any]]) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=[str(s["size"]) for s in sizes],
            y=[s["entities"] for s in sizes],
            marker_color="#1F6FEB",
            hovertemplate="%{y} entities of %{x} record(s)<extra></extra>",
        )
    )
    figure.update_layout(
        title="Entities by number of records",
        xaxis_title="records in the entity",
        yaxis_title="entities",
        xaxis={"type": "category"},
        height=300,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return figure


def waterfall(prior: float, weights: dict[str, float], total: float) -> go.Figure:
    """How a pair's score is built: the prior, then what each field adds or takes away."""
    names = ["starting point", *weights, "final score"]
    values = [prior, *weights.values(), total]
    figure = go.Figure(
        go.Waterfall(
            x=names,
            y=values,
            measure=["absolute", *["relative"] * len(weights), "total"],
            increasing={"marker": {"color": "#12B76A"}},
            decreasing={"marker": {"color": "#F04438"}},
            totals={"marker": {"color": "#1F6FEB"}},
            hovertemplate="%{x}: %{y:+.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Match weight, field by field",
        yaxis_title="match weight (log2 odds)",
        height=380,
        margin={"t": 40, "b": 80, "l": 40, "r": 10},
        xaxis={"type": "category"},
    )
    return figure


def entity_view(records: pd.DataFrame, golden: pd.Series | None, fields: list[str]) -> pd.DataFrame:
    """One entity's records side by side (a column per record), the golden record first."""
    columns: dict[str, list[str]] = {}
    if golden is not None:
        columns["golden record"] = [str(golden.get(f, "")) for f in fields]
    for _, record in records.iterrows():
        columns[f"{record['source_file']} row {record['source_row']}"] = [str(record[f]) for f in fields]
    return pd.DataFrame(columns, index=fields)


def _highlight_differences(view: pd.DataFrame) -> Any:
    """Cells that differ from the golden value (or, without one, from the first record)."""
    reference = view.columns[0]

    def style(row: pd.Series) -> list[str]:
        base = str(row[reference]).strip().lower()
        return ["" if c == reference or str(v).strip().lower() == base else HIGHLIGHT for c, v in row.items()]

    return view.style.apply(style, axis=1)


def _entity_browser(clusters: pd.DataFrame, golden: pd.DataFrame | None) -> None:
    fields = [c for c in clusters.columns if c not in SOURCE_COLUMNS]
    sizes = clusters.drop_duplicates("entity_id")[["entity_id", "entity_size"]]
    sizes = sizes.assign(size=sizes["entity_size"].astype(int)).sort_values(
        ["size", "entity_id"], ascending=[False, True]
    )
    search = st.text_input("Find an entity", placeholder="An entity id or any value, e.g. a surname")
    if search:
        hits = clusters["entity_id"].str.contains(search, case=False, regex=False)
        for field in fields:
            hits |= clusters[field].str.contains(search, case=False, regex=False)
        sizes = sizes[sizes["entity_id"].isin(clusters.loc[hits, "entity_id"])]
    if sizes.empty:
        st.info("No entity matches that search.")
        return
    choices = sizes.head(MAX_ENTITY_CHOICES)
    labels = {
        row.entity_id: f"{row.entity_id} ({row.size} record{'s' if row.size != 1 else ''})"
        for row in choices.itertuples()
    }
    entity = st.selectbox("Entity", list(labels), format_func=labels.get, key="master_entity")
    if len(sizes) > MAX_ENTITY_CHOICES:
        st.caption(
            f"Showing the {MAX_ENTITY_CHOICES} largest of {len(sizes):,} entities; search to find others."
        )
    records = clusters[clusters["entity_id"] == entity]
    record = None
    if golden is not None:
        found = golden[golden["entity_id"] == entity]
        record = found.iloc[0] if len(found) else None
    view = entity_view(records, record, fields)
    st.dataframe(_highlight_differences(view), width="stretch")
    st.caption("Highlighted: values that differ from the golden record.")
    if record is not None:
        provenance = [
            {"field": f, "golden value": record.get(f, ""), "from file": record.get(f"{f} source", ""),
             "row": record.get(f"{f} row", "")}
            for f in fields
            if record.get(f, "")
        ]  # fmt: skip
        with st.expander("Where each golden value came from"):
            st.dataframe(pd.DataFrame(provenance), hide_index=True, width="stretch")


def _pair_explorer(matches: pd.DataFrame, report: dict[str, Any]) -> None:
    match = _metrics(report, "match")
    threshold = float(match.get("threshold") or 0.95)
    prior = float(match.get("prior_match_weight") or 0.0)
    fields = [c[: -len(" level")] for c in matches.columns if c.endswith(" level")]
    shown = matches.head(MAX_PAIR_CHOICES)
    labels = {
        i: f"{r['left_file']} row {r['left_row']} ↔ {r['right_file']} row {r['right_row']} "
        f"(probability {float(r['match_probability']):.3f}, {r['decision']})"
        for i, r in shown.iterrows()
    }
    chosen = st.selectbox("Pair", list(labels), format_func=labels.get, key="master_pair")
    pair = shown.loc[chosen]
    weights = {f: float(pair[f"{f} weight"] or 0.0) for f in fields}
    levels = {f: (pair[f"{f} level"] or None) for f in fields}
    st.markdown(f"**Why:** {explain_pair(levels, weights, float(pair['match_probability']), threshold)}")
    st.plotly_chart(
        waterfall(prior, weights, float(pair["match_weight"])), width="stretch", key="master_waterfall"
    )
    if len(matches) > MAX_PAIR_CHOICES:
        st.caption(
            f"The {MAX_PAIR_CHOICES} highest-scoring of {len(matches):,} listed pairs; matches.csv has all."
        )


def show_master_results(svc: Services, user: UserView, task: dict[str, Any], report: dict[str, Any]) -> None:
    """The matching section of a master-my-data task's results page."""
    cluster = _metrics(report, "cluster")
    match = _metrics(report, "match")
    reconcile = _metrics(report, "reconcile")
    st.subheader("Matching")
    cards = st.columns(4)
    cards[0].metric("Records", f"{cluster.get('records', 0):,}")
    cards[1].metric("Entities", f"{cluster.get('entities', 0):,}")
    cards[2].metric("Records merged", f"{cluster.get('records_merged', 0):,}")
    cards[3].metric("In several files", f"{cluster.get('entities_in_several_sources', 0):,}")
    if not cluster:
        st.info("The cluster agent did not run, so there are no entities to show.")
        return
    tabs = st.tabs(["Entities", "Scores", "Pairs explained", "Conflicts", "How it matched"])
    with tabs[0]:
        clusters = _output(svc, user, task, "clusters.csv")
        if clusters is None:
            st.info("clusters.csv is missing from this task's outputs.")
        else:
            _entity_browser(clusters, _output(svc, user, task, "golden_records.csv"))
    with tabs[1]:
        if match.get("score_histogram"):
            st.plotly_chart(
                score_histogram(match["score_histogram"], float(match["threshold"])),
                width="stretch",
                key="master_scores",
            )
        if cluster.get("cluster_sizes"):
            st.plotly_chart(cluster_sizes(cluster["cluster_sizes"]), width="stretch", key="master_sizes")
    with tabs[2]:
        for sample in match.get("sample_pairs") or []:
            st.markdown(f"- {sample['left']} ↔ {sample['right']}: {sample['explanation']}")
        matches = _output(svc, user, task, "matches.csv")
        if matches is not None and len(matches):
            _pair_explorer(matches, report)
    with tabs[3]:
        conflicts = _output(svc, user, task, "conflicts.csv")
        if conflicts is None or conflicts.empty:
            st.success("No disagreements between sources.", icon="✅")
        else:
            by_field = reconcile.get("conflicts_by_field") or {}
            if by_field:
                st.caption(
                    "Entities with disagreeing values: "
                    + ", ".join(f"{k} {v:,}" for k, v in by_field.items())
                )
            st.dataframe(conflicts.head(5000), hide_index=True, width="stretch")
    with tabs[4]:
        fields = _metrics(report, "standardise").get("fields") or []
        if fields:
            st.markdown("**Columns and how they were compared**")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "field": f["field"],
                            "kind": f["kind"],
                            "columns": ", ".join(f"{k}: {c}" for k, c in f["columns"].items()),
                            "compared": f["compared"],
                            "note": f["note"],
                        }
                        for f in fields
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        if match.get("blocking_rules"):
            st.markdown("**Pairs compared (blocking rules chosen from your data)**")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "same value in": " + ".join(r["fields"]),
                            "pairs": r["pairs"],
                            "largest group": r["largest_block"],
                        }
                        for r in match["blocking_rules"]
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
