"""Shop rules with no Streamlit in them: how products are shown to shoppers and how a kiosk visit behaves."""
