"""Search: a text, photo or hybrid query embedded by CLIP and looked up in the catalog's index."""

from assistant.search.engine import DEFAULT_TEXT_WEIGHT, SearchEngine

__all__ = ["DEFAULT_TEXT_WEIGHT", "SearchEngine"]
