"""Settings shared by the CLI and the app: flags win over environment variables, which win over defaults."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.catalog.location import cache_dir_for, is_database_url
from assistant.clip.factory import DEFAULT_MODEL_SPEC
from assistant.errors import SettingsError

DEFAULT_CATALOG_DIR = "catalog"
ENV_CATALOG = "ASSISTANT_CATALOG"
ENV_MODEL = "ASSISTANT_MODEL"
ENV_MODEL_CACHE = "ASSISTANT_MODEL_CACHE"
ENV_RUNTIME = "ASSISTANT_RUNTIME"


@dataclass(frozen=True)
class Settings:
    """``catalog_url`` is set when the catalog is a PostgreSQL database, and ``catalog_dir`` is then this machine's
    folder for its cached files; otherwise ``catalog_dir`` is the catalog folder."""

    catalog_dir: Path
    model_spec: str
    model_cache: str | None = None
    runtime: str = "torch"  # image and text towers: torch (fp32), onnx (ONNX Runtime int8) or onnx-fp32
    catalog_url: str | None = None

    @property
    def catalog_location(self) -> str:
        """The catalog as a person named it: the database URL or the folder."""
        return self.catalog_url or str(self.catalog_dir)

    @classmethod
    def resolve(cls, catalog: str | None = None, model: str | None = None, model_cache: str | None = None) -> Settings:
        location = catalog or os.environ.get(ENV_CATALOG) or DEFAULT_CATALOG_DIR
        url = location if is_database_url(location) else None
        return cls(
            catalog_dir=cache_dir_for(url) if url else Path(location).expanduser(),
            catalog_url=url,
            model_spec=model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL_SPEC,
            model_cache=model_cache or os.environ.get(ENV_MODEL_CACHE) or None,
            runtime=os.environ.get(ENV_RUNTIME) or "torch",
        )


def number_from_env(
    name: str,
    default: float,
    minimum: float,
    unit: str,
    environ: Mapping[str, str] = os.environ,
    *,
    above_minimum: bool = False,
) -> float:
    """A finite number of ``unit`` from the environment variable ``name`` (``default`` when unset or blank), at
    least ``minimum`` (more than it with ``above_minimum``); anything else raises a SettingsError that names the
    variable, its value and what it must be."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of {unit}") from None
    if not math.isfinite(value) or value < minimum or (above_minimum and value == minimum):
        bound = "more than" if above_minimum else "at least"
        raise SettingsError(f"{name}={raw!r}: it must be {bound} {minimum:g} {unit}")
    return value
