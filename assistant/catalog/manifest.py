"""A catalog folder's manifest: which model's space its vectors are in, and how they were made.

Invariant: written atomically, and read before anything else in the folder, so a catalog is never used
with vectors of another model (nor of a newer format) by mistake.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.atomic import atomic_write_json
from assistant.catalog.records import CatalogError, now_iso

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
#: Share of the photo in a product's vector; the text carries what a photo can't show (metal purity, stone).
DEFAULT_IMAGE_WEIGHT = 0.7


@dataclass
class Manifest:
    model_spec: str
    dim: int
    index_kind: str = "auto"
    image_weight: float = DEFAULT_IMAGE_WEIGHT
    format_version: int = FORMAT_VERSION
    created_at: str = field(default_factory=now_iso)
    reindex_target: str | None = None

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise CatalogError(f"{path} is not a readable catalog manifest: {exc}") from exc

    def write(self, path: Path) -> None:
        atomic_write_json(path, asdict(self))
