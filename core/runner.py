"""The runner: runs one claimed task from its inputs to its report.

It loads the inputs, runs the chosen agents in the registry's order (charging each just before
it runs), writes progress and the current agent as it goes, keeps every finished agent's
result even when a later step fails, writes the outputs and ends the task `completed` or
`failed`. A heartbeat thread tells the reaper the task is alive and notices cancellation.

Every write is fenced to this run (the task still `processing` *and* on the attempt this run
claimed), so a run the reaper gave up on can never overwrite the run that replaced it. The
writes the result depends on (charges, refunds, the state between steps, the final transition)
wait for a database that restarts, for as long as the reaper would wait for this run
(`STALE_AFTER_SECONDS`); throttled progress writes and heartbeats are skipped meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pyarrow as pa
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core import billing
from core.agents.base import AgentContext, AgentResult, LoadedTable
from core.allocator import run_memory
from core.errors import DQError, InsufficientCreditsError, StorageError
from core.loading import load_table
from core.registry import ToolSpec, get_tool
from core.reports import (
    ToolOutputs,
    build_report,
    outputs_artifacts,
    report_json_bytes,
    report_xlsx_bytes,
    to_jsonable,
    write_artifact_csv,
)
from core.settings import Settings
from core.states import Status, transition
from db.models import Task, utcnow
from db.session import is_transient, retry_transient, session_scope
from storage.base import ObjectStore
from storage.keys import output_key

log = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 0.5
WRITE_ATTEMPTS = 3  # an output write storage failed for a passing reason is tried this often
WRITE_RETRY_SECONDS = 1.0
TRANSIENT_STORAGE_CODES = frozenset({"STORAGE_UNAVAILABLE", "STORAGE_ERROR"})
LOAD_SHARE = 0.1  # the share of the progress bar that loading the inputs takes
FINISH_SHARE = 0.1  # the share a tool's finishing step takes (the cleaned file, the scores)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
T = TypeVar("T")


class TaskCancelled(Exception):
    """Raised inside a run when the owner cancelled the task."""


class TaskTimedOut(BaseException):
    """Raised inside a run (by the RQ worker's alarm) when the tool's time limit is over.

    A BaseException, so that the per-agent `except Exception` (an agent crash) does not take it
    for an agent's own failure and carry on with the next agent.
    """


class _Progress:
    """Throttled progress writes that never overwrite a status the runner no longer owns."""

    def __init__(self, factory: sessionmaker[Session], task_id: str, wait_seconds: float) -> None:
        self.factory = factory
        self.task_id = task_id
        self.wait_seconds = wait_seconds
        self.attempt = 0  # the attempt this run claimed, set once it has read its task
        self.cancelled = threading.Event()
        self._last = 0.0

    def _update(self, **values: Any) -> int:
        """One fenced UPDATE of this run's task; the number of rows it changed (0 or 1)."""
        with session_scope(self.factory) as session:
            return session.execute(
                update(Task)
                .where(
                    Task.task_id == self.task_id,
                    Task.status == Status.PROCESSING.value,
                    Task.attempts == self.attempt,
                )
                .values(**values)
            ).rowcount

    def write(self, force: bool = False, **fields: Any) -> None:
        """Record progress; `force` for the state between steps, which waits for the database."""
        if self.cancelled.is_set():
            raise TaskCancelled
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_WRITE_INTERVAL:
            return
        self._last = now
        work = partial(self._update, updated_at=utcnow(), **fields)
        try:
            if force:
                what = f"recording task {self.task_id}"
                changed = retry_transient(work, within=self.wait_seconds, what=what)
            else:
                changed = work()
        except Exception as error:
            if force or not is_transient(error):
                raise
            log.warning("progress of task %s not recorded: the database did not answer", self.task_id)
            return  # the agent carries on; the next write says where it is
        if changed != 1:
            self.cancelled.set()
            raise TaskCancelled

    def heartbeat(self) -> None:
        if self._update(heartbeat_at=utcnow()) != 1:
            self.cancelled.set()


def _heartbeat_loop(progress: _Progress, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            progress.heartbeat()
        except Exception as error:  # a missed beat is not fatal; the next one may succeed
            if is_transient(error):
                log.warning("heartbeat of task %s missed: the database did not answer", progress.task_id)
            else:
                log.exception("heartbeat failed for task %s", progress.task_id)


def _load_inputs(
    store: ObjectStore, task: Task, settings: Settings, workdir: Path, progress: _Progress
) -> dict[str, LoadedTable]:
    tables: dict[str, LoadedTable] = {}
    params = task.parameters or {}
    for n, (slot_key, key) in enumerate(task.input_keys.items()):
        meta = task.files_metadata[slot_key]
        progress.write(
            force=True,
            progress=int(100 * LOAD_SHARE * n / len(task.input_keys)),
            progress_message=f"Reading {meta['filename']}",
        )
        if not store.exists(key):
            raise DQError(
                f"The file {meta['filename']} is no longer in storage; upload it again.",
                code="FILES_NOT_FOUND",
            )
        path = workdir / f"{slot_key}.input"
        store.save_to(key, path, may_link=True)  # the run's private snapshot of the input
        tables[slot_key] = load_table(
            path,
            slot_key,
            meta["filename"],
            sheet=params.get("sheet") or None,
            delimiter=None if params.get("delimiter", "auto") == "auto" else params["delimiter"],
            encoding=None if params.get("encoding", "auto") == "auto" else params["encoding"],
            max_bytes=settings.max_upload_bytes,
        )
    return tables


def _duration(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60} minutes"


def _agent_summary(run: dict[str, Any], result: AgentResult | None) -> dict[str, Any]:
    summary = {k: run[k] for k in ("status", "execution_time_ms", "credits_charged") if k in run}
    if "error" in run:
        summary["error"] = run["error"]
    if result is not None:
        summary["metrics"] = to_jsonable(result.metrics)
        summary["alerts"] = len(result.alerts)
        summary["issues"] = len(result.issues)
    return summary


class TaskRun:
    """One execution of one task by one worker."""

    def __init__(self, task_id: str, factory: sessionmaker[Session], store: ObjectStore, settings: Settings):
        self.task_id = task_id
        self.factory = factory
        self.store = store
        self.settings = settings
        self.progress = _Progress(factory, task_id, settings.stale_after_seconds)
        self.results: dict[str, AgentResult] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, str] = {}
        self.started = datetime.now(UTC)

    def _db(self, work: Callable[[], T], what: str) -> T:
        """`work` (a unit of work safe to repeat) retried while the database restarts."""
        return retry_transient(
            work, within=self.settings.stale_after_seconds, what=f"{what} for task {self.task_id}"
        )

    def execute(self) -> None:
        with session_scope(self.factory) as session:
            task = session.get(Task, self.task_id)
            if task is None or task.status != Status.PROCESSING:
                return
            session.expunge(task)
        self.progress.attempt = task.attempts
        tool = get_tool(task.tool_id)
        stop = threading.Event()
        beat = threading.Thread(
            target=_heartbeat_loop, args=(self.progress, self.settings.heartbeat_seconds, stop), daemon=True
        )
        beat.start()
        try:
            with tempfile.TemporaryDirectory(prefix="dq-task-") as tmp:
                self._execute(task, tool, Path(tmp))
        except TaskCancelled:
            log.info("task %s is no longer this run's (cancelled, or re-queued by the reaper)", self.task_id)
        except TaskTimedOut:
            running = next((a for a in task.agents if a not in self.runs), None)
            if running is not None:
                self._db(
                    partial(billing.refund, self.factory, task.task_id, running, note="time limit reached"),
                    "refunding an agent",
                )
                self.runs[running] = {"status": "failed", "error": "Stopped at the time limit; not charged."}
            self._fail(
                task,
                "TIMEOUT",
                f"The task took longer than the {_duration(tool.job_timeout_seconds)} that "
                f"{tool.name} may run; try a smaller file or fewer agents.",
            )
        except DQError as error:
            self._fail(task, error.code, error.message)
        except MemoryError:
            self._fail(task, "OUT_OF_MEMORY", "The file is too large to analyse with the memory available.")
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                log.error("task %s: the disk is full (%s)", self.task_id, error)
                self._fail(
                    task,
                    "DISK_FULL",
                    "The server ran out of disk space while writing the results, so none were kept. "
                    "Run the task again later, or ask an administrator to free some space.",
                )
            else:
                self._crashed(task)
        except Exception as error:
            if is_transient(error):
                # the database stayed away longer than the reaper waits: running the task again is
                # safe (charges are once per agent), so it is left to the reaper, not failed
                log.error(
                    "task %s stopped: the database did not answer for %.0f s; the reaper re-queues it",
                    self.task_id,
                    self.settings.stale_after_seconds,
                )
                return
            self._crashed(task)
        finally:
            stop.set()
            beat.join(timeout=5)

    def _execute(self, task: Task, tool: ToolSpec, workdir: Path) -> None:
        tables = _load_inputs(self.store, task, self.settings, workdir, self.progress)
        agents = list(task.agents)
        context = AgentContext(
            tables=tables, parameters=dict(task.parameters or {}), results=self.results, agents=tuple(agents)
        )
        completed: list[str] = []
        stopped: DQError | None = None
        agents_end = 1 - (FINISH_SHARE if tool.finisher else 0.0)
        for index, agent_id in enumerate(agents):
            base = LOAD_SHARE + (agents_end - LOAD_SHARE) * index / len(agents)
            span = (agents_end - LOAD_SHARE) / len(agents)
            self.progress.write(
                force=True,
                current_agent=agent_id,
                progress=int(100 * base),
                progress_message=f"Running {tool.agent(agent_id).name}",
            )
            try:
                charged = self._db(
                    partial(
                        billing.charge,
                        self.factory,
                        task.user_id,
                        task.task_id,
                        agent_id,
                        tool.agent(agent_id).credit_cost,
                    ),
                    f"charging {agent_id}",
                )
            except InsufficientCreditsError as error:
                stopped = error
                self.runs[agent_id] = {"status": "not_run", "error": error.message}
                break

            context.progress = self._reporter(base, span)
            began = time.perf_counter()
            try:
                result = tool.agent(agent_id).load().run(context)
            except TaskCancelled:
                raise
            except Exception as error:  # an agent crash costs nothing and stops nothing else
                log.exception("agent %s crashed on task %s", agent_id, task.task_id)
                self._db(
                    partial(billing.refund, self.factory, task.task_id, agent_id, note="agent failed"),
                    f"refunding {agent_id}",
                )
                self.runs[agent_id] = {
                    "status": "failed",
                    "execution_time_ms": int((time.perf_counter() - began) * 1000),
                    "credits_charged": 0,
                    "error": f"This agent stopped unexpectedly ({type(error).__name__}); it was not charged.",
                }
            else:
                self.results[agent_id] = result
                completed.append(agent_id)
                self.runs[agent_id] = {
                    "status": "completed",
                    "execution_time_ms": int((time.perf_counter() - began) * 1000),
                    "credits_charged": charged.amount,
                    "metrics": to_jsonable(result.metrics),
                }
            pa.default_memory_pool().release_unused()  # hand the agent's scratch memory back
            self.progress.write(
                force=True,
                agents_completed=list(completed),
                partial_results={a: _agent_summary(r, self.results.get(a)) for a, r in self.runs.items()},
            )
        # tool-level outputs (a cleaned file...) read the agents' shared state: before the cache goes
        finished: ToolOutputs | None = None
        if completed:
            if tool.finisher:  # seconds on a large file: the bar says so instead of standing still
                self.progress.write(
                    force=True,
                    current_agent=None,
                    progress=int(100 * agents_end),
                    progress_message="Preparing the results",
                )
                context.progress = self._reporter(agents_end, FINISH_SHARE)
            finished = tool.finish(context)
        context.cache.clear()  # the per-column work is done: free it before the outputs are built
        pa.default_memory_pool().release_unused()
        for agent_id in agents:
            self.runs.setdefault(agent_id, {"status": "not_run"})
        self.progress.write(
            force=True, progress=99, current_agent=None, progress_message="Writing the report"
        )
        report = self._write_outputs(task, tables, workdir, finished)
        summaries = {a: _agent_summary(r, self.results.get(a)) for a, r in self.runs.items()}
        summary = {**report["summary"], "dataset": report["dataset"]}
        finish = partial(self._finish, task, agents, completed, stopped, summaries, summary)
        self._db(finish, "recording the result")

    def _reporter(self, base: float, span: float) -> Callable[[float, str | None], None]:
        """A progress callback for one step of the run (an agent, the finishing step): the
        fraction it reports of its own work becomes its `span` of the bar after `base`."""

        def report(fraction: float, message: str | None = None) -> None:
            fields: dict[str, Any] = {"progress": int(100 * (base + span * min(max(fraction, 0.0), 1.0)))}
            if message:
                fields["progress_message"] = message[:255]
            self.progress.write(**fields)

        return report

    def _finish(
        self,
        task: Task,
        agents: list[str],
        completed: list[str],
        stopped: DQError | None,
        summaries: dict[str, Any],
        summary: dict[str, Any],
    ) -> None:
        """The final transition, as one unit of work that may be repeated after a lost connection."""
        with session_scope(self.factory) as session:
            fresh = self._own(session, task)
            common = {
                "partial_results": summaries,
                "result_summary": summary,
                "output_keys": self.outputs,
                "current_agent": None,
            }
            if stopped is not None:
                transition(
                    session,
                    fresh,
                    Status.FAILED,
                    error_code=stopped.code,
                    error_message=stopped.message,
                    failed_agent=stopped.details.get("agent"),
                    progress_message="Stopped",
                    **common,
                )
            elif not completed:
                failed = next(iter(agents), None)
                transition(
                    session,
                    fresh,
                    Status.FAILED,
                    error_code="ALL_AGENTS_FAILED",
                    error_message="None of the chosen agents could finish; nothing was charged.",
                    failed_agent=failed,
                    progress_message="Failed",
                    **common,
                )
            else:
                transition(session, fresh, Status.COMPLETED, progress=100, progress_message="Done", **common)

    def _put(self, task: Task, filename: str, data: bytes | BinaryIO | Path, content_type: str) -> None:
        """Store one output (a `Path`: a scratch file handed to the store). Writing an object
        again is harmless (same key, same bytes), so a write that storage failed for a passing
        reason is tried again before the task fails."""
        key = output_key(task.user_id, task.task_id, filename)
        self.outputs[filename] = key  # before the write: a half-written object is removed too
        start = data.tell() if not isinstance(data, bytes | Path) else 0
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.store.write(key, data, content_type)
                return
            except StorageError as error:
                if error.code not in TRANSIENT_STORAGE_CODES or attempt == WRITE_ATTEMPTS:
                    raise
                log.warning("task %s: writing %s failed (%s), trying again", task.task_id, filename, error)
                time.sleep(WRITE_RETRY_SECONDS * attempt)
                if not isinstance(data, bytes | Path):
                    data.seek(start)

    def _discard_outputs(self) -> None:
        """A failed run's outputs are removed, so nothing partial is ever offered as a result."""
        for key in self.outputs.values():
            try:
                self.store.delete(key)
            except Exception:  # best effort: the task is failing already
                log.warning("task %s: could not remove the partial output %s", self.task_id, key)
        self.outputs.clear()

    def _write_outputs(
        self, task: Task, tables: dict[str, LoadedTable], workdir: Path, finished: ToolOutputs | None = None
    ) -> dict[str, Any]:
        finished = finished or ToolOutputs()
        artifacts = {**outputs_artifacts(tables, self.results), **finished.artifacts}
        downloads = ["report.json", "report.xlsx", *sorted(finished.files), *sorted(artifacts)]
        report = build_report(
            task_id=task.task_id,
            tool_id=task.tool_id,
            started=self.started,
            tables=tables,
            results=self.results,
            agent_runs=self.runs,
            downloads=downloads,
        )
        report["summary"].update(to_jsonable(finished.summary))
        report.update(to_jsonable(finished.sections))
        # the workbook is built beside the CSVs: both spend their time in Arrow and zlib, which
        # release the GIL, so on two cores the outputs take the time of the slower one
        with ThreadPoolExecutor(1, thread_name_prefix="report-xlsx") as pool:
            workbook = pool.submit(report_xlsx_bytes, report, artifacts, finished.sheet_titles)
            for name, (content, content_type) in sorted(finished.files.items()):
                self._put(task, name, content, content_type)
            for name, frame in sorted(artifacts.items()):
                path = workdir / f"artifact-{name}"
                with path.open("wb") as sink:
                    write_artifact_csv(frame, sink)
                self._put(task, name, path, "text/csv")  # the store may keep this very file
                path.unlink()
            self._put(task, "report.xlsx", workbook.result(), XLSX_CONTENT_TYPE)
        self._put(task, "report.json", report_json_bytes(report), "application/json")
        return report

    def _own(self, session: Session, task: Task) -> Task:
        """This run's task, locked until the transaction ends; TaskCancelled when the task is no
        longer ours: cancelled, re-queued by the reaper for another run, or (a retry after the
        acknowledgement of our own final write was lost) already finished."""
        fresh = session.get(Task, task.task_id, with_for_update=True)
        if fresh is None or fresh.status != Status.PROCESSING or fresh.attempts != task.attempts:
            raise TaskCancelled
        return fresh

    def _crashed(self, task: Task) -> None:
        log.exception("task %s crashed", self.task_id)
        self._fail(task, "INTERNAL_ERROR", "Something went wrong on our side while processing this task.")

    def _fail(self, task: Task, code: str, message: str) -> None:
        with contextlib.suppress(TaskCancelled):  # the task is not this run's to fail any more
            self._db(partial(self._record_failure, task, code, message), "recording the failure")

    def _record_failure(self, task: Task, code: str, message: str) -> None:
        summaries = {a: _agent_summary(r, self.results.get(a)) for a, r in self.runs.items()}
        with session_scope(self.factory) as session:
            fresh = self._own(session, task)
            # only a run that still owns its task removes what it wrote: the keys are the task's,
            # and a run the reaper replaced must not delete its successor's outputs
            self._discard_outputs()
            transition(
                session,
                fresh,
                Status.FAILED,
                error_code=code,
                error_message=message,
                failed_agent=fresh.current_agent,
                partial_results=summaries or None,
                progress_message="Failed",
            )


def run_task(task_id: str, factory: sessionmaker[Session], store: ObjectStore, settings: Settings) -> None:
    """Run a task this worker has claimed (status `processing`)."""
    with run_memory():
        TaskRun(task_id, factory, store, settings).execute()
