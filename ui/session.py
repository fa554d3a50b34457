"""What every page needs: the core services and the signed-in user, fresh from the database."""

from __future__ import annotations

import streamlit as st

from core.errors import NotFoundError
from core.services import Services, get_services
from core.users import UserView, get_user

USER_ID = "dq_user_id"


def services() -> Services:
    return get_services()


def current_user() -> UserView:
    """The signed-in user, re-read so the balance and flags are never stale; stops the page
    (the gate in app.py draws the sign-in screen) when nobody is signed in."""
    user_id = st.session_state.get(USER_ID)
    if user_id is None:
        st.stop()
    try:
        return get_user(services().factory, int(user_id))
    except NotFoundError:
        st.session_state.pop(USER_ID, None)
        st.stop()
        raise  # unreachable: st.stop() ends the run
