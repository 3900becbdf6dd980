"""Product cards in a responsive grid: photo (tap it for the product page), title, price, facts, one reason,
and the page's buttons. Staff pages may show a score on a card; shopper pages never pass one. A shopper
page's cards are fragments of their own, so a tap on a card redraws that card, not the grid (ui/redraw.py).

Every catalog value goes into the card's HTML escaped, so a title is text, never markup.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import streamlit as st
from PIL import Image, ImageDraw
from streamlit.delta_generator import DeltaGenerator

from assistant.catalog import Catalog, Product
from assistant.images import ImageError, load_image
from assistant.plaintext import html_text, markdown_literal
from assistant.shop.display import is_synthetic, product_facts

from .i18n import facet, price, t

THUMBNAIL_PIXELS = 480
#: The product page's photo: big enough to zoom into on a 1080 px wide screen.
LARGE_PIXELS = 1400


@dataclass
class Card:
    product: Product
    score: float | None = None
    reasons: Sequence[str] = field(default_factory=list)
    badges: Sequence[str] = field(default_factory=list)
    #: What the score is on staff pages: search similarity ("match") or, on the merchandiser page, a probability.
    score_label: str = "match"
    #: A quieter card (a piece the shopper passed); it keeps its place in the grid.
    dimmed: bool = False


@functools.lru_cache(maxsize=2000)  # about 60 MB of JPEGs at most, shared by every session of the server
def thumbnail(path: str | None, size: int = THUMBNAIL_PIXELS) -> bytes:
    """A JPEG no larger than size x size: the browser gets small files, whatever the shop uploaded.

    Keyed by path, which is safe because catalog photos are stored under their content hash. A plain
    in-process cache: st.cache_data hashed its arguments through inspect.signature and unpickled a copy of
    the bytes on every hit, a few ms per card on every run.
    """
    try:
        image = load_image(path) if path else None
    except ImageError:
        image = None
    if image is None:
        image = _placeholder(size)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def product_thumbnail(catalog: Catalog, product: Product, size: int = THUMBNAIL_PIXELS) -> bytes:
    """The product's stored photo as a small JPEG, or the placeholder when it has none."""
    path = catalog.image_path(product)
    return thumbnail(str(path) if path else None, size)


def photo_data_url(catalog: Catalog, product: Product, size: int = LARGE_PIXELS) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(product_thumbnail(catalog, product, size)).decode("ascii")


def _placeholder(size: int) -> Image.Image:
    """A quiet gem outline for products without a photo."""
    image = Image.new("RGB", (size, size), (250, 246, 240))
    d = ImageDraw.Draw(image)
    s = size / 48
    outline = [(6, 17), (15, 8), (33, 8), (42, 17), (24, 41), (6, 17)]
    d.line([(x * s, y * s) for x, y in outline], fill=(214, 200, 178), width=max(2, size // 80))
    return image


def badge_labels(card: Card) -> list[str]:
    return [*card.badges, *([t("card.synthetic")] if is_synthetic(card.product) else [])]


def card_html(card: Card) -> str:
    p = card.product
    score = (
        f'<span class="card-score">{html_text(card.score_label)} {card.score:.2f}</span>'
        if card.score is not None
        else ""
    )
    badges = "".join(f'<span class="card-badge">{html_text(b)}</span>' for b in badge_labels(card))
    reasons = "".join(f'<div class="card-reason">{html_text(r)}</div>' for r in card.reasons)
    return (
        f'<div class="card-title">{html_text(p.title)}</div>'
        f'<div class="card-price">{html_text(price(p.price, p.currency))}{score}</div>'
        f'<div class="card-facts">{badges}{html_text(product_facts(p, facet))}</div>'
        f"{reasons}"
    )


def card_fragment_key(grid_key: str, product_id: int) -> str:
    """The fragment key of a card in a grid drawn with ``redrawn``: ``ui.redraw.redraw([...])`` reruns it."""
    return f"piece-{grid_key}-{product_id}"


def product_grid(
    catalog: Catalog,
    cards: Sequence[Card],
    key: str,
    columns: int = 4,
    min_column_width: int = 200,
    actions: Callable[[Card], None] | None = None,
    on_open: Callable[[Product], None] | None = None,
    redrawn: Callable[[Product], Card] | None = None,
) -> None:
    """Cards in a grid that reflows with the window; ``actions`` draws each card's buttons, and with
    ``on_open`` a tap on the photo opens the product (a transparent button laid over the photo).

    With ``redrawn``, each card is a fragment of its own (``card_fragment_key``): a tap on its buttons redraws
    that card alone, as ``redrawn(product)`` builds it at that moment, and the grid stays as it is."""
    grid = st.grid(columns, min_column_width=min_column_width, gap="medium")
    for card in cards:
        if redrawn is None:
            _draw_card(catalog, card, key, actions, on_open, grid.container(key=_card_key(card, key)))
            continue
        with grid.container():
            draw = st.fragment(_draw_fresh_card, key=card_fragment_key(key, card.product.id))
            draw(catalog, card.product, redrawn, key, actions, on_open)


def _card_key(card: Card, grid_key: str) -> str:
    return f"card{'-dimmed' if card.dimmed else ''}-{grid_key}-{card.product.id}"


def _draw_fresh_card(
    catalog: Catalog,
    product: Product,
    redrawn: Callable[[Product], Card],
    key: str,
    actions: Callable[[Card], None] | None,
    on_open: Callable[[Product], None] | None,
) -> None:
    card = redrawn(product)
    _draw_card(catalog, card, key, actions, on_open, st.container(key=_card_key(card, key)))


def _draw_card(
    catalog: Catalog,
    card: Card,
    key: str,
    actions: Callable[[Card], None] | None,
    on_open: Callable[[Product], None] | None,
    box: DeltaGenerator,
) -> None:
    """One card into ``box``: its photo (with the tap-to-open button over it), its text and its buttons."""
    with box:
        st.image(product_thumbnail(catalog, card.product), width="stretch", alt=card.product.title)
        if on_open is not None:
            st.button(
                t("card.open", title=markdown_literal(card.product.title)),
                key=f"open-{key}-{card.product.id}",
                on_click=on_open,
                args=(card.product,),
            )
        st.markdown(card_html(card), unsafe_allow_html=True)
        if actions is not None:
            actions(card)
