"""Request and response bodies of the Task API, for validation and the OpenAPI document.

The rules themselves (known tools, agents, slots, parameters, sizes) live in `core.tasks`; these
models only say the shape, so a rule is never written twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FileDeclaration(BaseModel):
    filename: str = Field(description="the file's name; its extension must be accepted by the slot")
    size_bytes: int | None = Field(default=None, description="the size, checked against MAX_UPLOAD_MB")


class CreateTaskRequest(BaseModel):
    tool_id: str = Field(description="a tool id from GET /tools", examples=["profile-my-data"])
    agents: list[str] | None = Field(default=None, description="agent ids; omitted: the tool's defaults")
    parameters: dict[str, Any] = Field(default_factory=dict, description="tool parameters by name")
    files_metadata: dict[str, FileDeclaration] = Field(description="one file per slot key, e.g. 'primary'")


class Task(BaseModel):
    task_id: str
    tool_id: str
    agents: list[str]
    parameters: dict[str, Any]
    files_metadata: dict[str, Any]
    status: str = Field(
        description="created, uploading, upload_failed, queued, processing, completed, failed or cancelled"
    )
    progress: int
    progress_message: str | None
    current_agent: str | None
    agents_completed: list[str]
    input_keys: dict[str, str]
    output_keys: dict[str, str]
    result_summary: dict[str, Any] | None
    partial_results: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    failed_agent: str | None
    attempts: int
    created_at: str | None
    updated_at: str | None
    upload_started_at: str | None
    files_verified_at: str | None
    processing_started_at: str | None
    completed_at: str | None
    failed_at: str | None
    cancelled_at: str | None


class TaskList(BaseModel):
    tasks: list[Task]
    total: int
    limit: int
    offset: int
    has_more: bool


class UploadUrl(BaseModel):
    url: str
    method: str = Field(description="always PUT")
    headers: dict[str, str] = Field(description="send exactly these headers with the PUT")
    expires_at: str | None
    key: str
    filename: str


class UploadUrls(BaseModel):
    task_id: str
    upload_urls: dict[str, UploadUrl] = Field(description="one presigned PUT per file slot")


class Download(BaseModel):
    filename: str
    url: str
    expires_at: str | None
    size_bytes: int
    content_type: str


class Downloads(BaseModel):
    task_id: str
    downloads: list[Download]
