"""Sign-in with streamlit-authenticator, with the database as the only source of truth.

Each run builds the widget's credentials from the users table, lets the widget do its work
(log in, log out, register, reset password), then writes back whatever it changed: new
accounts, new password hashes and failed log-in counts. Only active, verified users get past
the gate; the first visitor of an empty database creates the first administrator.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, NoReturn

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import (
    CredentialsError,
    LoginError,
    RegisterError,
    ResetError,
)

from core import users
from core.errors import DQError
from core.services import Services
from ui.session import USER_ID

COOKIE_NAME = "dq_workbench_auth"
REGISTERED = "dq_registration_message"
COOKIE_DAYS = 7.0


def _credentials(services: Services) -> dict[str, Any]:
    lockout = services.settings.lockout_minutes
    hashes = users.password_hashes(services.factory)
    return {
        "usernames": {
            u.username: {
                "email": u.email or "",
                "first_name": u.name or u.username,
                "last_name": "",
                "password": hashes[u.username],
                "failed_login_attempts": users.failed_attempts(u, lockout),
                "logged_in": False,
                "roles": ["admin"] if u.is_admin else ["user"],
            }
            for u in users.list_users(services.factory)
        }
    }


def _write_back(services: Services, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Persist what the widget changed in its credentials; returns the user names it created."""
    created = []
    lockout = services.settings.lockout_minutes
    for username, entry in after["usernames"].items():
        old = before["usernames"].get(username)
        if old is None:
            created.append(username)
            continue
        if entry.get("password") != old.get("password"):
            users.set_password_hash(services.factory, username, entry["password"])
        was, now = old.get("failed_login_attempts", 0), entry.get("failed_login_attempts", 0)
        if now > was:
            users.record_login(services.factory, username, succeeded=False, lockout_minutes=lockout)
        elif now == 0 and was > 0:
            users.record_login(services.factory, username, succeeded=True, lockout_minutes=lockout)
    return created


def _first_admin(services: Services) -> None:
    st.title("Welcome to the data-quality workbench")
    st.write("There are no accounts yet. Create the first administrator account to get started.")
    with st.form("first_admin"):
        name = st.text_input("Your name")
        email = st.text_input("E-mail")
        username = st.text_input("User name", help="2 to 64 letters, digits or _ . @ -")
        password = st.text_input("Password", type="password", help="At least 8 characters.")
        repeat = st.text_input("Repeat the password", type="password")
        if st.form_submit_button("Create administrator", type="primary"):
            if password != repeat:
                st.error("The two passwords differ.")
                return
            try:
                users.create_user(
                    services.factory,
                    username.strip(),
                    password,
                    name=name.strip() or None,
                    email=email.strip() or None,
                    is_admin=True,
                    is_verified=True,
                    credits=1000,
                )
            except DQError as error:
                st.error(error.message)
                return
            st.rerun()  # the sign-in screen follows


def _register(services: Services, authenticator: stauth.Authenticate, before: dict[str, Any]) -> None:
    policy = services.settings.registration
    if st.session_state.get(REGISTERED):
        st.success(st.session_state[REGISTERED])
        return
    if policy == "approval":
        st.caption("New accounts can be used once an administrator approves them.")
    try:
        result = authenticator.register_user(
            location="main",
            captcha=False,
            password_hint=False,
            key="register",
            fields={"Form name": "Create an account", "Register": "Create account"},
        )
    except RegisterError as error:
        st.error(str(error))
        return
    if not result or not result[1]:
        return
    email, username, _ = result
    entry = authenticator.authentication_controller.authentication_model.credentials["usernames"][username]
    name = f"{entry.get('first_name', '')} {entry.get('last_name', '')}".strip()
    try:
        users.create_user(
            services.factory,
            username,
            password_hash=entry["password"],
            email=email,
            name=name or None,
            is_verified=policy == "open",
            credits=services.settings.signup_credits,
        )
    except DQError as error:
        st.error(error.message)
        return
    # Kept in the session so the confirmation survives the reruns that follow (cookie reads).
    st.session_state[REGISTERED] = (
        "Your account is ready. Sign in on the first tab."
        if policy == "open"
        else "Your account was created. You can sign in once an administrator approves it."
    )
    st.success(st.session_state[REGISTERED])


def _authenticator(services: Services, credentials: dict[str, Any]) -> stauth.Authenticate:
    authenticator = stauth.Authenticate(
        credentials,
        COOKIE_NAME,
        services.settings.cookie_key,
        COOKIE_DAYS,
        auto_hash=False,
        login_sleep_time=0.1,
    )
    _check_cookies_strictly(authenticator, set(credentials["usernames"]))
    return authenticator


