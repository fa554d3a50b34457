"""Each page's logic with Streamlit's AppTest: the app runs headless against a real database
and store in a temporary data folder, with the signed-in user set in the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import users
from core.services import Services, build_services, get_services
from core.settings import PROJECT_ROOT, get_settings
from tests.conftest import _empty_tables, make_settings

APP = str(PROJECT_ROOT / "app.py")
CSV = "name,amount\nAnn,10\nBob,\nCy,7\n"


@pytest.fixture(params=["sqlite", "mariadb"])
def svc(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """Services for a fresh data folder and database (SQLite, or the session's MariaDB database
    emptied), also used by the app under test."""
    data = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("START_WORKER", "0")
    url = f"sqlite:///{data / 'app.db'}"
    if request.param == "mariadb":
        url = request.getfixturevalue("mariadb_url")
        _empty_tables(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("COOKIE_KEY", "test-cookie-key")
    get_settings.cache_clear()
    get_services.cache_clear()
    services = build_services(make_settings(data, url))
    yield services
    get_settings.cache_clear()
    get_services.cache_clear()


def signed_in(username: str, page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [i.value for i in at.info] + [t.value for t in at.title] + [c.value for c in at.caption]
    parts += [s.value for s in at.success] + [h.value for h in at.subheader] + [h.value for h in at.header]
    return "\n".join(str(p) for p in parts)


def finished_task(svc: Services, user_id: int, csv: str = CSV) -> str:
    data = csv.encode()
    task = svc.tasks.create_task(
        user_id,
        "profile-my-data",
        None,
        None,
        {"primary": {"filename": "people.csv", "size_bytes": len(data)}},
    )
    url = svc.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    svc.store.write(url["key"], data, url["headers"]["Content-Type"])
    svc.tasks.start_processing(user_id, task["task_id"])
    svc.worker("pages-test").run_once()
    return task["task_id"]


def test_empty_database_asks_for_the_first_administrator(svc: Services) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "no accounts yet" in texts(at)
    at.text_input[0].input("Ada Admin")
    at.text_input[1].input("ada@example.com")
    at.text_input[2].input("ada")
    at.text_input[3].input("Secret#1234")
    at.text_input[4].input("Secret#1234")
    at.button[0].click().run()
    ada = users.find_user(svc.factory, "ada")
    assert ada.is_admin and ada.is_verified and ada.credits == 1000


def test_unapproved_user_waits(svc: Services) -> None:
    users.create_user(svc.factory, "ada", "Secret#1234", is_admin=True)
    users.create_user(svc.factory, "newbie", "Secret#1234", is_verified=False)
    at = signed_in("newbie")
    assert "waiting for an administrator" in texts(at)


def test_wizard_walks_the_steps_and_blocks_a_short_balance(svc: Services) -> None:
    from core.registry import get_tool

    tool = get_tool("profile-my-data")
    full = sum(tool.agent(a).credit_cost for a in tool.default_agents())
    users.create_user(svc.factory, "ann", "Secret#1234", credits=full - 1)
    at = signed_in("ann")
    assert "What would you like to do?" in texts(at)
    at.button(key="tool_0_profile-my-data").click().run()
    assert "which checks should run" in texts(at)
    assert "1 credits short" in texts(at)  # every default check costs one credit more than the balance
    assert at.button(key="next_agents_0").disabled
    at.checkbox(key="agent_0_statistics").uncheck().run()
    assert not at.button(key="next_agents_0").disabled
    at.button(key="next_agents_0").click().run()
    assert "Settings" in texts(at)
    at.button(key="back_0_2").click().run()
    assert "which checks should run" in texts(at)


def test_my_tasks_empty_state_and_listing(svc: Services) -> None:
    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=50)
    at = signed_in("ann", "pages/my_tasks.py")
    assert "no tasks yet" in texts(at)
    finished_task(svc, ann.id)
    at = signed_in("ann", "pages/my_tasks.py")
    assert "people\\.csv" in texts(at)  # the file name is shown as text, Markdown escaped


def test_task_page_shows_results_to_the_owner_only(svc: Services) -> None:
    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=50)
    users.create_user(svc.factory, "bob", "Secret#1234", credits=50)
    task_id = finished_task(svc, ann.id)
    at = signed_in("ann", "pages/task.py", id=task_id)
    assert any(m.label == "Rows" and m.value == "3" for m in at.metric)
    assert "Task not found" not in texts(at)

    other = signed_in("bob", "pages/task.py", id=task_id)
    assert "Task not found" in texts(other)


def test_admin_page_approves_and_grants(svc: Services) -> None:
    users.create_user(svc.factory, "ada", "Secret#1234", is_admin=True)
    newbie = users.create_user(svc.factory, "newbie", "Secret#1234", is_verified=False)
    plain = signed_in("newbie")
    assert "waiting" in texts(plain)
    at = signed_in("ada", "pages/admin.py")
    assert "waiting for approval" in texts(at)
    approve = next(b for b in at.button if b.label == "Approve")
    approve.click().run()
    assert users.get_user(svc.factory, newbie.id).is_verified
    at.number_input[0].set_value(25)
    next(b for b in at.button if b.label == "Grant credits").click().run()
    assert users.get_user(svc.factory, newbie.id).credits == 25


def test_admin_page_is_not_offered_to_users(svc: Services) -> None:
    users.create_user(svc.factory, "ann", "Secret#1234")
    at = signed_in("ann")
    with pytest.raises(ValueError, match=r"admin\.py"):
        at.switch_page("pages/admin.py")


def test_account_page_shows_balance_and_history(svc: Services) -> None:
    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=50)
    finished_task(svc, ann.id)
    at = signed_in("ann", "pages/account.py")
    from core.registry import get_tool

    tool = get_tool("profile-my-data")
    spent = sum(tool.agent(a).credit_cost for a in tool.default_agents())
    assert any(m.label == "Credit balance" and m.value == str(50 - spent) for m in at.metric)
    assert len(at.dataframe) >= 1


def test_account_page_creates_shows_once_and_revokes_api_tokens(svc: Services) -> None:
    from core import tokens

    ann = users.create_user(svc.factory, "ann", "Secret#1234", credits=5)
    at = signed_in("ann", "pages/account.py")
    assert "API tokens" in texts(at)
    name_box = next(t for t in at.text_input if t.label == "Name")
    name_box.input("nightly import")
    next(b for b in at.button if b.label == "Create token").click().run()
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("dq_")
    assert tokens.authenticate(svc.factory, shown[0]).id == ann.id  # the token shown is the one that works
    assert "shown only this once" in texts(at)

    at.run()  # any further run: the token is not shown again
    assert not [c.value for c in at.code if c.value.startswith("dq_")]
    listed = at.dataframe[-1].value
    assert list(listed["Name"]) == ["nightly import"] and list(listed["Status"]) == ["active"]

    at.button(key="revoke_api_token").click().run()
    assert not tokens.list_tokens(svc.factory, ann.id)[0].active
    assert str(at.dataframe[-1].value["Status"][0]).startswith("revoked")


def test_each_download_says_what_it_holds() -> None:
    from ui.results import describe_download

    assert describe_download("issue_rows.csv", "text/csv") == (
        "Every affected row: row number, column, value and reason (CSV table)"
    )
    assert describe_download("cleaned_people.xlsx", "x").startswith("Your data, cleaned")
    assert describe_download("match_explanations.csv", "text/csv").startswith("Sample pairs")
    assert describe_download("matches.csv", "text/csv").startswith("Record pairs")
    assert describe_download("dependencies_secondary.csv", "text/csv").startswith("Rules such as")
    assert describe_download("unknown.bin", "application/octet-stream") == "application/octet-stream"
