"""Single sign-on for staff: which identities from the OIDC provider (Streamlit's ``st.login``) are staff.

Invariant: an identity is staff only when its e-mail is on the allow-list (compared case-insensitively)
and the provider has not said the address is unverified; an empty or missing list lets nobody in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def allowed_staff_email(identity: Mapping[str, object], allow_list: Iterable[str]) -> str | None:
    """The identity's e-mail (lower-case) when it may act as staff, else None."""
    email = str(identity.get("email") or "").strip().lower()
    if not email or identity.get("email_verified") is False:
        return None
    allowed = {str(a).strip().lower() for a in allow_list if str(a).strip()}
    return email if email in allowed else None
