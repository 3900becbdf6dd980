"""The category registry of a catalog: names, descriptions, English and Chinese synonyms, example photos.

It lives in ``<catalog>/categories/registry.json`` (written atomically); a catalog without one starts
from the default jewelry categories in ``assistant/data/categories.json``. Categories may name a
parent ("stud" is an "earring") so that classification can fall back to the broader category.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from assistant.atomic import atomic_write_bytes, atomic_write_json
from assistant.catalog import now_iso
from assistant.errors import AssistantError
from assistant.images import sha256_bytes

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULT_CATEGORIES_FILE = DATA_DIR / "categories.json"
CATEGORIES_DIR = "categories"
REGISTRY_NAME = "registry.json"
EXAMPLES_DIR = "examples"
FORMAT_VERSION = 1
#: Label given to products no category claims with enough probability.
UNKNOWN = "unknown"
DEFAULT_UNKNOWN_BELOW = 0.5
MAX_NAME_LENGTH = 60
EDITABLE_FIELDS = ("description", "synonyms", "zh", "parent", "examples")


class RegistryError(AssistantError):
    """A category edit or registry file is invalid; the message names the category or file and the problem."""


def normalize_name(text: str) -> str:
    """Lower case, separators as single spaces: "Nose_Pin " -> "nose pin"."""
    return " ".join(re.sub(r"[_\-/]+", " ", str(text)).lower().split())


def singular_forms(word: str) -> list[str]:
    """The word and its plausible singulars: "watches" -> [watches, watche, watch]; "rings" -> [rings, ring]."""
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        forms.insert(1, word[:-1])
    return forms


def _clean_list(values: Iterable[str] | None, what: str, category: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise RegistryError(f"category {category!r}: {what} must be a list of strings, not one string")
    cleaned = [" ".join(str(v).split()) for v in values]
    return list(dict.fromkeys(v for v in cleaned if v))


@dataclass
class Category:
    """One category. ``examples`` are photo file names under ``categories/examples`` (content hashes)."""

    name: str
    description: str = ""
    synonyms: list[str] = field(default_factory=list)
    zh: list[str] = field(default_factory=list)
    parent: str | None = None
    examples: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Category:
        if not isinstance(data, dict):
            raise RegistryError(f"{where}: each category must be an object, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise RegistryError(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))} in category {data.get('name')!r}"
            )
        if not data.get("name"):
            raise RegistryError(f"{where}: a category has no name")
        return cls(**data).validated()

    def validated(self) -> Category:
        """A copy with clean fields; raises RegistryError naming the category when a field is unusable."""
        name = normalize_name(self.name)
        if not name:
            raise RegistryError("a category needs a name")
        if len(name) > MAX_NAME_LENGTH:
            raise RegistryError(f"category name {name[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
        if name == UNKNOWN:
            raise RegistryError(f"{UNKNOWN!r} is reserved for products no category claims")
        return replace(
            self,
            name=name,
            description=" ".join(str(self.description or "").split()),
            synonyms=[s for s in _clean_list(self.synonyms, "synonyms", name) if normalize_name(s) != name],
            zh=_clean_list(self.zh, "zh", name),
            parent=normalize_name(self.parent) if self.parent else None,
            examples=_clean_list(self.examples, "examples", name),
        )

    @property
    def names(self) -> list[str]:
        """The English names CLIP reads: the name first, then its synonyms."""
        return [self.name, *self.synonyms]

    def to_dict(self) -> dict:
        return asdict(self)


class CategoryRegistry:
    """The categories of one catalog (or the defaults, when ``root`` is None), with load, edit and save."""

    def __init__(
        self, categories: Iterable[Category], root: Path | None = None, unknown_below: float = DEFAULT_UNKNOWN_BELOW
    ):
        self.root = Path(root) if root is not None else None
        self.unknown_below = float(unknown_below)
        self._categories: dict[str, Category] = {}
        for category in categories:
            category = category.validated()
            if category.name in self._categories:
                raise RegistryError(f"category {category.name!r} appears twice")
            self._categories[category.name] = category
        self._check_parents()

    # ---------------------------------------------------------------- files
    @classmethod
    def defaults(cls, root: Path | None = None) -> CategoryRegistry:
        """The shipped jewelry categories, stamped now (not yet saved anywhere)."""
        registry = cls.read_file(DEFAULT_CATEGORIES_FILE, root)
        stamp = now_iso()
        for category in registry._categories.values():
            category.created_at = category.updated_at = stamp
        return registry

    @classmethod
    def load(cls, catalog_root: str | Path) -> CategoryRegistry:
        """The registry stored with the catalog in ``catalog_root``, or the defaults when none was saved yet."""
        root = Path(catalog_root)
        path = root / CATEGORIES_DIR / REGISTRY_NAME
        return cls.read_file(path, root) if path.exists() else cls.defaults(root)

    @classmethod
    def read_file(cls, path: Path, root: Path | None = None) -> CategoryRegistry:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path} is not a readable category registry: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise RegistryError(f"{path}: expected an object with a 'categories' list")
        if data.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise RegistryError(f"{path} was written by a newer version of this program")
        categories = [Category.from_dict(c, f"{path}, category #{i + 1}") for i, c in enumerate(data["categories"])]
        try:
            return cls(categories, root, data.get("unknown_below", DEFAULT_UNKNOWN_BELOW))
        except RegistryError as exc:
            raise RegistryError(f"{path}: {exc}") from exc

    @property
    def path(self) -> Path:
        if self.root is None:
            raise RegistryError("this registry belongs to no catalog; it cannot be saved")
        return self.root / CATEGORIES_DIR / REGISTRY_NAME

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.to_dict())

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "unknown_below": self.unknown_below,
            "categories": [c.to_dict() for c in self._categories.values()],
        }

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._categories)

    def __iter__(self):
        return iter(list(self._categories.values()))

    def __contains__(self, name: str) -> bool:
        return normalize_name(name) in self._categories

    @property
    def names(self) -> list[str]:
        return list(self._categories)

    def get(self, name: str) -> Category:
        key = normalize_name(name)
        if key not in self._categories:
            raise RegistryError(f"no category {name!r}; known: {', '.join(self._categories)}")
        return self._categories[key]

    def parents(self) -> dict[str, str | None]:
        return {c.name: c.parent for c in self._categories.values()}

    def match_label(self, label: str) -> str | None:
        """The category a dataset label means, by name or synonym, any case, singular or plural."""
        wanted = normalize_name(label)
        candidates = [*singular_forms(wanted), " ".join(singular_forms(w)[-1] for w in wanted.split())]
        lookup: dict[str, str] = {}
        for category in self._categories.values():
            for alias in [*category.names, *category.zh]:
                lookup.setdefault(normalize_name(alias), category.name)
        for candidate in candidates:
            if candidate in lookup:
                return lookup[candidate]
        return None

    def example_path(self, file_name: str) -> Path:
        if self.root is None:
            raise RegistryError("example photos belong to a catalog; this registry has none")
        return self.root / CATEGORIES_DIR / EXAMPLES_DIR / file_name

    # ---------------------------------------------------------------- editing
    def add(self, category: Category) -> Category:
        category = category.validated()
        if category.name in self._categories:
            raise RegistryError(f"category {category.name!r} already exists; update it instead")
        stamp = now_iso()
        category.created_at = category.created_at or stamp
        category.updated_at = stamp
        self._categories[category.name] = category
        try:
            self._check_parents()
        except RegistryError:
            del self._categories[category.name]
            raise
        return category

    def update(self, name: str, **changes) -> Category:
        """Change description, synonyms, zh, parent or examples of a category."""
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise RegistryError(f"cannot change {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE_FIELDS)}")
        old = self.get(name)
        new = replace(old, **changes).validated()
        new.updated_at = now_iso()
        self._categories[old.name] = new
        try:
            self._check_parents()
        except RegistryError:
            self._categories[old.name] = old
            raise
        return new

    def remove(self, name: str) -> Category:
        """Remove a category; its sub-categories move up to its parent."""
        removed = self._categories.pop(self.get(name).name)
        for category in self._categories.values():
            if category.parent == removed.name:
                category.parent = removed.parent
        return removed

    def store_example(self, data: bytes, original_name: str | None = None) -> str:
        """Keep an example photo under its content hash; returns the file name to list in ``examples``."""
        suffix = Path(original_name or "").suffix.lower() or ".img"
        file_name = sha256_bytes(data) + suffix
        path = self.example_path(file_name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        return file_name

    def _check_parents(self) -> None:
        for category in self._categories.values():
            seen = {category.name}
            parent = category.parent
            while parent is not None:
                if parent not in self._categories:
                    raise RegistryError(f"category {category.name!r}: parent {parent!r} is not a category")
                if parent in seen:
                    raise RegistryError(f"category {category.name!r}: parents form a loop through {parent!r}")
                seen.add(parent)
                parent = self._categories[parent].parent
