"""Benchmark: large files through the whole flow, as a user sends them. A benchmark, not a
test: it takes minutes and gigabytes.

    python bench/large_file_bench.py                  # 100 MB and 1 GB
    python bench/large_file_bench.py --sizes 100      # sizes in MB
    python bench/large_file_bench.py --tools profile-my-data

For each size: the seeded benchmark CSV (bench/datagen.py) is made under bench/data/, a fresh
app is started as `make run` starts it (`streamlit run app.py`, embedded default, its own
worker process), and for each tool a task is created, the file PUT to its signed upload URL
the way the browser's upload component sends it, and the task processed. Printed per step:
wall time, and the peak resident memory of the app process (which must stay flat: the upload
streams to disk and never passes through Streamlit's memory) and of the worker (VmHWM, reset
before each task).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.datagen import generate  # noqa: E402
from core import users  # noqa: E402
from core.services import Services  # noqa: E402
from tests.app_server import app_services, streamlit_app  # noqa: E402

DATA_DIR = ROOT / "bench" / "data"
BYTES_PER_ROW = 216.6  # what bench/datagen.py writes on average
TIMEOUT_SECONDS = 3 * 3600


def _pids(pattern: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if re.search(pattern, command):
                found.append(int(entry))
    return found


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak(pid: int) -> None:
    """Start VmHWM afresh (writing 5 to clear_refs resets the peak resident size)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class PeakSampler:
    """The largest resident size of one process while a step runs (sampled every 50 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb(self.pid, "VmRSS"))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def dataset(megabytes: int) -> Path:
    path = DATA_DIR / f"large_{megabytes}mb.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        print(f"  generating {path.name} ...", flush=True)
        generate(path, rows=int(megabytes * 1_000_000 / BYTES_PER_ROW))
    return path


def run_tool(services: Services, user_id: int, tool_id: str, path: Path, app_pid: int) -> None:
    size = path.stat().st_size
    files = {"primary": {"filename": path.name, "size_bytes": size}}
    task = services.tasks.create_task(user_id, tool_id, None, None, files)
    upload = services.tasks.issue_upload_urls(user_id, task["task_id"])["primary"]
    app_before = _status_kb(app_pid, "VmRSS")
    began = time.perf_counter()
    with PeakSampler(app_pid) as app_peak, path.open("rb") as body:
        put = requests.put(upload["url"], data=body, headers=upload["headers"], timeout=TIMEOUT_SECONDS)
    put.raise_for_status()
    upload_s = time.perf_counter() - began

    worker = _pids(rf"core worker --parent-pid {app_pid}\b")[0]
    _reset_peak(worker)
    began = time.perf_counter()
    services.tasks.start_processing(user_id, task["task_id"])
    while True:
        state = services.tasks.get_task(user_id, task["task_id"])
        if state["status"] in ("completed", "failed", "cancelled"):
            break
        if time.perf_counter() - began > TIMEOUT_SECONDS:
            services.tasks.cancel_task(user_id, task["task_id"])
            state = {"status": "timed out", "error_code": None}
            break
        time.sleep(1)
    process_s = time.perf_counter() - began
    worker_peak = _status_kb(worker, "VmHWM") / 1024
    outcome = state["status"] + (f" ({state['error_code']})" if state.get("error_code") else "")
    app_mb = f"{app_before / 1024:5.0f} -> peak {app_peak.peak_kb / 1024:5.0f} MB"
    print(
        f"  {tool_id:16s} upload {upload_s:7.1f} s ({size / 1e6 / upload_s:6.0f} MB/s), app RSS {app_mb} | "
        f"processing {process_s:7.1f} s, worker peak {worker_peak:7.0f} MB | {outcome}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000", help="file sizes in MB, comma-separated")
    parser.add_argument("--tools", default="profile-my-data,clean-my-data", help="tools, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for megabytes in sizes:
        path = dataset(megabytes)
        print(f"\n{path.name}: {path.stat().st_size / 1e6:,.0f} MB", flush=True)
        with tempfile.TemporaryDirectory(prefix="dq-large-") as tmp:
            env = {"MAX_UPLOAD_MB": str(max(2048, megabytes * 2))}
            with streamlit_app(Path(tmp) / "data", extra_env=env) as (base, app_env):
                port = base.rsplit(":", 1)[1]
                app_pid = _pids(rf"streamlit run app.py --server.port {port}\b")[0]
                services = app_services(app_env)
                user = users.create_user(services.factory, "large", "password123", credits=1_000_000)
                for tool_id in tools:
                    run_tool(services, user.id, tool_id, path, app_pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
