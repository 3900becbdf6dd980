"""Staff: accounts and sign-in throttling (``accounts.py``, ``throttle.py``), the staff session and its idle
end (``session.py``), single sign-on's allow-list (``sso.py``), and which pages a deployment serves
(``pages.py``). No Streamlit here: ``ui/staff.py`` is the app's side."""
