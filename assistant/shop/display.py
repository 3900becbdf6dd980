"""How products read in a shop window: prices with their currency, facts in one short line.

UI-agnostic (no Streamlit) so the shop, the kiosk and any other front end word things the same way.
"""

from __future__ import annotations

from assistant.catalog import Product
from assistant.plaintext import markdown_literal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹", "KRW": "₩"}
#: Sku prefix of the synthetic demo products (assistant/synthetic.py); shops label them wherever they show.
SYNTHETIC_SKU_PREFIX = "SYN-"
#: Facet values that mean "nothing here" and are not worth showing to a shopper.
EMPTY_FACETS = {"", "none", "n/a", "-"}


def format_price(price: float | None, currency: str = "") -> str:
    """'$1,250' for whole amounts, '$523.40' otherwise; unknown currencies go after the amount."""
    if price is None:
        return "Price on request"
    amount = f"{price:,.0f}" if float(price).is_integer() else f"{price:,.2f}"
    code = (currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{symbol}{amount}"
    return f"{amount} {code}".strip()


def facet_label(value: str) -> str:
    """'rose gold' -> 'Rose gold': facet values are stored lower-case."""
    return value[:1].upper() + value[1:] if value else value


def facet_markdown(value: str) -> str:
    """``facet_label`` for places that render Markdown (pills, buttons, widget labels): shown as typed."""
    return markdown_literal(facet_label(value))


def product_facts(product: Product) -> str:
    """'Ring · Rose gold · Diamond': the category, metal and stone that are known."""
    values = (product.category, product.metal, product.stone)
    return " · ".join(facet_label(v) for v in values if (v or "").strip().lower() not in EMPTY_FACETS)


def is_synthetic(product: Product) -> bool:
    return product.sku.startswith(SYNTHETIC_SKU_PREFIX)
