"""The shop's facet filters (category, metal, stone, price range) as sidebar widgets -> engine Filters."""

from __future__ import annotations

import math

import streamlit as st

from assistant.catalog import Filters

from .i18n import facet, labelled, t
from .resources import Shop


def filter_sidebar(shop: Shop, key: str) -> Filters:
    """Multiselects for the facets the catalog has, and a price slider over its price range (both read once
    per catalog generation)."""
    st.header(t("filter.refine"))
    chosen = {}
    for column in ("category", "metal", "stone"):
        values = list(shop.facet_values(column))
        if values:
            chosen[column] = (
                st.multiselect(
                    t(f"filter.{column}"),
                    values,
                    format_func=labelled(values, facet),
                    placeholder=t("filter.any"),
                    key=f"{key}-{column}",
                )
                or None
            )
    min_price = max_price = None
    price_range = shop.price_range()
    if price_range and price_range[1] > price_range[0]:
        low, high = math.floor(price_range[0]), math.ceil(price_range[1])
        picked = st.slider(t("filter.price"), low, high, (low, high), key=f"{key}-price")
        min_price = picked[0] if picked[0] > low else None
        max_price = picked[1] if picked[1] < high else None
    return Filters(min_price=min_price, max_price=max_price, **chosen)
