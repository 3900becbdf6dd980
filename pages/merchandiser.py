"""Merchandiser (staff): categories with their product counts. Drafting new categories lands with assistant.categories."""

import pandas as pd
import streamlit as st

from assistant.catalog import Filters
from assistant.display import facet_label
from ui.resources import current_shop
from ui.style import page_header

shop = current_shop()
catalog = shop.catalog
page_header("Merchandiser", "Categories and the products in them.")
st.dataframe(
    pd.DataFrame([{"category": facet_label(c), "products": catalog.count(Filters(category=c))} for c in catalog.facet_values("category")]),
    hide_index=True,
)
