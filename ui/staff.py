"""Staff sign-in in the app: the sign-in form a signed-out visit to a staff URL shows, the staff session of a
browser tab, its idle end, and Sign out.

Invariant: ``st.session_state[SESSION_KEY]`` holds a ``StaffSession`` only after a successful sign-in in this
browser session (password checked by ``StaffAccounts``, or an allow-listed single sign-on identity);
``current_staff`` drops it when it has been idle too long or its account changed. ``ui.navigation`` runs a
staff page only when ``current_staff`` returns someone; otherwise it runs ``sign_in_page`` in its place.
"""

from __future__ import annotations

import time

import streamlit as st

from assistant.plaintext import markdown_literal
from assistant.staff.accounts import SignedIn, SignInRefused, StaffAccounts
from assistant.staff.session import PASSWORD, SINGLE_SIGN_ON, StaffSession
from assistant.staff.sso import allowed_staff_email
from assistant.staff.throttle import Throttle, wait_in_units
from ui.i18n import t
from ui.style import page_header

SESSION_KEY = "staff"
#: Why the last staff session ended (idle, signed out, account changed), shown once on the sign-in form.
ENDED_KEY = "staff-ended"
#: This browser session's own count of failed sign-ins, whatever names they tried.
THROTTLE_KEY = "staff-throttle"
#: secrets.toml: ``[staff] emails = [...]`` lists who may sign in through ``[auth]`` (single sign-on).
SSO_ALLOW_LIST = ("staff", "emails")


def single_sign_on_configured() -> bool:
    """True when .streamlit/secrets.toml has an ``[auth]`` section (Streamlit's OIDC login)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def _sso_allow_list() -> list[str]:
    section, key = SSO_ALLOW_LIST
    return list(st.secrets.get(section, {}).get(key, []))


def _single_sign_on_session() -> StaffSession | None:
    """A staff session for a provider identity on the allow-list (st.user lasts across tabs for 30 days)."""
    if not single_sign_on_configured() or not st.user.is_logged_in:
        return None
    email = allowed_staff_email(st.user.to_dict(), _sso_allow_list())
    return StaffSession(email, SINGLE_SIGN_ON) if email else None


def end_staff_session(reason: str) -> None:
    """Sign out of this browser session (and of single sign-on, which would sign it straight back in)."""
    session: StaffSession | None = st.session_state.pop(SESSION_KEY, None)
    st.session_state[ENDED_KEY] = reason
    if session is not None and session.method == SINGLE_SIGN_ON:
        st.logout()
        st.stop()


def current_staff(accounts: StaffAccounts, idle_minutes: float) -> StaffSession | None:
    """The signed-in staff member of this browser session, or None; every call counts as activity."""
    session: StaffSession | None = st.session_state.get(SESSION_KEY) or _single_sign_on_session()
    if session is None:
        return None
    if session.is_idle(idle_minutes):
        end_staff_session(t("staff.idle_signed_out", minutes=f"{idle_minutes:g}"))
        return None
    if session.method == PASSWORD and not accounts.still_valid(SignedIn(session.name, session.password_changed)):
        end_staff_session(t("staff.account_changed"))
        return None
    session.touch()
    st.session_state[SESSION_KEY] = session
    return session


def sign_in_page(accounts: StaffAccounts) -> None:
    """What a signed-out visit to a staff URL shows: the sign-in form and nothing of the page itself."""
    page_header(t("staff.sign_in_title"), t("staff.sign_in_subtitle"))
    if reason := st.session_state.pop(ENDED_KEY, None):
        st.info(reason)
    sso = single_sign_on_configured()
    if sso:
        _single_sign_on_panel()
    if accounts.any():
        _password_form(accounts)
    elif not sso:
        st.warning(t("staff.no_account"))
        st.code("python -m assistant staff add NAME", language="bash")


def _single_sign_on_panel() -> None:
    if st.user.is_logged_in:  # signed in with the provider, but not on the staff list
        email = st.user.to_dict().get("email") or t("staff.this_account")
        st.error(t("staff.sso_not_listed", email=markdown_literal(email)))
        if st.button(t("staff.sso_sign_out"), key="staff-sso-sign-out"):
            st.logout()
        return
    if st.button(t("staff.sso_sign_in"), type="primary", key="staff-sso", icon=":material/badge:"):
        st.login()


def _password_form(accounts: StaffAccounts) -> None:
    with st.form("staff-sign-in", clear_on_submit=True):
        name = st.text_input(t("staff.name"), key="staff-name", autocomplete="username")
        password = st.text_input(
            t("staff.password"), type="password", key="staff-password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("staff.sign_in"), type="primary")
    if not submitted:
        return
    throttle: Throttle = st.session_state.setdefault(THROTTLE_KEY, Throttle())
    now = time.time()
    if (wait := throttle.wait_left(now)) > 0:
        st.error(wait_words(wait))
        return
    try:
        signed_in = accounts.sign_in(name, password, now)
    except SignInRefused as refused:
        throttle.failed(now)
        wait = max(refused.wait_seconds, throttle.wait_left(now))
        said = [t("staff.wrong_password")] if refused.wrong_password else []
        if wait:
            said.append(wait_words(wait))
        st.error(" ".join(said) or markdown_literal(refused))
        return
    throttle.succeeded()
    st.session_state[SESSION_KEY] = StaffSession(signed_in.name, PASSWORD, signed_in.password_changed)
    st.rerun()


def wait_words(seconds: float) -> str:
    """'Too many failed sign-ins: try again in 8 s.' in the reader's language."""
    amount, unit = wait_in_units(seconds)
    return t("staff.wait_minutes" if unit == "min" else "staff.wait_seconds", n=amount)


def staff_panel(session: StaffSession, idle_minutes: float) -> None:
    """Top right of a staff page: who is signed in, Sign out, and a timer that locks the screen when idle."""
    st.caption(t("staff.signed_in_as", name=markdown_literal(session.name)))
    if st.button(t("staff.sign_out"), key="staff-sign-out", icon=":material/logout:"):
        end_staff_session(t("staff.signed_out"))
        st.rerun()

    @st.fragment(run_every=max(1.0, min(60.0, idle_minutes * 15.0)))
    def idle_watch() -> None:
        if session.is_idle(idle_minutes):
            st.rerun(scope="app")

    idle_watch()
