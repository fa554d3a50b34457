"""The Columns tab: where the quality points went, each column's facts and charts, and its
findings (chart functions directly; the page with AppTest on a real profile run)."""

from __future__ import annotations

from core import users
from core.services import Services
from tests.test_pages import finished_task, signed_in, svc  # noqa: F401 - the fixture is shared
from ui.column_explorer import (
    MAX_SCORED_COLUMNS,
    chart_text,
    column_facts,
    column_scores_chart,
    points_chart,
    shapes_chart,
    top_values_chart,
)

DIMENSIONS = {
    "completeness": {"score": 98.0, "weight": 30.0, "points": 29.4, "points_lost": 0.6},
    "validity": {"score": 90.0, "weight": 30.0, "points": 27.0, "points_lost": 3.0},
    "uniqueness": {"score": 100.0, "weight": 0.0, "points": 0.0, "points_lost": 0.0},
    "consistency": {"score": 100.0, "weight": 40.0, "points": 40.0, "points_lost": 0.0},
}


def test_each_dimension_is_a_bar_as_long_as_its_weight_with_the_lost_points_labelled() -> None:
    figure = points_chart(DIMENSIONS, "title")
    assert figure is not None
    kept, lost = figure.data
    assert list(kept.y) == list(lost.y)
    lengths = {label: k + m for label, k, m in zip(kept.y, kept.x, lost.x, strict=True)}
    assert lengths == {
        "completeness · weight 30": 30.0,
        "validity · weight 30": 30.0,
        "uniqueness · does not apply": 0.0,
        "consistency · weight 40": 40.0,
    }
    assert dict(zip(lost.y, lost.text, strict=True))["validity · weight 30"] == "−3.00"
    assert dict(zip(lost.y, lost.text, strict=True))["consistency · weight 40"] == ""
    assert list(kept.y)[-1].startswith("completeness")  # the first dimension is drawn at the top
    assert points_chart({}, "title") is None


def test_column_scores_put_the_lowest_on_top_and_say_when_some_are_left_out() -> None:
    columns = [{"name": f"c{i}", "quality_score": float(100 - i)} for i in range(MAX_SCORED_COLUMNS + 5)]
    labels = [c["name"] for c in columns]
    figure = column_scores_chart(columns, labels)
    assert figure is not None
    bars = figure.data[0]
    assert len(bars.x) == MAX_SCORED_COLUMNS
    assert bars.y[-1] == f"c{MAX_SCORED_COLUMNS + 4}"  # the lowest score, drawn at the top
    assert min(bars.x) == 100 - (MAX_SCORED_COLUMNS + 4)
    assert f"the {MAX_SCORED_COLUMNS} lowest of {MAX_SCORED_COLUMNS + 5}" in figure.layout.title.text
    assert column_scores_chart([{"name": "a", "quality_score": None}, {"name": "b"}], ["a", "b"]) is None


def test_masked_values_that_read_the_same_keep_a_bar_each() -> None:
    column = {
        "masked": True,
        "top_values": [
            {"value": "a***m", "count": 3},
            {"value": "a***m", "count": 2},
            {"value": "b**", "count": 1},
        ],
    }
    figure = top_values_chart(column)
    assert figure is not None
    bars = figure.data[0]
    assert len(set(bars.y)) == 3  # three positions, not two merged categories
    assert list(figure.layout.yaxis.ticktext) == ["a***m", "a***m", "b**"]
    assert list(bars.x) == [3, 2, 1]
    assert "masked" in figure.layout.title.text


def test_user_text_reaches_plotly_as_text_not_markup() -> None:
    assert chart_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert chart_text("a & b") == "a &amp; b"
    column = {"patterns": [{"pattern": "<b>9", "count": 2, "share": 0.5, "example": "<b>1"}] * 2}
    figure = shapes_chart(column)
    assert figure is not None
    assert list(figure.layout.yaxis.ticktext) == ["&lt;b&gt;9", "&lt;b&gt;9"]


def test_one_shape_for_every_value_needs_no_chart() -> None:
    assert (
        shapes_chart({"patterns": [{"pattern": "A99", "count": 5, "share": 1.0}], "pattern_count": 1}) is None
    )


def test_facts_are_in_words_and_leave_out_what_does_not_apply() -> None:
    numeric = column_facts(
        {
            "inferred_type": "integer",
            "count": 1234,
            "missing_count": 5,
            "missing_ratio": 0.004,
            "min": -4,
            "max": 999.0,
            "mean": 43.30805687,
            "lower_fence": -23.0,
            "upper_fence": 103.0,
            "outliers_count": 3,
            "is_candidate_key": False,
            "quality_score": 99.14,
        }
    )
    facts = dict(zip(numeric["fact"], numeric["value"], strict=True))
    assert facts["filled rows"] == "1,234"
    assert facts["missing rows"] == "5 (0.4%)"
    assert facts["max"] == "999" and facts["mean"] == "43.31"
    assert facts["usual range"] == "-23 to 103"
    assert facts["candidate key (exact duplicate rows aside)"] == "no"
    assert facts["score"] == "99.1 / 100"
    assert "length" not in facts and "holds" not in facts and "invalid values" not in facts

    text = column_facts({"inferred_type": "string", "min_length": 5, "max_length": 17, "mean_length": 12.25})
    facts = dict(zip(text["fact"], text["value"], strict=True))
    assert facts == {"type": "string", "length": "5–17 characters, mean 12.2"}


def test_the_columns_tab_shows_points_shapes_and_each_columns_own_findings(svc: Services) -> None:  # noqa: F811
    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=50)
    rows = ["id,code,amount"] + [f"{i},AB-{i:03d},{10 + i % 7}" for i in range(1, 60)]
    rows += ["60,ab 60,10", "61,?,9999"]  # a second shape, a missing marker, an outlier
    task_id = finished_task(svc, ann.id, "\n".join(rows) + "\n")
    report = svc.tasks.read_report(ann.id, task_id)
    names = [c["name"] for c in report["columns"]]
    at = signed_in("ann", "pages/task.py", id=task_id)
    assert not at.exception, at.exception
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # file points, scores by column, missing values, the first column's chart

    def findings_severities(column: str) -> set[str]:
        at.selectbox(key="explore_col").set_value(names.index(column)).run()
        assert not at.exception, at.exception
        facts = next(d.value for d in at.dataframe if "fact" in d.value.columns)
        assert "score" in set(facts["fact"])
        chosen = at.multiselect(key=f"col_findings_{names.index(column)}_sev").value
        expected = {a["severity"] for a in report["alerts"] + report["issues"] if a.get("column") == column}
        assert set(chosen) == expected  # every severity of this column's findings is shown
        return set(chosen)

    amount = findings_severities("amount")
    code = findings_severities("code")
    assert amount and code and amount != code  # the filter follows the column it is about
