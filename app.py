"""The jewelry shop app over the catalog engine: ``streamlit run app.py`` (or ``./run.sh app``).

Settings come from the environment, as for the CLI: ASSISTANT_CATALOG (catalog folder),
ASSISTANT_MODEL (model spec), ASSISTANT_MODEL_CACHE, and ASSISTANT_KIOSK_IDLE_SECONDS for the kiosk.
``ui.navigation.run_app`` chooses the pages; each page in app_pages/ is a thin layer over ``assistant/``.
"""

from ui.navigation import run_app

run_app()
