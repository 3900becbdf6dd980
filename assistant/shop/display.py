"""How products read in a shop window: prices with their currency, facts in one short line.

UI-agnostic (no Streamlit) so the shop, the kiosk and any other front end word things the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from assistant.catalog import Product
from assistant.categories.attributes import AttributeVocabulary
from assistant.plaintext import markdown_literal
from assistant.shop.i18n import DEFAULT_LANGUAGE, messages

#: Sku prefix of the synthetic demo products (assistant/synthetic.py); shops label them wherever they show.
SYNTHETIC_SKU_PREFIX = "SYN-"
#: Facet values that mean "nothing here" and are not worth showing to a shopper.
EMPTY_FACETS = {"", "none", "n/a", "-"}


def format_price(price: float | None, currency: str = "", language: str = DEFAULT_LANGUAGE) -> str:
    """'$1,250' for whole amounts, '$523.40' otherwise, in the language's locale (assistant/shop/i18n.py)."""
    return messages(language).price(price, currency)


def facet_label(value: str) -> str:
    """'rose gold' -> 'Rose gold': facet values are stored lower-case."""
    return value[:1].upper() + value[1:] if value else value


def facet_markdown(value: str) -> str:
    """``facet_label`` for places that render Markdown (pills, buttons, widget labels): shown as typed."""
    return markdown_literal(facet_label(value))


def chinese_facet_names(categories: Iterable, attributes: AttributeVocabulary) -> dict[str, str]:
    """Facet value -> its first Chinese name in the vocabularies ('rose gold' -> '玫瑰金', 'ring' -> '戒指');
    the shop's own categories (the registry) win over the built-in attribute vocabulary."""
    names = {
        value.name.lower(): value.zh[0]
        for attribute in attributes.attributes.values()
        for value in attribute.values
        if value.zh
    }
    names.update((category.name.lower(), category.zh[0]) for category in categories if category.zh)
    return names


def product_facts(product: Product, label: Callable[[str], str] = facet_label) -> str:
    """'Ring · Rose gold · Diamond': the category, metal and stone that are known, each worded by ``label``."""
    values = (product.category, product.metal, product.stone)
    return " · ".join(label(v) for v in values if (v or "").strip().lower() not in EMPTY_FACETS)


def is_synthetic(product: Product) -> bool:
    return product.sku.startswith(SYNTHETIC_SKU_PREFIX)
