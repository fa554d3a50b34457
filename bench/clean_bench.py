"""Accuracy of `clean-my-data` on the public dirty/clean benchmark pairs.

    python bench/clean_bench.py                       # all four datasets
    python bench/clean_bench.py hospital flights      # some of them
    python bench/clean_bench.py --benchmarks DIR      # another folder of <name>/dirty.csv + clean.csv

For each dataset it runs the real task end to end, `python -m core run --tool clean-my-data`
with default parameters and no labels, in a throwaway data folder (SQLite + local storage),
then turns the downloads into the scorer's inputs:

- the repaired file: `dirty.csv` with every applied change of `changes.csv` replayed in order
  (so the repair is exactly what the change log says; the cleaned file itself leaves removed
  duplicate rows out, which the scorer's row alignment cannot take);
- the detected cells: every cell with a change, a suggestion or a finding of a clean agent
  in `issue_rows.csv`.

and runs the benchmark's own `score.py` on them. Results go to docs/DESIGN.md by hand; no test
asserts them. Targets (issue 5): hospital correction F1 >= 0.90 with precision >= 0.97,
flights F1 >= 0.75 with precision >= 0.90, beers F1 >= 0.95 with precision >= 0.97, rayyan
detection F1 >= 0.5, and fewer than 0.1% of clean cells damaged everywhere.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.registry import get_tool  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
DEFAULT_BENCHMARKS = Path(
    os.environ.get("CLEAN_BENCHMARKS", ROOT.parent / "shared" / "benchmarks" / "cleaning")
)
DATASETS = ("hospital", "flights", "beers", "rayyan")
CLEAN_AGENTS = {agent.id for agent in get_tool("clean-my-data").agents}  # the registry's, not a copy
TARGETS = {
    "hospital": ("correction", 0.90, 0.97),
    "flights": ("correction", 0.75, 0.90),
    "beers": ("correction", 0.95, 0.97),
    "rayyan": ("detection", 0.50, 0.0),
}
DAMAGE_LIMIT = 0.001
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _unneutralise(value: str) -> str:
    """Undo the apostrophe the downloads put before formula-like text (core.safe_output)."""
    if value.startswith("'") and value[1:2] and value[1] in "".join(_TRIGGERS):
        return value[1:]
    return value


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def _records(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def run_task(dirty: Path, out: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "core", "users", "add", "bench", "--credits", "1000"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        input="bench-password\n",
        text=True,
    )
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "core",
            "run",
            "--tool",
            "clean-my-data",
            "--file",
            f"primary={dirty}",
            "--user",
            "bench",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"the clean task failed on {dirty}:\n{result.stderr[-2000:]}\n{result.stdout[-2000:]}"
        )
    return time.perf_counter() - started


def scorer_inputs(dirty: Path, out: Path, work: Path) -> tuple[Path, Path]:
    """The repaired copy of dirty.csv and the list of detected cells, from the downloads."""
    rows = _read(dirty)
    header, data = rows[0], rows[1:]
    position = {name: i for i, name in enumerate(header)}
    detected: set[tuple[int, int]] = set()
    for change in _records(out / "changes.csv"):
        row, col = int(change["row"]) - 1, position[_unneutralise(change["column"])]
        data[row][col] = _unneutralise(change["new_value"])
        detected.add((row, col))
    for suggestion in _records(out / "suggestions.csv"):
        detected.add((int(suggestion["row"]) - 1, position[_unneutralise(suggestion["column"])]))
    for finding in _records(out / "issue_rows.csv"):
        column = _unneutralise(finding.get("column") or "")
        if finding.get("agent") in CLEAN_AGENTS and column in position:
            detected.add((int(finding["row"]) - 1, position[column]))
    repaired = work / "repaired.csv"
    with repaired.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *data])
    flags = work / "detected.csv"
    flags.write_text("row,col\n" + "".join(f"{r},{c}\n" for r, c in sorted(detected)), encoding="utf-8")
    return repaired, flags


def score(folder: Path, repaired: Path, flags: Path) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            str(folder.parent / "score.py"),
            "--dataset",
            str(folder),
            "--repaired",
            str(repaired),
            "--detected",
            str(flags),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    args = parser.parse_args(argv)
    lines = []
    header = (
        f"{'dataset':<9} {'detect P/R/F1':>19} {'correct P/R/F1':>19} {'damaged':>8} {'limit':>6} "
        f"{'seconds':>7}  target"
    )
    for name in args.datasets:
        folder = args.benchmarks / name
        with tempfile.TemporaryDirectory(prefix=f"clean-bench-{name}-") as tmp:
            work = Path(tmp)
            env = {**os.environ, "DATA_DIR": str(work / "data"), "PYTHONPATH": str(ROOT)}
            env.pop("DATABASE_URL", None)
            env.pop("REDIS_URL", None)
            seconds = run_task(folder / "dirty.csv", work / "out", env)
            repaired, flags = scorer_inputs(folder / "dirty.csv", work / "out", work)
            result = score(folder, repaired, flags)
        detection, correction = result["detection"], result["correction"]
        clean_cells = result["cells"] - result["errors"]
        damaged = correction["changed_clean_cells"]
        kind, f1_target, p_target = TARGETS.get(name, ("correction", 0.0, 0.0))
        measured = detection if kind == "detection" else correction
        met = (
            measured["f1"] >= f1_target
            and measured["precision"] >= p_target
            and damaged < DAMAGE_LIMIT * clean_cells
        )
        lines.append(
            f"{name:<9} {detection['precision']:.3f}/{detection['recall']:.3f}/{detection['f1']:.3f} "
            f"{correction['precision']:.3f}/{correction['recall']:.3f}/{correction['f1']:.3f} "
            f"{damaged:>8} {int(DAMAGE_LIMIT * clean_cells):>6} {seconds:>7.1f}  "
            f"{kind} F1>={f1_target}{f' P>={p_target}' if p_target else ''}: {'met' if met else 'NOT met'}"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    print(header)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
