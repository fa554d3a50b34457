"""master-my-data end to end through `python -m core run`: two files in, the four tables and
their report.xlsx sheets out; an agent chosen without what it needs is refused up front."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd

from tests.master_helpers import frame_of
from tests.test_cli import cli, env  # noqa: F401 - the fixture is shared
from tests.test_master_agents import link_sources


def master_run(environment: dict[str, str], out: Path, *files: str, extra: tuple[str, ...] = ()):
    args = ["run", "--tool", "master-my-data", "--user", "demo", "--out", str(out)]
    for spec in files:
        args += ["--file", spec]
    return cli(environment, *args, *extra)


def test_two_files_give_golden_records_clusters_matches_and_conflicts(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    frames, truth = link_sources()
    crm, billing = tmp_path / "crm.csv", tmp_path / "billing.csv"
    frames[0].to_csv(crm, index=False)
    frames[1].to_csv(billing, index=False)
    out = tmp_path / "out"
    result = master_run(
        env, out, f"primary={crm}", f"secondary={billing}", extra=("--param", "match_threshold=0.9")
    )
    assert result.returncode == 0, result.stderr
    task = json.loads(result.stdout)
    assert task["status"] == "completed" and task["error_code"] is None
    assert all(run["status"] == "completed" for run in task["partial_results"].values())
    names = {p.name for p in out.iterdir()}
    assert {"golden_records.csv", "clusters.csv", "matches.csv", "conflicts.csv", "report.xlsx"} <= names
    clusters = pd.read_csv(out / "clusters.csv", encoding="utf-8-sig", dtype=str)
    assert len(clusters) == len(frames[0]) + len(frames[1])
    assert set(clusters["source_file"]) == {"crm.csv", "billing.csv"}
    golden = pd.read_csv(out / "golden_records.csv", encoding="utf-8-sig", dtype=str)
    assert len(golden) == clusters["entity_id"].nunique()
    assert {"first_name source", "first_name row"} <= set(golden.columns)
    shared = len(set(truth[0]) & set(truth[1]))
    both = golden[golden["sources"].str.contains("crm.csv") & golden["sources"].str.contains("billing.csv")]
    assert 0.9 * shared <= len(both) <= shared
    workbook = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert {"golden_records", "clusters", "matches", "conflicts"} <= set(workbook.sheetnames)
    report = json.loads((out / "report.json").read_text())
    cluster_metrics = report["agents"]["cluster"]["metrics"]
    assert cluster_metrics["records"] == len(clusters) and cluster_metrics["entities"] == len(golden)
    assert report["agents"]["match"]["metrics"]["threshold"] == 0.9
    assert report["agents"]["match"]["metrics"]["sample_pairs"]


def test_an_agent_without_what_it_needs_is_refused(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    data = tmp_path / "people.csv"
    frame_of([{"entity": 0, "name": "Ann"}, {"entity": 1, "name": "Bob"}]).to_csv(data, index=False)
    result = master_run(env, tmp_path / "o", f"primary={data}", extra=("--agents", "standardise,cluster"))
    assert result.returncode == 2 and "AGENT_REQUIRES" in result.stderr and "Match" in result.stderr
