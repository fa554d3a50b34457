"""Errors that carry a stable code and a sentence a business user understands.

The code is what programs and tests rely on; the message is what the screen shows. Tracebacks
go to the log, never to the user.
"""

from __future__ import annotations


class DQError(Exception):
    """Base for every error the product reports to a user."""

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"error_code": self.code, "message": self.message, **self.details}


class ValidationError(DQError):
    """The request itself is wrong (unknown tool, agent, slot or parameter, bad file name)."""

    code = "VALIDATION_ERROR"


class NotFoundError(DQError):
    """The object does not exist or belongs to someone else: both answer the same."""

    code = "NOT_FOUND"


class InvalidStateError(DQError):
    """The task is not in a status that allows this step."""

    code = "INVALID_STATE"


class InsufficientCreditsError(DQError):
    code = "INSUFFICIENT_CREDITS"


class FileReadError(DQError):
    """An input file cannot be read as a table (empty, binary, unsupported, too large)."""

    code = "FILE_UNREADABLE"


class StorageError(DQError):
    code = "STORAGE_ERROR"


class ConfigurationError(DQError):
    """A setting is missing or wrong; the message names the setting."""

    code = "CONFIGURATION_ERROR"
