"""How statuses and severities look: one place for their words, colours and icons."""

from __future__ import annotations

STATUS_LABELS = {
    "created": ("Created", "gray", ":material/edit_note:"),
    "uploading": ("Waiting for files", "gray", ":material/upload:"),
    "upload_failed": ("Upload failed", "red", ":material/error:"),
    "queued": ("Queued", "blue", ":material/schedule:"),
    "processing": ("Running", "blue", ":material/autorenew:"),
    "completed": ("Completed", "green", ":material/check_circle:"),
    "failed": ("Failed", "red", ":material/cancel:"),
    "cancelled": ("Cancelled", "orange", ":material/block:"),
}

SEVERITY_COLOURS = {
    "critical": "#B42318",
    "high": "#D92D20",
    "medium": "#F79009",
    "low": "#1F6FEB",
    "info": "#667085",
}


def status_badge(status: str) -> tuple[str, str, str]:
    """(label, colour, icon) for `st.badge`."""
    return STATUS_LABELS.get(status, (status, "gray", ":material/help:"))
