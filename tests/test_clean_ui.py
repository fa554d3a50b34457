"""The clean tool's results page (AppTest against a real database and store): the score before
and after, the before/after rows with the changed cells highlighted, and the change log."""

from __future__ import annotations

from core import users
from core.services import Services
from tests.test_pages import signed_in, svc, texts  # noqa: F401 - svc is a fixture
from ui.clean_results import _highlighted, before_after_frames

CSV = "name,amount,city\n  Ann ,10,Rome\nBob,N/A,Oslo\nCy,7,Nice\n"


def _clean_task(services: Services, user_id: int) -> str:
    data = CSV.encode()
    task = services.tasks.create_task(
        user_id, "clean-my-data", None, None, {"primary": {"filename": "people.csv", "size_bytes": len(data)}}
    )
    url = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    services.store.write(url["key"], data, url["headers"]["Content-Type"])
    services.tasks.start_processing(user_id, task["task_id"])
    services.worker("clean-ui-test").run_once()
    return task["task_id"]


def test_before_and_after_rows_line_up_with_their_changed_cells() -> None:
    samples = [
        {
            "row": 1,
            "changed": ["name"],
            "before": {"name": " Ann ", "amount": "10"},
            "after": {"name": "Ann", "amount": "10"},
        },
        {
            "row": 2,
            "changed": ["amount"],
            "before": {"name": "Bob", "amount": "N/A"},
            "after": {"name": "Bob", "amount": ""},
        },
    ]
    before, after, changed = before_after_frames(samples)
    assert before["name"].tolist() == [" Ann ", "Bob"] and after["amount"].tolist() == ["10", ""]
    assert changed == [{"name"}, {"amount"}]
    styles = _highlighted(after, changed)._compute().ctx
    highlighted = {(r, after.columns[c]) for (r, c), props in styles.items() if props}
    assert highlighted == {(0, "name"), (1, "amount")}


def test_clean_task_page_shows_scores_before_after_and_the_change_log(svc: Services) -> None:  # noqa: F811
    owner = users.create_user(svc.factory, "ann", "Secret#1234", credits=50)
    task_id = _clean_task(svc, owner.id)
    at = signed_in("ann", "pages/task.py", id=task_id)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cells changed"] == "2" and metrics["Rows removed"] == "0"
    assert metrics["Quality score after"].endswith("/ 100")
    page = texts(at)
    assert "Before and after" in page and "Change log" in page
    frames = [d for d in at.dataframe]
    logged = [f.value for f in frames if "old_value" in f.value.columns]
    assert logged and logged[0][["old_value", "new_value"]].values.tolist() == [
        ["  Ann ", "Ann"],
        ["N/A", ""],
    ]
    styled = [f for f in frames if "row" in f.value.columns and "name" in f.value.columns]
    assert len(styled) == 2  # before and after
