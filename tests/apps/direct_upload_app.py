"""A tiny app for the browser tests of `ui.direct_upload`: the component, and a caller that
presigns a PUT on the app's own embedded store (served by `st.App(routes=...)`) for the file the
component reports, as the new-task wizard does.

Query parameters choose the caller's behaviour: `mode=auto` (default: issue the URL as soon as
a file is selected), `mode=manual` (issue it when "Issue upload URL" is clicked, so the file must
survive reruns; "Hide the uploader" removes the element for a while), `mode=tamper` (issue a URL
whose signature is broken: 403); `max=` the size limit.
The store lives in `$DATA_DIR/objects` and its URLs point at `$PUBLIC_BASE_URL`.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.tasks import content_type_for
from storage.keys import safe_filename
from storage.local import LocalObjectStore
from storage.routes import storage_routes

SECRET = "direct-upload-test-secret"


def make_store() -> LocalObjectStore:
    data_dir = Path(os.environ.get("DATA_DIR", "data"))
    base = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8501")
    return LocalObjectStore(data_dir / "objects", SECRET, base, max_upload_bytes=50_000_000)


store = make_store()
app = st.App(__file__, routes=storage_routes(store))


def main() -> None:
    from ui.direct_upload import direct_upload

    mode = st.query_params.get("mode", "auto")
    max_bytes = int(st.query_params.get("max", "20000000"))
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    target = st.session_state.get("target")
    if st.checkbox("Hide the uploader"):  # the element is removed, then drawn again
        st.text("phase: hidden")
        st.text(f"runs: {st.session_state['runs']}")
        return
    state = direct_upload(
        "upload", label="Data file", accept=("csv", "tsv", "txt", "xlsx"), max_bytes=max_bytes, target=target
    )
    if state.selection != st.session_state.get("target_for"):
        st.session_state.pop("target", None)  # a new file: the old URL is not for it
        st.session_state["target_for"] = None
    issue = mode != "manual" or st.button("Issue upload URL")
    if state.phase == "selected" and state.name and issue and st.session_state.get("target") is None:
        key = f"uploads/{state.selection}/{safe_filename(state.name)}"
        request = store.presign_upload(key, content_type_for(state.name)).to_dict()
        if mode == "tamper":
            request["url"] = request["url"].replace("sig=", "sig=0")
        st.session_state["target"] = request
        st.session_state["target_for"] = state.selection
        st.session_state["key"] = key
        st.rerun()
    st.button("Rerun")
    st.text(f"phase: {state.phase}")
    st.text(f"name: {state.name}")
    st.text(f"key: {st.session_state.get('key')}")
    st.text(f"error: {state.error}")
    st.text(f"runs: {st.session_state['runs']}")


if __name__ == "__main__":
    main()
