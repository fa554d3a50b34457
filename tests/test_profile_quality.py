"""The quality score: dimension scores computed from planted problems, weights shown and
applied, the same score with or without the earlier agents, and the report's summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.agents.profile.quality import WEIGHTS, QualityScoreAgent, weighted_score
from core.registry import get_tool
from core.reports import build_report
from tests.profile_helpers import alert, context_of, table_of

N = 100


def _table():  # type: ignore[no-untyped-def]
    return table_of(
        {
            "id": [str(i) for i in range(N - 5)] + ["1", "2", "3", "4", "5"],  # 10 rows share an id
            "email": [f"u{i}@example.com" for i in range(N - 4)] + ["bad"] * 4,  # 4 invalid
            "city": ["Oslo"] * 30 + [""] * 70,  # mostly empty
            "tidy": ["Lima"] * (N - 20) + [" Lima"] * 20,  # 20 padded
            "perfect": [f"code {i % 7}" for i in range(N)],
        }
    )


def test_weighted_score_redistributes_weights_of_dimensions_that_do_not_apply() -> None:
    score, detail = weighted_score(
        {"completeness": 1.0, "validity": 0.5, "uniqueness": None, "consistency": 1.0}
    )
    total = WEIGHTS["completeness"] + WEIGHTS["validity"] + WEIGHTS["consistency"]
    assert detail["uniqueness"] == {"score": None, "weight": 0.0, "points": 0.0, "points_lost": 0.0}
    assert detail["validity"]["weight"] == pytest.approx(100 * WEIGHTS["validity"] / total, abs=0.01)
    assert detail["validity"]["points_lost"] == pytest.approx(50 * WEIGHTS["validity"] / total, abs=0.01)
    assert score == pytest.approx(100 - detail["validity"]["points_lost"], abs=0.06)
    assert sum(d["weight"] for d in detail.values()) == pytest.approx(100, abs=0.05)


def test_column_scores_come_from_the_planted_problems() -> None:
    context = context_of(_table())
    result = QualityScoreAgent().run(context)
    dims = {name: facts["quality_dimensions"] for (_, name), facts in result.columns.items()}
    assert dims["city"]["completeness"]["score"] == 30.0
    assert dims["email"]["validity"]["score"] == 96.0
    assert dims["id"]["uniqueness"]["score"] == 90.0
    assert dims["tidy"]["consistency"]["score"] == 80.0
    assert dims["city"]["uniqueness"]["score"] is None  # a category column need not be unique
    assert result.columns[("primary", "perfect")]["quality_score"] == 100.0
    low = alert(result, "LOW_QUALITY_COLUMN", "city")
    assert low.count == 70 and "completeness" in low.message
    assert result.metrics["weights"] == WEIGHTS
    sheet = result.artifacts["quality_scores.csv"]
    assert sheet["column"].tolist()[0] == "(whole file)" and len(sheet) == 6
    assert 0 < result.metrics["quality_score"] < 100


def test_the_score_does_not_depend_on_which_agents_ran() -> None:
    alone = QualityScoreAgent().run(context_of(_table()))
    context = context_of(_table())
    tool = get_tool("profile-my-data")
    for agent_id in tool.default_agents():
        context.results[agent_id] = tool.agent(agent_id).load().run(context)
    assert context.results["quality_score"].metrics["quality_score"] == alone.metrics["quality_score"]
    assert context.results["quality_score"].columns == alone.columns


def test_the_report_lifts_the_score_into_its_summary() -> None:
    context = context_of(_table())
    result = QualityScoreAgent().run(context)
    report = build_report(
        task_id="t",
        tool_id="profile-my-data",
        started=datetime.now(UTC),
        tables=context.tables,
        results={"quality_score": result},
        agent_runs={},
        downloads=[],
    )
    assert report["summary"]["quality_score"] == result.metrics["quality_score"]
    city = next(c for c in report["columns"] if c["name"] == "city")
    assert city["quality_dimensions"]["completeness"]["points_lost"] > 0


@pytest.mark.parametrize(
    "columns",
    [
        {"empty": [""], "one": ["5"], "text": ["hello"]},
        {"only": ["", "N/A", "  "]},
        {"n": ["1", "1e400", "-inf", "2", "3"], "d": ["2024-01-01", "", "2024-02-30", "x", "2024-03-01"]},
        {"same": ["a"] * 50, "id": [str(i) for i in range(50)]},
    ],
)
def test_every_agent_copes_with_odd_tables(columns: dict[str, list[str]]) -> None:
    context = context_of(table_of(columns), table_of({"x": ["1", "2"]}, "secondary"))
    tool = get_tool("profile-my-data")
    for agent_id in tool.default_agents():
        result = tool.agent(agent_id).load().run(context)
        context.results[agent_id] = result
        for ref in result.row_refs:
            assert ref.rows.min() >= 0 and ref.rows.max() < len(context.tables[ref.file_key].frame)
    report = build_report(
        task_id="t",
        tool_id="profile-my-data",
        started=datetime.now(UTC),
        tables=context.tables,
        results=context.results,
        agent_runs={},
        downloads=[],
    )
    assert 0 <= report["summary"]["quality_score"] <= 100
    json.dumps(report, allow_nan=False)
