"""Chinese jewelry terms -> English, for search: CLIP's English tokenizer reads Chinese poorly.

The dictionary is the registry's and the attribute vocabularies' Chinese synonyms plus general terms;
a query is segmented by longest match, so "珍珠耳环" becomes "pearl earring" and "钻戒" wins over "钻".
Latin words and digits pass through; Chinese characters no entry covers are kept as they are.
"""

from __future__ import annotations

import re

from assistant.categories.attributes import AttributeVocabulary, load_attributes
from assistant.categories.registry import CategoryRegistry

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


class QueryTranslator:
    """Longest-match dictionary translation of Chinese jewelry terms; callable on a query string."""

    def __init__(self, dictionary: dict[str, str]):
        self.dictionary = dict(dictionary)
        self.longest = max((len(k) for k in self.dictionary), default=0)

    @classmethod
    def from_vocabularies(
        cls, registry: CategoryRegistry, attributes: AttributeVocabulary | None = None
    ) -> QueryTranslator:
        attributes = attributes or load_attributes()
        dictionary: dict[str, str] = dict(attributes.terms)
        for attribute in attributes.attributes.values():
            for value in attribute.values:
                dictionary.update((zh, value.english) for zh in value.zh)
        for category in registry:  # categories last: a category term wins over a general one
            dictionary.update((zh, category.name) for zh in category.zh)
        return cls(dictionary)

    def __call__(self, text: str) -> str:
        return self.translate(text)

    def translate(self, text: str) -> str:
        """English for the Chinese terms in ``text``; text without Chinese comes back unchanged."""
        if not has_chinese(text):
            return text
        pieces: list[str] = []  # translated terms padded with spaces; other characters as they are
        i = 0
        while i < len(text):
            match = next(
                (
                    size
                    for size in range(min(self.longest, len(text) - i), 0, -1)
                    if text[i : i + size] in self.dictionary
                ),
                0,
            )
            if match:
                pieces.append(f" {self.dictionary[text[i : i + match]]} ")
                i += match
            else:
                pieces.append(text[i])
                i += 1
        return " ".join("".join(pieces).split()) or text


def translate_query(text: str, registry: CategoryRegistry | None = None) -> str:
    """``translate_query("珍珠耳环") -> "pearl earring"`` with the default (or a catalog's) vocabulary."""
    return QueryTranslator.from_vocabularies(registry or CategoryRegistry.defaults()).translate(text)
