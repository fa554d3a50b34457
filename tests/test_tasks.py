"""The task service and the runner, end to end on the real database and local store:
validation at creation, uploads, processing by a worker, reports, downloads, ownership,
billing during a run, and recovery from interrupted work."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest

from core import billing, users
from core.errors import DQError, InvalidStateError, NotFoundError, ValidationError
from core.registry import get_tool
from core.services import Services
from db.models import Task, utcnow
from db.session import session_scope

CSV = "id,name,amount,joined\n1,Ann,10.5,2024-01-02\n2,Bob,,2024-02-03\n3,N/A,7,2024-03-04\n4,Dan,3.25,\n"


@pytest.fixture
def user(services: Services) -> users.UserView:
    return users.create_user(services.factory, "ann", "password123", credits=100)


@pytest.fixture
def other(services: Services) -> users.UserView:
    return users.create_user(services.factory, "mallory", "password123", credits=100)


def new_task(
    services: Services, user_id: int, content: str | bytes = CSV, filename: str = "people.csv", **kwargs
) -> dict:  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    task = services.tasks.create_task(
        user_id,
        kwargs.pop("tool_id", "profile-my-data"),
        kwargs.pop("agents", None),
        kwargs.pop("parameters", None),
        {"primary": {"filename": filename, "size_bytes": len(data)}},
    )
    urls = services.tasks.issue_upload_urls(user_id, task["task_id"])
    services.store.write(urls["primary"]["key"], data, urls["primary"]["headers"]["Content-Type"])
    return task


def run(services: Services, user_id: int, task_id: str) -> dict:  # type: ignore[no-untyped-def]
    services.tasks.start_processing(user_id, task_id)
    assert services.worker("test-worker").run_once() == task_id
    return services.tasks.get_task(user_id, task_id)


def read_output(services: Services, task: dict, name: str) -> bytes:  # type: ignore[no-untyped-def]
    with services.store.open_read(task["output_keys"][name]) as fh:
        return fh.read()


# ---- creation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "code", "named"),
    [
        ({"tool_id": "polish-my-data"}, "UNKNOWN_TOOL", "polish-my-data"),
        ({"agents": ["types", "telepathy"]}, "UNKNOWN_AGENT", "telepathy"),
        ({"agents": []}, "NO_AGENTS", "agent"),
        ({"parameters": {"colour": "red"}}, "UNKNOWN_PARAMETER", "colour"),
        ({"parameters": {"top_values": "many"}}, "INVALID_PARAMETER", "top_values"),
        ({"parameters": {"delimiter": "#"}}, "INVALID_PARAMETER", "delimiter"),
        ({"files": {"tertiary": {"filename": "a.csv"}}}, "UNKNOWN_FILE_SLOT", "tertiary"),
        ({"files": {}}, "MISSING_FILE_SLOT", "primary"),
        ({"files": {"primary": {"filename": "a.exe"}}}, "INVALID_FILE_TYPE", "a.exe"),
        ({"files": {"primary": {"filename": "a.csv", "size_bytes": 10**13}}}, "FILE_TOO_LARGE", "limit"),
    ],
)
def test_creation_rejects_bad_requests_naming_the_culprit(services, user, kwargs, code, named) -> None:  # type: ignore[no-untyped-def]
    files = kwargs.get("files", {"primary": {"filename": "a.csv", "size_bytes": 10}})
    with pytest.raises(ValidationError) as info:
        services.tasks.create_task(
            user.id,
            kwargs.get("tool_id", "profile-my-data"),
            kwargs.get("agents"),
            kwargs.get("parameters"),
            files,
        )
    assert info.value.code == code
    assert named in info.value.message
    assert services.tasks.list_tasks(user.id)["total"] == 0


def test_creation_fills_defaults_and_orders_agents(services, user) -> None:  # type: ignore[no-untyped-def]
    task = services.tasks.create_task(
        user.id,
        "profile-my-data",
        ["statistics", "types"],
        {"top_values": "5"},
        {"primary": {"filename": "../../etc/passwd.csv", "size_bytes": 3}},
    )
    assert task["status"] == "created"
    assert task["agents"] == ["types", "statistics"]
    assert task["parameters"]["top_values"] == 5 and task["parameters"]["histogram_bins"] == 20
    key = task["input_keys"]["primary"]
    assert key == f"users/{user.id}/tasks/{task['task_id']}/inputs/passwd.csv"


# ---- the lifecycle ------------------------------------------------------------------------
def test_full_lifecycle_produces_report_and_downloads(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "uploading"
    queued = services.tasks.start_processing(user.id, task["task_id"])
    assert queued["status"] == "queued" and queued["files_verified_at"]
    assert services.worker("w").run_once() == task["task_id"]
    done = services.tasks.get_task(user.id, task["task_id"])
    assert done["status"] == "completed", done
    every_agent = [a.id for a in get_tool("profile-my-data").agents]
    assert done["progress"] == 100 and done["agents_completed"] == every_agent
    assert done["result_summary"]["rows"] == 4
    assert set(done["output_keys"]) >= {"report.json", "report.xlsx", "issue_rows.csv"}
    cost = sum(a.credit_cost for a in get_tool("profile-my-data").agents)
    assert users.get_user(services.factory, user.id).credits == 100 - cost
    issue_rows = pd.read_csv(
        BytesIO(read_output(services, done, "issue_rows.csv")), dtype=str, keep_default_na=False
    )
    assert issue_rows.columns.tolist() == ["row", "column", "value", "reason", "agent", "code"]
    flagged = issue_rows[issue_rows["code"] == "DISGUISED_MISSING"]
    assert flagged[["row", "column", "value"]].values.tolist() == [["3", "name", "N/A"]]

    report = json.loads(read_output(services, done, "report.json"))
    assert report["task_id"] == task["task_id"] and report["tool_id"] == "profile-my-data"
    assert report["dataset"]["files"][0]["rows"] == 4
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["amount"]["missing_count"] == 1
    assert columns["name"]["missing_count"] == 1  # the disguised "N/A"
    assert columns["amount"]["max"] == pytest.approx(10.5)
    assert {a["status"] for a in report["agents"].values()} == {"completed"}
    assert report["summary"]["quality_score"] is not None and 0 <= report["summary"]["quality_score"] <= 100
    assert "issue_rows.csv" in report["downloads"]

    downloads = services.tasks.get_downloads(user.id, task["task_id"])
    names = {d["filename"] for d in downloads}
    assert {"report.json", "report.xlsx"} <= names
    assert all(d["url"] and d["size_bytes"] > 0 for d in downloads)


def test_report_xlsx_is_formatted_and_formula_safe(services, user) -> None:  # type: ignore[no-untyped-def]
    hostile = 'name,=cmd|" /C calc"!A0\n=HYPERLINK("http://x"),1\n+SUM(A1),2\n'
    task = run(services, user.id, new_task(services, user.id, hostile)["task_id"])
    assert task["status"] == "completed", task
    from io import BytesIO

    import openpyxl

    book = openpyxl.load_workbook(BytesIO(read_output(services, task, "report.xlsx")))
    assert {"Summary", "Columns", "Alerts", "Issues", "Recommendations", "Agents"} <= set(book.sheetnames)
    sheet = book["Columns"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.bold
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} became a formula"


def test_missing_upload_fails_then_can_be_retried(services, user) -> None:  # type: ignore[no-untyped-def]
    task = services.tasks.create_task(
        user.id, "profile-my-data", None, None, {"primary": {"filename": "late.csv", "size_bytes": len(CSV)}}
    )
    urls = services.tasks.issue_upload_urls(user.id, task["task_id"])
    with pytest.raises(DQError) as info:
        services.tasks.start_processing(user.id, task["task_id"])
    assert info.value.code == "FILES_NOT_FOUND" and "late.csv" in info.value.message
    failed = services.tasks.get_task(user.id, task["task_id"])
    assert failed["status"] == "upload_failed" and failed["error_code"] == "FILES_NOT_FOUND"

    again = services.tasks.issue_upload_urls(user.id, task["task_id"])
    assert again["primary"]["key"] == urls["primary"]["key"]
    assert services.tasks.get_task(user.id, task["task_id"])["error_code"] is None
    services.store.write(again["primary"]["key"], CSV.encode(), "text/csv")
    assert run(services, user.id, task["task_id"])["status"] == "completed"


def test_start_processing_never_runs_the_work_inline(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "queued"
    with pytest.raises(InvalidStateError):
        services.tasks.start_processing(user.id, task["task_id"])


def test_cancel_before_processing_and_terminal_states_stay(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.tasks.cancel_task(user.id, task["task_id"])["status"] == "cancelled"
    assert services.worker("w").run_once() is None
    with pytest.raises(InvalidStateError):
        services.tasks.cancel_task(user.id, task["task_id"])
    assert users.get_user(services.factory, user.id).credits == 100


def test_list_filters_and_paginates_newest_first(services, user) -> None:  # type: ignore[no-untyped-def]
    ids = [new_task(services, user.id)["task_id"] for _ in range(5)]
    with session_scope(services.factory) as s:  # distinct creation times, oldest first
        for n, task_id in enumerate(ids):
            s.get(Task, task_id).created_at = utcnow() - timedelta(minutes=10 - n)
    services.tasks.cancel_task(user.id, ids[0])
    page = services.tasks.list_tasks(user.id, limit=2)
    assert [t["task_id"] for t in page["tasks"]] == [ids[4], ids[3]]
    assert page["total"] == 5 and page["has_more"]
    last = services.tasks.list_tasks(user.id, limit=2, offset=4)
    assert [t["task_id"] for t in last["tasks"]] == [ids[0]] and not last["has_more"]
    assert services.tasks.list_tasks(user.id, status="cancelled")["total"] == 1
    assert services.tasks.list_tasks(user.id, tool_id="clean-my-data")["total"] == 0
    with pytest.raises(ValidationError):
        services.tasks.list_tasks(user.id, status="sleeping")


def test_delete_removes_task_and_objects(services, user) -> None:  # type: ignore[no-untyped-def]
    task = run(services, user.id, new_task(services, user.id)["task_id"])
    prefix = f"users/{user.id}/tasks/{task['task_id']}/"
    assert list(services.store.list(prefix))
    services.tasks.delete_task(user.id, task["task_id"])
    assert not list(services.store.list(prefix))
    with pytest.raises(NotFoundError):
        services.tasks.get_task(user.id, task["task_id"])


# ---- billing during a run -----------------------------------------------------------------
def test_run_stops_on_empty_balance_and_keeps_partial_results(services) -> None:  # type: ignore[no-untyped-def]
    poor = users.create_user(services.factory, "poor", "password123", credits=2)
    task = run(services, poor.id, new_task(services, poor.id)["task_id"])
    assert task["status"] == "failed"
    assert task["error_code"] == "INSUFFICIENT_CREDITS" and task["failed_agent"] == "statistics"
    assert task["agents_completed"] == ["types", "completeness"]
    assert task["partial_results"]["types"]["status"] == "completed"
    assert task["partial_results"]["statistics"]["status"] == "not_run"
    report = json.loads(read_output(services, task, "report.json"))
    assert report["agents"]["completeness"]["status"] == "completed"
    assert users.get_user(services.factory, poor.id).credits == 0


def test_crashing_agent_is_refunded_and_others_still_run(services, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.agents.profile import completeness

    def explode(self, context):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(completeness.CompletenessAgent, "run", explode)
    task = run(services, user.id, new_task(services, user.id)["task_id"])
    assert task["status"] == "completed"
    others = [a.id for a in get_tool("profile-my-data").agents if a.id != "completeness"]
    assert task["agents_completed"] == others
    report = json.loads(read_output(services, task, "report.json"))
    assert report["agents"]["completeness"]["status"] == "failed"
    assert "not charged" in report["agents"]["completeness"]["error"]
    cost = sum(a.credit_cost for a in get_tool("profile-my-data").agents)
    assert users.get_user(services.factory, user.id).credits == 100 - cost + 1
    kinds = [(e["kind"], e["agent_id"]) for e in billing.ledger(services.factory, user.id)]
    assert ("refund", "completeness") in kinds


def test_all_agents_crashing_fails_the_task(services, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.agents.profile import types

    monkeypatch.setattr(types.TypesAgent, "run", lambda self, context: 1 / 0)
    task = run(services, user.id, new_task(services, user.id, agents=["types"])["task_id"])
    assert task["status"] == "failed" and task["error_code"] == "ALL_AGENTS_FAILED"
    assert users.get_user(services.factory, user.id).credits == 100


# ---- bad input through the whole path -----------------------------------------------------
@pytest.mark.parametrize(
    ("content", "filename", "code"),
    [
        (b"", "empty.csv", "EMPTY_FILE"),
        (b"id,name,amount\n", "header.csv", "NO_DATA_ROWS"),
        (bytes(range(256)) * 40, "garbage.csv", "NOT_A_TABLE"),
    ],
)
def test_unreadable_files_fail_with_a_clear_code(services, user, content, filename, code) -> None:  # type: ignore[no-untyped-def]
    task = run(services, user.id, new_task(services, user.id, content, filename)["task_id"])
    assert task["status"] == "failed" and task["error_code"] == code
    assert task["error_message"] and "Traceback" not in task["error_message"]
    assert users.get_user(services.factory, user.id).credits == 100  # nothing charged


def test_file_over_the_limit_is_refused_at_processing(tmp_path: Path, db_url: str) -> None:
    from core.services import build_services
    from tests.conftest import make_settings

    services = build_services(make_settings(tmp_path / "d", db_url, MAX_UPLOAD_MB="1"), migrate=False)
    user = users.create_user(services.factory, "big", "password123", credits=10)
    task = services.tasks.create_task(
        user.id, "profile-my-data", None, None, {"primary": {"filename": "big.csv"}}
    )
    urls = services.tasks.issue_upload_urls(user.id, task["task_id"])
    services.store.write(urls["primary"]["key"], b"a,b\n" + b"1,2\n" * 300_000, "text/csv")
    with pytest.raises(DQError) as info:
        services.tasks.start_processing(user.id, task["task_id"])
    assert info.value.code == "FILE_TOO_LARGE"
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "upload_failed"
    assert not services.store.exists(urls["primary"]["key"])


def test_input_vanishing_before_the_worker_fails_the_task(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    services.store.delete(task["input_keys"]["primary"])
    services.worker("w").run_once()
    done = services.tasks.get_task(user.id, task["task_id"])
    assert done["status"] == "failed" and done["error_code"] == "FILES_NOT_FOUND"


# ---- interrupted work ---------------------------------------------------------------------
def test_reaper_requeues_once_then_fails_interrupted(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    worker = services.worker("gone-host:1")
    assert worker.claim_next() == task["task_id"]
    long_ago = utcnow() - timedelta(hours=1)
    with session_scope(services.factory) as s:
        s.get(Task, task["task_id"]).heartbeat_at = long_ago
    assert services.worker("w2").reap() == [task["task_id"]]
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "queued"

    assert worker.claim_next() == task["task_id"]  # second attempt, also dies
    with session_scope(services.factory) as s:
        s.get(Task, task["task_id"]).heartbeat_at = long_ago
    services.worker("w3").reap()
    final = services.tasks.get_task(user.id, task["task_id"])
    assert final["status"] == "failed" and final["error_code"] == "INTERRUPTED"


def test_requeued_task_is_not_charged_twice(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.worker("gone-host:1").claim_next() == task["task_id"]
    billing.charge(services.factory, user.id, task["task_id"], "types", 1)  # charged before the crash
    with session_scope(services.factory) as s:
        s.get(Task, task["task_id"]).heartbeat_at = utcnow() - timedelta(hours=1)
    services.worker("w2").reap()
    assert services.worker("w2").run_once() == task["task_id"]
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "completed"
    cost = sum(a.credit_cost for a in get_tool("profile-my-data").agents)
    assert users.get_user(services.factory, user.id).credits == 100 - cost


def test_fresh_heartbeat_is_left_alone(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    services.tasks.start_processing(user.id, task["task_id"])
    assert services.worker("elsewhere:1").claim_next() == task["task_id"]
    assert services.worker("w2").reap() == []
    assert services.tasks.get_task(user.id, task["task_id"])["status"] == "processing"


def test_profile_stats_agree_with_pandas(services, user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(7)
    n = 5_000
    frame = pd.DataFrame(
        {
            "qty": rng.integers(-50, 500, n),
            "price": rng.normal(100, 25, n).round(3),
            "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n),
            "day": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        }
    )
    frame.loc[rng.choice(n, 300, replace=False), "price"] = np.nan
    frame.loc[rng.choice(n, 100, replace=False), "city"] = None
    path = tmp_path / "gen.csv"
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    task = run(services, user.id, new_task(services, user.id, path.read_bytes(), "gen.csv")["task_id"])
    report = json.loads(read_output(services, task, "report.json"))
    columns = {c["name"]: c for c in report["columns"]}
    expected = pd.read_csv(path)
    for name in expected.columns:
        assert columns[name]["missing_count"] == int(expected[name].isna().sum()), name
        assert columns[name]["distinct_count"] == int(expected[name].nunique()), name
    for name in ("qty", "price"):
        assert columns[name]["min"] == pytest.approx(expected[name].min())
        assert columns[name]["max"] == pytest.approx(expected[name].max())
        assert columns[name]["mean"] == pytest.approx(expected[name].mean())


def test_declare_file_replaces_one_slot_and_issues_a_fresh_url(services, user) -> None:  # type: ignore[no-untyped-def]
    task = new_task(services, user.id)
    old_key = task["input_keys"]["primary"]
    assert services.store.exists(old_key)
    target = services.tasks.declare_file(user.id, task["task_id"], "primary", "better.csv", len(CSV))
    assert target["method"] == "PUT" and target["key"].endswith("/inputs/better.csv")
    assert not services.store.exists(old_key)  # the replaced upload is gone
    stored = services.tasks.get_task(user.id, task["task_id"])
    assert stored["files_metadata"]["primary"]["filename"] == "better.csv"
    assert stored["input_keys"]["primary"] == target["key"]
    with pytest.raises(ValidationError) as info:
        services.tasks.declare_file(user.id, task["task_id"], "primary", "virus.exe", 10)
    assert info.value.code == "INVALID_FILE_TYPE"
    with pytest.raises(ValidationError):
        services.tasks.declare_file(user.id, task["task_id"], "nope", "a.csv", 10)
    services.store.write(target["key"], CSV.encode(), "text/csv")
    assert run(services, user.id, task["task_id"])["status"] == "completed"
    with pytest.raises(InvalidStateError):
        services.tasks.declare_file(user.id, task["task_id"], "primary", "late.csv", 10)


def test_an_agent_that_is_not_built_cannot_be_chosen(
    services: Services, user: users.UserView, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every agent is built today; an agent listed before its code exists must still be refused."""
    from dataclasses import replace

    from core.registry import TOOLS, AgentSpec

    tool = TOOLS["profile-my-data"]
    unbuilt = AgentSpec("forecast", "Forecast", "Not written yet.", 1, default=False)
    monkeypatch.setitem(TOOLS, tool.id, replace(tool, agents=(*tool.agents, unbuilt)))
    assert "forecast" not in get_tool(tool.id).default_agents()
    with pytest.raises(ValidationError) as error:
        new_task(services, user.id, agents=["types", "forecast"])
    assert error.value.code == "AGENT_UNAVAILABLE" and "forecast" in error.value.message
