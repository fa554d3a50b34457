"""The endpoints: each one is a thin call into `core.tasks.TaskService`, scoped to the caller.

Another user's task answers 404 `TASK_NOT_FOUND` on every endpoint, exactly like a task that
does not exist, because the service looks tasks up by owner. Endpoints are plain `def`: FastAPI
runs them in its thread pool, so database and storage calls never block the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.auth import CoreServices, CurrentUser
from api.errors import error_responses
from api.schemas import CreateTaskRequest, Downloads, Task, TaskList, UploadUrls
from core.registry import registry_as_dict

MAX_OFFSET = 1_000_000_000

router = APIRouter(responses=error_responses(401, 403, 422))
TASK_ERRORS = error_responses(404, 409)


@router.get("/tools", summary="The tools with their agents, file slots and parameters")
def list_tools(_user: CurrentUser) -> dict[str, list[dict[str, Any]]]:
    return {"tools": registry_as_dict()}


@router.post(
    "/tasks", status_code=201, response_model=Task, summary="Create a task", responses=error_responses(413)
)
def create_task(body: CreateTaskRequest, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    files = {slot: meta.model_dump() for slot, meta in body.files_metadata.items()}
    return svc.tasks.create_task(user.id, body.tool_id, body.agents, body.parameters, files)


@router.get("/tasks", response_model=TaskList, summary="Your tasks, newest first")
def list_tasks(
    user: CurrentUser,
    svc: CoreServices,
    status: Annotated[str | None, Query(description="only tasks in this status")] = None,
    tool: Annotated[str | None, Query(description="only tasks of this tool id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return svc.tasks.list_tasks(user.id, status=status, tool_id=tool, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", response_model=Task, summary="One task", responses=TASK_ERRORS)
def get_task(task_id: str, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    return svc.tasks.get_task(user.id, task_id)


@router.post(
    "/tasks/{task_id}/upload-urls",
    response_model=UploadUrls,
    summary="Presigned PUT URLs, one per file slot",
    responses=TASK_ERRORS,
)
def upload_urls(task_id: str, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    return {"task_id": task_id, "upload_urls": svc.tasks.issue_upload_urls(user.id, task_id)}


@router.post(
    "/tasks/{task_id}/process",
    status_code=202,
    response_model=Task,
    summary="Check the uploads and queue the task; returns at once",
    responses=TASK_ERRORS,
)
def process(task_id: str, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    return svc.tasks.start_processing(user.id, task_id)


@router.get(
    "/tasks/{task_id}/downloads",
    response_model=Downloads,
    summary="Presigned GET URLs of the task's outputs",
    responses=TASK_ERRORS,
)
def downloads(task_id: str, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    return {"task_id": task_id, "downloads": svc.tasks.get_downloads(user.id, task_id)}


@router.post("/tasks/{task_id}/cancel", response_model=Task, summary="Cancel a task", responses=TASK_ERRORS)
def cancel(task_id: str, user: CurrentUser, svc: CoreServices) -> dict[str, Any]:
    return svc.tasks.cancel_task(user.id, task_id)


@router.delete(
    "/tasks/{task_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a task that is not queued or running, and every file stored for it",
    responses=TASK_ERRORS,
)
def delete(task_id: str, user: CurrentUser, svc: CoreServices) -> Response:
    svc.tasks.delete_task(user.id, task_id)
    return Response(status_code=204)
