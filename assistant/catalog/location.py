"""Where a catalog lives: a folder (the embedded default) or a PostgreSQL database named by URL.

Invariant: a location is a database exactly when it starts with ``postgresql://`` or ``postgres://``; a
database catalog keeps its per-server files (the photo cache) in a folder derived from the URL without its
password, so every server process for one database shares one cache and a password change keeps it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

URL_SCHEMES = ("postgresql://", "postgres://")
ENV_CACHE_DIR = "ASSISTANT_CACHE_DIR"


def is_database_url(location: object) -> bool:
    """True for a PostgreSQL catalog URL, false for a catalog folder."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def cache_dir_for(url: str) -> Path:
    """This machine's folder for a database catalog's cached files (``$ASSISTANT_CACHE_DIR`` or ~/.cache)."""
    from assistant.catalog.postgres.connection import redacted

    base = Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "assistant").expanduser()
    return base / "catalogs" / hashlib.sha256(redacted(url).encode()).hexdigest()[:16]
