"""The task service: the lifecycle of a task, scoped to its owner on every call.

create -> issue upload URLs -> (client PUTs the files) -> start processing -> worker -> read
back. The UI, the CLI and the API all call these functions; none of them runs the work
inline: `start_processing` only hands the task to the executor.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DQError, NotFoundError, ValidationError
from core.executors import Executor, QueueUnavailableError
from core.registry import ToolSpec, get_tool
from core.settings import Settings
from core.states import Status, check_transition, transition
from db.models import Task
from db.session import session_scope
from storage.base import ObjectStore
from storage.keys import input_key, safe_filename, task_prefix

CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "txt": "text/plain",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_LIST_LIMIT = 200

log = logging.getLogger(__name__)


def content_type_for(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return CONTENT_TYPES.get(ext) or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def task_to_dict(task: Task) -> dict[str, Any]:
    """The public view of a task, the same for the UI, the CLI and the API."""
    return {
        "task_id": task.task_id,
        "tool_id": task.tool_id,
        "agents": list(task.agents or []),
        "parameters": dict(task.parameters or {}),
        "files_metadata": dict(task.files_metadata or {}),
        "status": task.status,
        "progress": int(task.progress or 0),
        "progress_message": task.progress_message,
        "current_agent": task.current_agent,
        "agents_completed": list(task.agents_completed or []),
        "input_keys": dict(task.input_keys or {}),
        "output_keys": dict(task.output_keys or {}),
        "result_summary": task.result_summary,
        "partial_results": task.partial_results,
        "error_code": task.error_code,
        "error_message": task.error_message,
        "failed_agent": task.failed_agent,
        "attempts": int(task.attempts or 0),
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "upload_started_at": _iso(task.upload_started_at),
        "files_verified_at": _iso(task.files_verified_at),
        "processing_started_at": _iso(task.processing_started_at),
        "completed_at": _iso(task.completed_at),
        "failed_at": _iso(task.failed_at),
        "cancelled_at": _iso(task.cancelled_at),
    }


@dataclass
class TaskService:
    factory: sessionmaker[Session]
    store: ObjectStore
    settings: Settings
    executor: Executor

    # ---- helpers -------------------------------------------------------------------------
    def _owned(self, session: Session, user_id: int, task_id: str) -> Task:
        """The task if it exists and belongs to `user_id`; otherwise the same 'not found'."""
        task = None
        if isinstance(task_id, str) and len(task_id) <= 36:
            task = session.get(Task, task_id)
        if task is None or task.user_id != user_id:
            raise NotFoundError("Task not found.", code="TASK_NOT_FOUND")
        return task

    def _validate_agents(self, tool: ToolSpec, agents: list[str] | None) -> list[str]:
        chosen = tool.default_agents() if agents is None else list(dict.fromkeys(agents))
        for agent_id in chosen:
            if not tool.agent(agent_id).available:
                raise ValidationError(
                    f"The agent '{agent_id}' is not available yet.", code="AGENT_UNAVAILABLE"
                )
        if not chosen:
            raise ValidationError("Choose at least one agent to run.", code="NO_AGENTS")
        for agent_id in chosen:
            missing = [r for r in tool.agent(agent_id).requires if r not in chosen]
            if missing:
                names = ", ".join(f"'{tool.agent(r).name}'" for r in missing)
                raise ValidationError(
                    f"'{tool.agent(agent_id).name}' needs {names}; choose it too.",
                    code="AGENT_REQUIRES",
                    agent=agent_id,
                    requires=missing,
                )
        order = [a.id for a in tool.agents]
        return sorted(chosen, key=order.index)

    def _validate_parameters(self, tool: ToolSpec, parameters: dict[str, Any] | None) -> dict[str, Any]:
        given = dict(parameters or {})
        known = {p.name: p for p in tool.parameters}
        for name in given:
            if name not in known:
                listed = ", ".join(known) or "none"
                raise ValidationError(
                    f"Unknown parameter '{name}' for {tool.id}. Known parameters: {listed}.",
                    code="UNKNOWN_PARAMETER",
                )
        return {
            name: spec.coerce(given[name]) if name in given else spec.default for name, spec in known.items()
        }

    def _validate_files(
        self, tool: ToolSpec, files_metadata: dict[str, Any], *, check_required: bool = True
    ) -> dict[str, dict[str, Any]]:
        if not isinstance(files_metadata, dict):
            raise ValidationError("files_metadata must map each file slot to its file.", code="INVALID_FILES")
        files: dict[str, dict[str, Any]] = {}
        for slot_key, meta in files_metadata.items():
            slot = tool.slot(slot_key)
            if not isinstance(meta, dict) or not meta.get("filename"):
                raise ValidationError(f"The file for '{slot_key}' needs a file name.", code="INVALID_FILES")
            filename = safe_filename(str(meta["filename"]))
            ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            if ext not in slot.extensions:
                raise ValidationError(
                    f"'{meta['filename']}' is not an accepted file type for {slot.label}; "
                    f"use {', '.join('.' + e for e in slot.extensions)}.",
                    code="INVALID_FILE_TYPE",
                    slot=slot_key,
                )
            size = meta.get("size_bytes")
            if size is not None:
                try:
                    size = int(size)
                except (TypeError, ValueError):
                    raise ValidationError(
                        "size_bytes must be a whole number.", code="INVALID_FILES"
                    ) from None
                if size < 0:
                    raise ValidationError("size_bytes cannot be negative.", code="INVALID_FILES")
                if size > self.settings.max_upload_bytes:
                    raise ValidationError(
                        f"'{filename}' is {size / 1e6:,.1f} MB; the limit is "
                        f"{self.settings.max_upload_bytes / 1e6:,.0f} MB.",
                        code="FILE_TOO_LARGE",
                        slot=slot_key,
                    )
            files[slot_key] = {
                "filename": filename,
                "original_filename": str(meta["filename"])[:255],
                "size_bytes": size,
                "content_type": content_type_for(filename),
            }
        for slot in tool.file_slots if check_required else ():
            if slot.required and slot.key not in files:
                raise ValidationError(
                    f"The file slot '{slot.key}' ({slot.label}) needs a file.", code="MISSING_FILE_SLOT"
                )
        return files

    def _input_keys(
        self, user_id: int, task_id: str, files: dict[str, dict[str, Any]], taken: set[str] | None = None
    ) -> dict[str, str]:
        """One key per slot; two slots with the same file name get the slot as a prefix."""
        keys: dict[str, str] = {}
        taken = set(taken or ())
        for slot_key, meta in files.items():
            key = input_key(user_id, task_id, meta["filename"])
            if key in keys.values() or key in taken:
                key = input_key(user_id, task_id, f"{slot_key}-{meta['filename']}")
            keys[slot_key] = key
        return keys

    # ---- the lifecycle -------------------------------------------------------------------
    def create_task(
        self,
        user_id: int,
        tool_id: str,
        agents: list[str] | None,
        parameters: dict[str, Any] | None,
        files_metadata: dict[str, Any],
    ) -> dict[str, Any]:
        tool = get_tool(tool_id)
        chosen = self._validate_agents(tool, agents)
        params = self._validate_parameters(tool, parameters)
        files = self._validate_files(tool, files_metadata)
        task_id = str(uuid.uuid4())
        with session_scope(self.factory) as session:
            task = Task(
                task_id=task_id,
                user_id=user_id,
                tool_id=tool.id,
                agents=chosen,
                parameters=params,
                files_metadata=files,
                status=Status.CREATED.value,
                input_keys=self._input_keys(user_id, task_id, files),
                output_keys={},
                agents_completed=[],
            )
            session.add(task)
            session.flush()
            return task_to_dict(task)

    def issue_upload_urls(self, user_id: int, task_id: str) -> dict[str, dict[str, Any]]:
        """One presigned PUT per file slot; may be called again for fresh URLs."""
        with session_scope(self.factory) as session:
            task = self._owned(session, user_id, task_id)
            transition(session, task, Status.UPLOADING, error_code=None, error_message=None)
            urls: dict[str, dict[str, Any]] = {}
            for slot_key, key in task.input_keys.items():
                meta = task.files_metadata[slot_key]
                request = self.store.presign_upload(
                    key, meta["content_type"], expires_in=self.settings.upload_url_expiry_seconds
                )
                urls[slot_key] = {**request.to_dict(), "key": key, "filename": meta["filename"]}
            return urls

    def declare_file(
        self, user_id: int, task_id: str, slot_key: str, filename: str, size_bytes: int | None
    ) -> dict[str, Any]:
        """Choose (or replace) the file of one slot before processing; returns its upload URL.

        This is how a browser that uploads slot by slot changes its mind: the slot's previous
        object is deleted and a fresh presigned PUT is issued for the new file.
        """
        with session_scope(self.factory) as session:
            task = self._owned(session, user_id, task_id)
            tool = get_tool(task.tool_id)
            check_transition(task.status, Status.UPLOADING)
            meta = self._validate_files(
                tool, {slot_key: {"filename": filename, "size_bytes": size_bytes}}, check_required=False
            )[slot_key]
            files = {**task.files_metadata, slot_key: meta}
            old_key = task.input_keys.get(slot_key)
            others = {s: k for s, k in task.input_keys.items() if s != slot_key}
            keys = {
                **others,
                **self._input_keys(user_id, task_id, {slot_key: meta}, taken=set(others.values())),
            }
            if old_key and old_key != keys[slot_key] and self.store.exists(old_key):
                self.store.delete(old_key)
            transition(
                session,
                task,
                Status.UPLOADING,
                files_metadata=files,
                input_keys=keys,
                error_code=None,
                error_message=None,
            )
            request = self.store.presign_upload(
                keys[slot_key], meta["content_type"], expires_in=self.settings.upload_url_expiry_seconds
            )
            return {**request.to_dict(), "key": keys[slot_key], "filename": meta["filename"]}

    def start_processing(self, user_id: int, task_id: str) -> dict[str, Any]:
        """Check the uploads, queue the task and return at once."""
        with session_scope(self.factory) as session:
            task = self._owned(session, user_id, task_id)
            check_transition(task.status, Status.QUEUED)
            missing, too_large, files = [], [], dict(task.files_metadata)
            for slot_key, key in task.input_keys.items():
                if not self.store.exists(key):
                    missing.append(files[slot_key]["filename"])
                    continue
                size = self.store.info(key).size
                files[slot_key] = {**files[slot_key], "size_bytes": size}
                if size > self.settings.max_upload_bytes:
                    too_large.append(files[slot_key]["filename"])
                    self.store.delete(key)
            if missing or too_large:
                code, message = (
                    (
                        "FILES_NOT_FOUND",
                        "These files did not arrive: " + ", ".join(missing) + ". Upload them again.",
                    )
                    if missing
                    else (
                        "FILE_TOO_LARGE",
                        "These files are over the size limit: " + ", ".join(too_large) + ".",
                    )
                )
                transition(session, task, Status.UPLOAD_FAILED, error_code=code, error_message=message)
                session.commit()
                raise DQError(message, code=code, missing=missing, too_large=too_large)
            transition(
                session, task, Status.QUEUED, files_metadata=files, error_code=None, error_message=None
            )
        try:
            self.executor.submit(task_id, task.tool_id, task.attempts)
        except QueueUnavailableError:
            # the task stays queued in the database; the reaper sends it once the queue is back
            log.exception("task %s is queued but could not be sent to the workers yet", task_id)
        return self.get_task(user_id, task_id)

    def cancel_task(self, user_id: int, task_id: str) -> dict[str, Any]:
        """Stop a task; a running one stops before its next agent."""
        with session_scope(self.factory) as session:
            task = self._owned(session, user_id, task_id)
            transition(session, task, Status.CANCELLED, progress_message="Cancelled")
            return task_to_dict(task)

    def get_task(self, user_id: int, task_id: str) -> dict[str, Any]:
        with session_scope(self.factory) as session:
            return task_to_dict(self._owned(session, user_id, task_id))

    def list_tasks(
        self,
        user_id: int,
        *,
        status: str | None = None,
        tool_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> dict[str, Any]:
        """The user's tasks, newest first, with the total and whether more pages follow."""
        if status is not None and status not in {s.value for s in Status}:
            raise ValidationError(f"Unknown status '{status}'.", code="INVALID_FILTER")
        if tool_id is not None:
            get_tool(tool_id)
        limit = max(1, min(int(limit), MAX_LIST_LIMIT))
        offset = max(0, int(offset))
        conditions = [Task.user_id == user_id]
        if status:
            conditions.append(Task.status == status)
        if tool_id:
            conditions.append(Task.tool_id == tool_id)
        with session_scope(self.factory) as session:
            total = int(session.scalar(select(func.count()).select_from(Task).where(*conditions)) or 0)
            rows = session.scalars(
                select(Task)
                .where(*conditions)
                .order_by(Task.created_at.desc(), Task.task_id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            tasks = [task_to_dict(t) for t in rows]
        return {
            "tasks": tasks,
            "total": total,
            "limit": limit,
            "offset": offset,
            "has_more": offset + len(tasks) < total,
        }

    def get_downloads(self, user_id: int, task_id: str) -> list[dict[str, Any]]:
        """Presigned GETs for every output of the task, each with its download file name."""
        task = self.get_task(user_id, task_id)
        downloads = []
        for filename, key in sorted(task["output_keys"].items()):
            request = self.store.presign_download(
                key, filename, expires_in=self.settings.download_url_expiry_seconds
            )
            info = self.store.info(key)
            downloads.append(
                {
                    "filename": filename,
                    "url": request.url,
                    "expires_at": request.to_dict()["expires_at"],
                    "size_bytes": info.size,
                    "content_type": info.content_type,
                }
            )
        return downloads

    def read_report(self, user_id: int, task_id: str) -> dict[str, Any] | None:
        """The task's report.json, or None when the task has not written one."""
        task = self.get_task(user_id, task_id)
        key = task["output_keys"].get("report.json")
        if key is None or not self.store.exists(key):
            return None
        with self.store.open_read(key) as fh:
            return json.loads(fh.read())

    def read_output(self, user_id: int, task_id: str, filename: str) -> bytes | None:
        """One output file of the task (e.g. clusters.csv), or None when it has none by that name."""
        task = self.get_task(user_id, task_id)
        key = task["output_keys"].get(filename)
        if key is None or not self.store.exists(key):
            return None
        with self.store.open_read(key) as fh:
            return fh.read()

    def delete_task(self, user_id: int, task_id: str) -> None:
        """Remove a finished task and every object stored for it."""
        with session_scope(self.factory) as session:
            task = self._owned(session, user_id, task_id)
            if task.status in (Status.QUEUED, Status.PROCESSING):
                raise DQError("Cancel the task before deleting it.", code="INVALID_STATE")
            self.store.delete_prefix(task_prefix(user_id, task_id))
            session.delete(task)
