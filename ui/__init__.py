"""Streamlit glue shared by app.py and app_pages/: navigation, cached loaders, styling and product cards.

The engine lives in ``assistant/`` and never imports Streamlit; everything Streamlit-specific is here.
"""
