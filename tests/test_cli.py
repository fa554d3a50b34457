"""The command line, run as a user would run it: separate processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.conftest import _empty_tables

# for tests where the database plays no part (the registry, argument checks, reading files)
SQLITE_ONLY = pytest.mark.parametrize("env", ["sqlite"], indirect=True)
BENCHMARKS = PROJECT_ROOT.parent / "shared" / "benchmarks" / "cleaning"


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=timeout,
    )


def profile(
    env: dict[str, str], path: Path, out: object, user: str, *extra: str
) -> subprocess.CompletedProcess:
    """`python -m core run` of profile-my-data on one file."""
    return cli(
        env,
        "run",
        "--tool",
        "profile-my-data",
        "--file",
        f"primary={path}",
        "--user",
        user,
        "--out",
        str(out),
        *extra,
    )


@pytest.fixture(params=["sqlite", "mariadb"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh installation: its own SQLite file, or the session's MariaDB
    database emptied (with the cookie key a shared database requires)."""
    environment = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(PROJECT_ROOT)}
    environment.pop("DATABASE_URL", None)
    if request.param == "mariadb":
        url = request.getfixturevalue("mariadb_url")
        _empty_tables(url)
        environment.update(DATABASE_URL=url, COOKIE_KEY="test-cookie-key")
    added = cli(environment, "users", "add", "demo", "--credits", "100", stdin="s3cret-password\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["credits"] == 100
    return environment


@SQLITE_ONLY
def test_tools_lists_the_registry(env: dict[str, str]) -> None:
    result = cli(env, "tools")
    assert result.returncode == 0
    tools = {t["id"]: t for t in json.loads(result.stdout)}
    assert set(tools) == {"profile-my-data", "clean-my-data", "master-my-data"}
    agents = {a["id"]: a for a in tools["profile-my-data"]["agents"]}
    assert agents["statistics"]["available"] and agents["outliers"]["available"]
    assert all(a["available"] for a in tools["clean-my-data"]["agents"])


def test_run_completes_and_writes_downloads(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "sales.csv"
    data.write_text(
        "region;amount;day\nNorth;10,5;2024-01-01\nSouth;;2024-01-02\nEast;7;2024-01-03\n", "latin-1"
    )
    out = tmp_path / "out"
    result = profile(
        env,
        data,
        str(out),
        "demo",
        "--param",
        "top_values=3",
    )
    assert result.returncode == 0, result.stderr
    task = json.loads(result.stdout)
    assert task["status"] == "completed" and task["progress"] == 100
    assert "%]" in result.stderr  # progress lines went to standard error
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.xlsx"}
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["files"][0]["delimiter"] == ";"
    assert report["dataset"]["files"][0]["rows"] == 3
    balance = cli(env, "credits", "grant", "demo", "5")
    cost = sum(a["credit_cost"] for a in json.loads(cli(env, "tools").stdout)[0]["agents"])
    assert json.loads(balance.stdout)["balance"] == 100 - cost + 5


def test_run_exits_1_with_the_error_code_on_a_bad_file(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = profile(
        env,
        empty,
        str(tmp_path / "out"),
        "demo",
    )
    assert result.returncode == 1
    task = json.loads(result.stdout)
    assert task["status"] == "failed" and task["error_code"] == "EMPTY_FILE"


@SQLITE_ONLY
def test_run_rejects_unknown_names_with_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "a.csv"
    data.write_text("a,b\n1,2\n")
    result = profile(
        env,
        data,
        str(tmp_path / "o"),
        "demo",
        "--agents",
        "types,mindreading",
    )
    assert result.returncode == 2 and "UNKNOWN_AGENT" in result.stderr and "mindreading" in result.stderr
    nobody = profile(
        env,
        data,
        str(tmp_path / "o"),
        "nobody",
    )
    assert nobody.returncode == 2 and "USER_NOT_FOUND" in nobody.stderr


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="shared benchmarks are not beside the repository")
@pytest.mark.parametrize("name", ["beers", "flights", "hospital", "rayyan"])
@SQLITE_ONLY
def test_profile_completes_on_the_benchmark_files(env: dict[str, str], tmp_path: Path, name: str) -> None:
    import pandas as pd

    path = BENCHMARKS / name / "dirty.csv"
    result = profile(
        env,
        path,
        str(tmp_path / "out"),
        "demo",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    expected = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert report["dataset"]["files"][0]["rows"] == len(expected)
    assert [c["name"] for c in report["columns"]] == list(expected.columns)
