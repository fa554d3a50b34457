"""Account: the credit balance, where the credits went, personal API tokens, and the password."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import billing, tokens
from core.errors import DQError
from core.registry import TOOLS
from ui import auth
from ui.session import current_user, services

user = current_user()
svc = services()
st.title("Account")

cols = st.columns(3)
cols[0].metric("Credit balance", f"{user.credits:,}")
cols[1].metric("User name", user.username)
cols[2].metric("Role", "Administrator" if user.is_admin else "User")

st.subheader("Usage history")
entries = billing.ledger(svc.factory, user.id, limit=500)
if not entries:
    st.info("No credits have moved yet. Running a task uses a few credits per check.")
else:
    names = {a.id: a.name for tool in TOOLS.values() for a in tool.agents}
    words = {"grant": "Credits added", "charge": "Check run", "refund": "Refund (check failed)"}
    frame = pd.DataFrame(
        {
            "When (UTC)": [e["created_at"].replace("T", " ")[:19] for e in entries],
            "What": [words.get(e["kind"], e["kind"]) for e in entries],
            "Check": [names.get(e["agent_id"], e["agent_id"] or "") for e in entries],
            "Credits": [e["amount"] for e in entries],
            "Balance after": [e["balance_after"] for e in entries],
            "Note": [e["note"] or "" for e in entries],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch")

st.subheader("API tokens")
st.caption(
    "Scripts and the command line (`python -m core run --api ...`) sign in with a personal token "
    f"instead of your password. API documentation: {svc.settings.public_base_url}/api/v1/docs"
)
new_token = st.session_state.pop("dq_new_token", None)
if new_token:
    st.success("Your new token. Copy it now: it is shown only this once, and it works like your password.")
    st.code(new_token, language=None)
with st.form("new_api_token", clear_on_submit=True):
    token_name = st.text_input(
        "Name", placeholder="e.g. nightly import script", max_chars=tokens.MAX_NAME_LENGTH
    )
    if st.form_submit_button("Create token"):
        try:
            st.session_state["dq_new_token"], _ = tokens.create_token(svc.factory, user.id, token_name)
            st.rerun()
        except DQError as error:
            st.error(f"{error.message} ({error.code})")
api_tokens = tokens.list_tokens(svc.factory, user.id)
if api_tokens:

    def _when(value: object) -> str:
        return "" if value is None else str(value)[:16] + " UTC"

    st.dataframe(
        pd.DataFrame(
            {
                "Name": [t.name for t in api_tokens],
                "Starts with": [t.prefix + "…" for t in api_tokens],
                "Created": [_when(t.created_at) for t in api_tokens],
                "Last used": [_when(t.last_used_at) or "never" for t in api_tokens],
                "Status": ["active" if t.active else f"revoked {_when(t.revoked_at)}" for t in api_tokens],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    active = {t.id: t for t in api_tokens if t.active}
    if active:
        chosen = st.selectbox(
            "Token to revoke",
            list(active),
            format_func=lambda token_id: f"{active[token_id].name} ({active[token_id].prefix}…)",
        )
        if st.button("Revoke token", key="revoke_api_token"):
            tokens.revoke_token(svc.factory, user.id, chosen)
            st.rerun()

st.subheader("Password")
authenticator = st.session_state.get("dq_authenticator")
if authenticator is not None:
    auth.reset_password_form(svc, authenticator, user.username)
