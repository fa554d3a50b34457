"""Step 4 of the wizard: one picker per file slot, uploading straight to storage.

Each slot offers three ways in, all ending in a PUT to the slot's presigned URL:
the browser-direct upload (the file never passes through the app server), a fallback that
goes through the server for browsers or networks where the direct path fails, and a sample
file for demos. The task is created as soon as every required slot has a file; later changes
to a slot ask the task service for a fresh URL for just that slot.
"""

from __future__ import annotations

import streamlit as st

from core.errors import DQError
from core.services import Services
from core.users import UserView
from ui.direct_upload import direct_upload
from ui.samples import SAMPLES, sample_bytes
from ui.server_upload import put_to_presigned
from ui.text import escape_markdown, human_bytes
from ui.wizard_state import SlotFile, Wizard


def _ensure_target(svc: Services, user: UserView, wizard: Wizard, slot: str) -> bool:
    """Make sure the slot has an upload URL; returns False while required files are missing."""
    tool = wizard.tool
    assert tool is not None
    chosen = wizard.files[slot]
    if wizard.task_id is None:
        required = {s.key for s in tool.file_slots if s.required}
        if not required <= set(wizard.files):
            return False
        task = svc.tasks.create_task(
            user.id, tool.id, wizard.agents, wizard.parameters, wizard.files_metadata()
        )
        wizard.task_id = task["task_id"]
        wizard.targets = svc.tasks.issue_upload_urls(user.id, wizard.task_id)
        return True
    if slot not in wizard.targets:
        wizard.targets[slot] = svc.tasks.declare_file(user.id, wizard.task_id, slot, chosen.name, chosen.size)
    return True


def _choose(svc: Services, user: UserView, wizard: Wizard, slot: str, chosen: SlotFile) -> bool:
    """Record a new file for a slot and get its upload URL; shows the reason on failure."""
    wizard.files[slot] = chosen
    wizard.targets.pop(slot, None)
    try:
        return _ensure_target(svc, user, wizard, slot)
    except DQError as error:
        wizard.files.pop(slot, None)
        st.error(f"{escape_markdown(error.message)} ({error.code})")
        return False


def _server_put(
    svc: Services, user: UserView, wizard: Wizard, slot: str, chosen: SlotFile, data: object
) -> None:
    if not _choose(svc, user, wizard, slot, chosen):
        return
    try:
        with st.spinner(f"Uploading {escape_markdown(chosen.name)}…"):
            put_to_presigned(wizard.targets[slot], data)  # type: ignore[arg-type]
    except DQError as error:
        chosen.error = error.message
        st.error(f"{escape_markdown(error.message)} ({error.code})")
    else:
        chosen.uploaded = True
        st.rerun()


def _slot(svc: Services, user: UserView, wizard: Wizard, slot_key: str) -> None:
    tool = wizard.tool
    assert tool is not None
    slot = tool.slot(slot_key)
    g = wizard.generation
    limit = svc.settings.max_upload_bytes
    accepted = ", ".join("." + e for e in slot.extensions)
    st.markdown(f"**{slot.label}**" + ("" if slot.required else " · optional"))
    st.caption(f"{slot.help} Accepted: {accepted}; up to {human_bytes(limit)}.")
    current = wizard.files.get(slot_key)
    direct, server, sample = st.tabs(["From your computer", "Upload through the server", "Try a sample file"])
    with direct:
        target = wizard.targets.get(slot_key) if current and current.source == "direct" else None
        state = direct_upload(
            f"direct_{g}_{slot_key}", label=slot.label, accept=slot.extensions, max_bytes=limit, target=target
        )
        if state.phase == "rejected" and current is not None and current.source == "direct":
            wizard.files.pop(slot_key, None)  # the component refused the new file and dropped the old
        elif state.name and state.phase in ("selected", "uploading", "uploaded", "error"):
            same = current is not None and current.source == "direct" and current.selection == state.selection
            if not same:
                picked = SlotFile("direct", state.name, state.size or 0, selection=state.selection)
                if _choose(svc, user, wizard, slot_key, picked):
                    st.rerun()  # the component gets its URL on the next run and starts the upload
            elif current is not None:
                current.uploaded = state.phase == "uploaded"
                current.error = state.error if state.phase == "error" else None
    with server:
        st.caption(
            "Use this if the upload from your computer keeps failing (for example behind a strict proxy)."
        )
        picked = st.file_uploader(
            slot.label, type=list(slot.extensions), key=f"server_{g}_{slot_key}", label_visibility="collapsed"
        )
        if picked is not None and not (
            current
            and current.source == "server"
            and current.name == picked.name
            and current.size == picked.size
            and current.uploaded
        ):
            if picked.size > limit:
                st.error(
                    f"{escape_markdown(picked.name)} is {human_bytes(picked.size)}; "
                    f"the limit is {human_bytes(limit)}."
                )
            else:
                _server_put(svc, user, wizard, slot_key, SlotFile("server", picked.name, picked.size), picked)
    with sample:
        st.caption("Small example files with typical problems planted in them, to see what the tool finds.")
        names = [s.filename for s in SAMPLES if s.filename.rsplit(".", 1)[-1] in slot.extensions]
        describe = {s.filename: f"{s.title} — {s.description}" for s in SAMPLES}
        choice = st.selectbox("Sample", names, format_func=describe.get, key=f"sample_{g}_{slot_key}")
        if choice and st.button("Use this sample", key=f"use_sample_{g}_{slot_key}"):
            data = sample_bytes(choice)
            _server_put(svc, user, wizard, slot_key, SlotFile("sample", choice, len(data)), data)
    current = wizard.files.get(slot_key)
    if current is None:
        st.caption("No file chosen yet.")
    elif current.uploaded:
        st.success(f"{escape_markdown(current.name)} ({human_bytes(current.size)}) is uploaded.", icon="✅")
    elif current.error:
        st.error(f"{escape_markdown(current.name)}: {current.error}")
    elif slot_key not in wizard.targets:
        st.info("The upload starts once every required file is chosen.")


def files_step(svc: Services, user: UserView, wizard: Wizard) -> None:
    tool = wizard.tool
    assert tool is not None
    st.subheader("Your files")
    for slot in tool.file_slots:
        with st.container(border=True):
            _slot(svc, user, wizard, slot.key)
