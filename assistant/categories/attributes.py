"""Attribute vocabularies (metal, stone, style) and general jewelry terms, from ``assistant/data/attributes.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assistant.categories.registry import DATA_DIR, RegistryError, normalize_name

DEFAULT_ATTRIBUTES_FILE = DATA_DIR / "attributes.json"


@dataclass(frozen=True)
class AttributeValue:
    """One value of an attribute, e.g. metal "rose gold", with its prompts for CLIP."""

    name: str
    synonyms: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    #: English that a Chinese synonym translates to, when not the name (stone "none" -> "no gemstone").
    translation: str | None = None

    @property
    def english(self) -> str:
        return self.translation or self.name

    @property
    def names(self) -> list[str]:
        return [self.name, *self.synonyms]


@dataclass(frozen=True)
class Attribute:
    """An attribute kind: its prompt templates ("{} jewelry") and its values."""

    kind: str
    templates: tuple[str, ...]
    values: tuple[AttributeValue, ...]

    def prompt_texts(self, value: AttributeValue) -> list[str]:
        """Value-specific prompts when given (e.g. stone "none"), else every template over its names."""
        if value.prompts:
            return list(value.prompts)
        return [t.format(n) for n in value.names for t in self.templates]


@dataclass(frozen=True)
class AttributeVocabulary:
    attributes: dict[str, Attribute]
    #: Chinese term -> English, for words that are neither categories nor attribute values ("的" -> "").
    terms: dict[str, str] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return list(self.attributes)

    def __getitem__(self, kind: str) -> Attribute:
        if kind not in self.attributes:
            raise KeyError(f"no attribute {kind!r}; known: {', '.join(self.attributes)}")
        return self.attributes[kind]


def parse_vocabulary(data: dict, where: str) -> AttributeVocabulary:
    if not isinstance(data, dict):
        raise RegistryError(f"{where}: expected an object of attribute kinds")
    attributes: dict[str, Attribute] = {}
    for kind, spec in data.items():
        if kind == "terms":
            continue
        templates = spec.get("prompts") if isinstance(spec, dict) else None
        values = spec.get("values") if isinstance(spec, dict) else None
        if not templates or not isinstance(values, list) or not values:
            raise RegistryError(f"{where}: attribute {kind!r} needs 'prompts' and a non-empty 'values' list")
        parsed = []
        for i, v in enumerate(values):
            if not isinstance(v, dict) or not v.get("name"):
                raise RegistryError(f"{where}: attribute {kind!r}, value #{i + 1} has no name")
            parsed.append(
                AttributeValue(
                    name=normalize_name(v["name"]),
                    synonyms=tuple(v.get("synonyms", ())),
                    zh=tuple(v.get("zh", ())),
                    prompts=tuple(v.get("prompts", ())),
                    translation=v.get("translation"),
                )
            )
        attributes[kind] = Attribute(kind=kind, templates=tuple(templates), values=tuple(parsed))
    terms = data.get("terms", {})
    if not isinstance(terms, dict):
        raise RegistryError(f"{where}: 'terms' must map Chinese terms to English")
    return AttributeVocabulary(attributes=attributes, terms={str(k): str(v) for k, v in terms.items()})


@lru_cache(maxsize=4)
def load_attributes(path: Path = DEFAULT_ATTRIBUTES_FILE) -> AttributeVocabulary:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path} is not a readable attribute vocabulary: {exc}") from exc
    return parse_vocabulary(data, str(path))
