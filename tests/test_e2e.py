"""The whole product in a real browser: Debian's Chromium driven by Playwright against
`streamlit run app.py` on the embedded default.

First admin, registration and approval, a profile task uploaded through the browser-direct
path, live progress to completed, a chart, a download, isolation between users, and user
data shown as text. A failing test leaves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as sync_api
import pytest
import requests

from core.settings import PROJECT_ROOT
from tests.app_server import streamlit_app
from tests.conftest import CHROMIUM

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
HOSTILE = "<img src=x onerror=alert(1)>"

# A real browser against a real server has timing the test cannot fully pin down (a rerun that
# redraws a form as it is submitted); a failure is retried, twice at most, with a fresh app, and
# only a failure that repeats fails the suite.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.flaky(reruns=2)]
if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytestmark.append(pytest.mark.skip(reason="Debian's chromium is not installed (make test installs it)"))


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh app with an empty database for each attempt (the flow starts with no accounts)."""
    with streamlit_app(tmp_path_factory.mktemp("e2e") / "data") as (base, _env):
        yield base


@pytest.fixture
def new_page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for n, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for m, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}-{m}.png"), full_page=True)
        context.close()


def textbox(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("textbox", name=name, exact=True)


def button(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("button", name=name, exact=True)


def fill_form(page, values: dict[str, str], last: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Fill text boxes by label and check they kept their values: a rerun of the page while it
    settles can redraw a form and empty it, so fill again until every value holds."""

    def box(name: str):  # type: ignore[no-untyped-def]
        boxes = textbox(page, name)  # the sign-in and sign-up tabs both have a "Password"
        return boxes.last if last else boxes.first

    for _ in range(5):
        for name, value in values.items():
            box(name).fill(value)
        page.wait_for_timeout(300)
        if all(box(name).input_value() == value for name, value in values.items()):
            return
    raise AssertionError(f"the form kept losing its values: {sorted(values)}")


def submit_form(page, values: dict[str, str], submit: str, expect: str, last: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Fill a form, submit it and wait for `expect`; a submit that a settling page swallowed
    (a rerun redrew the form) is filled and sent again, at most three times."""
    for _ in range(3):
        fill_form(page, values, last=last)
        button(page, submit).click()
        try:
            page.get_by_text(expect).first.wait_for(timeout=15_000)
            return
        except sync_api.TimeoutError:
            continue
    raise AssertionError(f"submitting {submit!r} never showed {expect!r}")


def sign_in(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    submit_form(page, {"User name": username, "Password": password}, "Sign in", "Signed in as")


def sign_out(page) -> None:  # type: ignore[no-untyped-def]
    button(page, "Sign out").click()
    button(page, "Sign in").wait_for()


def upload_direct(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Give the file to the browser-direct upload component and wait for the upload to finish."""
    page.locator("[data-testid=direct-upload][data-phase=empty]").first.wait_for()
    page.get_by_test_id("direct-upload-input").first.set_input_files(str(path))
    page.get_by_text(re.compile(r"is uploaded")).wait_for(timeout=60_000)


def next_step(page, heading: str) -> None:  # type: ignore[no-untyped-def]
    """Click the wizard's "Next →" and wait for the next step's `heading`. A click that lands
    while the page is still settling from the step before can be dropped by Streamlit (the
    screen then simply stays where it was), so the click is repeated, at most three times,
    while the step has not changed."""
    target = page.get_by_role("heading", name=heading)
    for _ in range(3):
        button(page, "Next →").click()
        try:
            target.wait_for(timeout=10_000)
            return
        except sync_api.TimeoutError:
            continue
    target.wait_for()


def run_profile(page, base: str, csv: Path) -> str:  # type: ignore[no-untyped-def]
    """Walk the wizard for profile-my-data and return the task id from the task page's URL."""
    page.goto(base)
    page.get_by_text("What would you like to do?").wait_for()
    button(page, "Choose").first.click()
    page.get_by_text("which checks should run").wait_for()
    next_step(page, "Settings")
    next_step(page, "Your files")
    upload_direct(page, csv)
    next_step(page, "Ready to start")
    button(page, "Start processing").click()
    page.wait_for_url(re.compile(r"/task\?id="))
    return page.url.split("id=", 1)[1].split("&", 1)[0]


def test_the_whole_flow(app: str, new_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    admin = new_page()
    admin.goto(app)
    submit_form(
        admin,
        {
            "Your name": "Ada Admin",
            "E-mail": "ada@example.com",
            "User name": "ada",
            "Password": "Secret#1234",
            "Repeat the password": "Secret#1234",
        },
        "Create administrator",
        "Create an account",  # the sign-in screen comes next
    )
    sign_in(admin, app, "ada", "Secret#1234")
    sign_out(admin)

    # a second person registers and waits for approval
    admin.get_by_role("tab", name="Create an account").click()
    submit_form(
        admin,
        {
            "First name": "Bob",
            "Last name": "Brown",
            "Email": "bob@example.com",
            "Username": "bob",
            "Password": "Secret#1234",
            "Repeat password": "Secret#1234",
        },
        "Create account",
        "once an administrator approves it",
        last=True,
    )
    sign_in_attempt = new_page()
    sign_in_attempt.goto(app)
    submit_form(
        sign_in_attempt,
        {"User name": "bob", "Password": "Secret#1234"},
        "Sign in",
        "waiting for an administrator",
    )

    # the administrator approves
    sign_in(admin, app, "ada", "Secret#1234")
    admin.goto(f"{app}/admin")
    admin.get_by_text("waiting for approval").wait_for()
    button(admin, "Approve").click()
    admin.get_by_text("waiting for approval").wait_for(state="detached")

    # Bob runs a profile through the browser-direct upload
    bob = new_page()
    sign_in(bob, app, "bob", "Secret#1234")
    csv = tmp_path / "customers.csv"
    csv.write_text(f"id,city,{HOSTILE}\n1,Oslo,3\n2,Lima,\n3,N/A,7\n4,Oslo,9\n")
    task_id = run_profile(bob, app, csv)
    bob.get_by_role("tab", name="Downloads").wait_for(timeout=90_000)  # results appear on completion

    # a chart in the column explorer
    bob.get_by_role("tab", name="Columns").click()
    bob.locator(".js-plotly-plot").first.wait_for()

    # user data is text: the hostile column name is shown, never turned into an element
    assert bob.locator("img[src='x']").count() == 0
    bob.get_by_role("tab", name="Columns").click()
    assert HOSTILE in bob.content() or bob.get_by_text(HOSTILE).count() >= 1

    # the download link serves report.json
    bob.get_by_role("tab", name="Downloads").click()
    links = bob.get_by_role("link", name="Download")
    links.first.wait_for()
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    report_url = next(h for h in hrefs if "report.json" in h)
    report = json.loads(requests.get(report_url, timeout=10).content)
    assert report["task_id"] == task_id and report["dataset"]["files"][0]["rows"] == 4
    assert HOSTILE in [c["name"] for c in report["columns"]]

    # Ada cannot open Bob's task by its address
    admin.goto(f"{app}/task?id={task_id}")
    admin.get_by_text("Task not found").wait_for()
    assert admin.get_by_text("customers.csv").count() == 0
