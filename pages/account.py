"""Account: the credit balance, where the credits went, and the password."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import billing
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

st.subheader("Password")
authenticator = st.session_state.get("dq_authenticator")
if authenticator is not None:
    auth.reset_password_form(svc, authenticator, user.username)
