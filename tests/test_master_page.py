"""The master-my-data results on the task page (AppTest, real database, store and worker): the
headline counts, the entity browser with its golden record, the charts and the explanations."""

from __future__ import annotations

import pandas as pd

from core import users
from core.services import Services
from tests.test_master_agents import link_sources
from tests.test_pages import signed_in, svc, texts  # noqa: F401 - the fixture is shared
from ui.master_results import csv_table, entity_view, waterfall, weight_of


def finished_master_task(svc: Services, user_id: int) -> str:  # noqa: F811
    frames, _ = link_sources()
    files = {"primary": frames[0].head(120), "secondary": frames[1].head(120)}
    payloads = {slot: frame.to_csv(index=False).encode() for slot, frame in files.items()}
    meta = {slot: {"filename": f"{slot}.csv", "size_bytes": len(data)} for slot, data in payloads.items()}
    task = svc.tasks.create_task(user_id, "master-my-data", None, None, meta)
    urls = svc.tasks.issue_upload_urls(user_id, task["task_id"])
    for slot, data in payloads.items():
        svc.store.write(urls[slot]["key"], data, urls[slot]["headers"]["Content-Type"])
    svc.tasks.start_processing(user_id, task["task_id"])
    svc.worker("master-page-test").run_once()
    return task["task_id"]


def test_task_page_shows_entities_golden_records_charts_and_explanations(svc: Services) -> None:  # noqa: F811
    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=100)
    task_id = finished_master_task(svc, ann.id)
    task = svc.tasks.get_task(ann.id, task_id)
    assert task["status"] == "completed", task
    report = svc.tasks.read_report(ann.id, task_id)
    entities = report["agents"]["cluster"]["metrics"]["entities"]
    at = signed_in("ann", "pages/task.py", id=task_id)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Records"] == "240" and metrics["Entities"] == f"{entities:,}"
    shown = texts(at)
    assert "differ from the golden record" in shown
    assert "Why:" in shown
    assert any(": strong match" in line or ": match" in line for line in shown.splitlines())
    charts = at.get("plotly_chart")
    assert len(charts) >= 3  # score histogram, cluster sizes, waterfall
    browser = at.dataframe[0].value
    assert "golden record" in list(browser.columns)


def test_entity_view_puts_the_golden_record_first() -> None:
    records = pd.DataFrame(
        {
            "source_file": ["a.csv", "b.csv"],
            "source_row": ["3", "9"],
            "name": ["Ann", "Anne"],
            "city": ["Oslo", "Oslo"],
        }
    )
    view = entity_view(records, pd.Series({"name": "Anne", "city": "Oslo"}), ["name", "city"])
    assert list(view.columns) == ["golden record", "a.csv row 3", "b.csv row 9"]
    assert view.loc["name"].tolist() == ["Anne", "Ann", "Anne"]


def test_waterfall_ends_at_the_pair_score_and_csv_keeps_text() -> None:
    figure = waterfall(-10.0, {"surname": 8.0, "dob": 7.0, "city": -1.0}, 4.0)
    assert list(figure.data[0].measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert round(weight_of(0.5), 6) == 0.0 and weight_of(0.99) > 6
    table = csv_table("\ufeffzip,name\n00123,Ann\n,Bob\n".encode())
    assert table["zip"].tolist() == ["00123", ""] and table["name"].tolist() == ["Ann", "Bob"]
