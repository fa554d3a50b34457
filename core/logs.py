"""Structured logs: one JSON object per line, so a log collector can filter and sum them.

`log_event` attaches named fields to a record; `JsonFormatter` writes the record and its fields
as one line. `core.states` logs every task transition this way (event `task_transition`), which
is what an operator follows a task by: task id, user, tool, from, to, the seconds spent in the
previous status, and the error code.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

FIELDS_ATTR = "dq_fields"


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "event", ...fields}` on one line; tracebacks as a field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            **getattr(record, FIELDS_ATTR, {}),
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with `fields` kept as structured data (see JsonFormatter)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={FIELDS_ATTR: fields})


def configure_logging(default_level: str = "WARNING") -> None:
    """JSON lines on standard error for the whole process, at LOG_LEVEL (or `default_level`).

    Called once by the command line and the app; a second call replaces the handler it added.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "dq_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.dq_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL") or default_level)