def _check_cookies_strictly(authenticator: stauth.Authenticate, usernames: set[str]) -> None:
    """Make the widget treat every cookie it cannot fully trust as no cookie at all.

    streamlit-authenticator 0.4.2 catches only a bad signature: a cookie claiming another
    algorithm (an unsigned `alg: none` token, anyone can make one) raised out of the sign-in
    screen and left the visitor on an error page with no form; a valid cookie for an account
    that no longer exists raised LoginError on every run. Here any such cookie reads as absent,
    so the sign-in form shows.
    """
    model = authenticator.cookie_controller.cookie_model
    key = model.cookie_key

    def decode() -> dict[str, Any] | bool:
        try:
            claims = jwt.decode(model.token, key, algorithms=["HS256"])
        except (jwt.InvalidTokenError, TypeError, ValueError):
            return False
        username, expires = claims.get("username"), claims.get("exp_date")
        if username not in usernames or not isinstance(expires, int | float):
            return False
        return claims

    model._token_decode = decode  # the one method that turns the cookie into a user name


# The app's page addresses: before sign-in each of them shows the sign-in screen, so a link to a
# page (or a reload while the sign-in cookie is read) lands on that page once signed in.
APP_URL_PATHS = ("my_tasks", "task", "account", "admin")


def _screen(draw: Callable[[], None], title: str) -> NoReturn:
    """Show a screen of its own (no page menu) and end the run."""
    pages = [st.Page(draw, title=title, url_path="welcome", default=True)]
    pages += [
        st.Page(lambda: draw(), title=title, url_path=path, visibility="hidden") for path in APP_URL_PATHS
    ]
    st.navigation(pages, position="hidden").run()
    st.stop()
    raise AssertionError("unreachable")


def _sign_in_screen(services: Services, authenticator: stauth.Authenticate, before: dict[str, Any]) -> None:
    st.title("Data-quality workbench")
    st.write("Profile, clean and match your CSV and Excel files, and see what needs fixing.")
    tabs = ["Sign in"] + ([] if services.settings.registration == "closed" else ["Create an account"])
    sign_in, *register = st.tabs(tabs)
    with sign_in:
        locked = False
        try:
            authenticator.login(
                location="main",
                max_login_attempts=services.settings.login_max_attempts,
                key="login",
                fields={
                    "Form name": "Sign in",
                    "Username": "User name",
                    "Password": "Password",
                    "Login": "Sign in",
                },
            )
        except LoginError:
            locked = True
            st.error(
                "Too many failed attempts for this account. Wait "
                f"{services.settings.lockout_minutes} minutes or ask an administrator to unlock it."
            )
        if st.session_state.get("authentication_status") is False and not locked:
            st.error("The user name or password is not right.")
    if register:
        with register[0]:
            _register(services, authenticator, before)
    _write_back(services, before, authenticator.authentication_controller.authentication_model.credentials)
    if st.session_state.get("authentication_status"):
        time.sleep(0.5)  # let the browser store the sign-in cookie the widget just sent
        st.rerun()  # then start again with the whole app


def _waiting_screen(user: users.UserView, authenticator: stauth.Authenticate) -> None:
    st.title("Data-quality workbench")
    st.warning(
        "Your account is waiting for an administrator's approval."
        if user.is_active
        else "Your account has been deactivated. Ask an administrator if you think this is a mistake."
    )
    if st.button("Sign out"):
        authenticator.logout(location="unrendered")
        st.session_state.pop(USER_ID, None)
        st.rerun()


def gate(services: Services) -> tuple[users.UserView, stauth.Authenticate]:
    """Return the signed-in, approved user; otherwise show the right screen and end the run."""
    if users.count_users(services.factory) == 0:
        _screen(lambda: _first_admin(services), "Welcome")
    before = _credentials(services)
    authenticator = _authenticator(services, copy.deepcopy(before))
    if not st.session_state.get("authentication_status"):
        st.session_state.pop(USER_ID, None)
        _screen(lambda: _sign_in_screen(services, authenticator, before), "Sign in")
    try:
        user = users.find_user(services.factory, st.session_state.get("username") or "")
    except DQError:
        authenticator.logout(location="unrendered")
        st.rerun()
    if not user.can_sign_in:
        _screen(lambda: _waiting_screen(user, authenticator), "Waiting for approval")
    st.session_state[USER_ID] = user.id
    st.session_state["dq_authenticator"] = authenticator  # the Account page's password form uses it
    return user, authenticator


def reset_password_form(services: Services, authenticator: stauth.Authenticate, username: str) -> None:
    """The change-password form; the new hash is written to the database."""
    model = authenticator.authentication_controller.authentication_model
    before = copy.deepcopy(model.credentials)
    try:
        if authenticator.reset_password(
            username,
            location="main",
            key="reset_password",
            fields={
                "Form name": "Change password",
                "Current password": "Current password",
                "New password": "New password",
                "Repeat password": "Repeat the new password",
                "Reset": "Change password",
            },
        ):
            _write_back(services, before, model.credentials)
            st.success("Your password was changed.")
    except (ResetError, CredentialsError) as error:
        st.error(str(error))
