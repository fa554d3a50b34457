"""Admin: approve new accounts, switch accounts on and off, unlock them and grant credits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import billing, users
from core.errors import DQError
from ui.session import current_user, services

me = current_user()
svc = services()
if not me.is_admin:
    st.title("Not available")
    st.write("This page is for administrators.")
    st.stop()

st.title("Admin")
everyone = users.list_users(svc.factory)
pending = [u for u in everyone if u.is_active and not u.is_verified]
if pending:
    st.info(f"{len(pending)} account(s) waiting for approval.")

frame = pd.DataFrame(
    {
        "User name": [u.username for u in everyone],
        "Name": [u.name or "" for u in everyone],
        "E-mail": [u.email or "" for u in everyone],
        "Approved": [u.is_verified for u in everyone],
        "Active": [u.is_active for u in everyone],
        "Admin": [u.is_admin for u in everyone],
        "Credits": [u.credits for u in everyone],
        "Failed log-ins": [users.failed_attempts(u, svc.settings.lockout_minutes) for u in everyone],
    }
)
st.dataframe(frame, hide_index=True, width="stretch")

st.subheader("Change an account")
by_name = {u.username: u for u in everyone}
if st.session_state.get("admin_account") not in by_name:  # first visit, or the account is gone
    st.session_state["admin_account"] = pending[0].username if pending else next(iter(by_name))
chosen = st.selectbox("Account", list(by_name), key="admin_account")
target = by_name[chosen]
actions = st.columns(4)
if not target.is_verified and actions[0].button("Approve", type="primary"):
    users.set_flags(svc.factory, target.id, is_verified=True)
    st.rerun()
if target.id != me.id:
    if target.is_active and actions[1].button("Deactivate"):
        users.set_flags(svc.factory, target.id, is_active=False)
        st.rerun()
    if not target.is_active and actions[1].button("Activate"):
        users.set_flags(svc.factory, target.id, is_active=True)
        st.rerun()
    if actions[2].button("Remove admin" if target.is_admin else "Make admin"):
        users.set_flags(svc.factory, target.id, is_admin=not target.is_admin)
        st.rerun()
if target.failed_login_attempts and actions[3].button("Unlock sign-in"):
    users.set_flags(svc.factory, target.id, unlock=True)
    st.rerun()

with st.form("grant"):
    amount = st.number_input("Credits to add (negative to remove)", value=100, step=10)
    note = st.text_input("Note for the ledger", value="granted by an administrator")
    if st.form_submit_button("Grant credits"):
        try:
            balance = billing.grant(svc.factory, target.id, int(amount), note=note or None)
        except DQError as error:
            st.error(f"{error.message} ({error.code})")
        else:
            st.success(f"The balance is now {balance:,} credits.")
