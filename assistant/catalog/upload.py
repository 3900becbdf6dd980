"""Ingest files that arrive as bytes (a browser upload): a CSV plus photo files or one .zip of photos.

The engine's ``ingest_csv`` reads a CSV path and a photo folder or zip; uploads are staged in a private
temporary folder for the duration of the ingest and removed afterwards, so the catalog folder is the
only place anything is kept. (Staff uploads only: the kiosk never comes here.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePath

from assistant.catalog.catalog import Catalog
from assistant.catalog.ingest import IngestError, IngestReport, ingest_csv
from assistant.clip.embedder import Embedder, ProgressCallback
from assistant.plaintext import csv_text


def _upload_name(name: str) -> str:
    """The file name a browser sent, without any folder part; refuses names that are no file name."""
    base = PurePath(name.replace("\\", "/")).name
    if not base or base.startswith("."):
        raise IngestError(f"uploaded file {name!r} has no usable file name")
    return base


def stage_photos(photos: Sequence[tuple[str, bytes]], folder: Path) -> Path | None:
    """Write the uploaded photos (or the one zip) into ``folder``; returns what ``ingest_csv`` reads as images."""
    if not photos:
        return None
    names = [_upload_name(name) for name, _ in photos]
    zips = [n for n in names if n.lower().endswith(".zip")]
    if zips and len(photos) > 1:
        raise IngestError(
            f"upload either one .zip of photos or the photo files themselves, not both ({zips[0]} and others)"
        )
    if zips:
        path = folder / zips[0]
        path.write_bytes(photos[0][1])
        return path
    seen: set[str] = set()
    images = folder / "images"
    images.mkdir()
    for name, (_, data) in zip(names, photos):
        if name in seen:
            raise IngestError(f"two uploaded photos are both named {name!r}; photos are matched to rows by file name")
        seen.add(name)
        (images / name).write_bytes(data)
    return images


def _unstaged(text: str, folder: Path) -> str:
    """Messages name the files as the user uploaded them, not by the temporary folder they sat in."""
    return text.replace(f"{folder / 'images'}/", "").replace(f"{folder}/", "")


def ingest_upload(
    catalog: Catalog,
    embedder: Embedder,
    csv_name: str,
    csv_bytes: bytes,
    photos: Sequence[tuple[str, bytes]] = (),
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Validate and ingest an uploaded CSV; photo files are matched to the ``image`` column by file name."""
    with tempfile.TemporaryDirectory(prefix="assistant-upload-") as tmp:
        folder = Path(tmp)
        csv_path = folder / _upload_name(csv_name)
        csv_path.write_bytes(csv_bytes)
        try:
            images = stage_photos(photos, folder)
            report = ingest_csv(catalog, embedder, csv_path, images, progress=progress)
        except IngestError as exc:
            raise IngestError(_unstaged(str(exc), folder)) from exc
        report.rejected = [replace(p, message=_unstaged(p.message, folder)) for p in report.rejected]
        report.notes = [replace(p, message=_unstaged(p.message, folder)) for p in report.notes]
        return report


#: Columns of the rejected-rows download: where each problem is, and what it is.
REJECTED_COLUMNS = ("file", "row", "sku", "column", "problem")


def rejected_rows_csv(report: IngestReport) -> str:
    """The rejected rows as a CSV to download; cells that a spreadsheet would run as formulas are neutralised."""
    return csv_text(REJECTED_COLUMNS, [(p.file, p.row, p.sku, p.column, p.message) for p in report.rejected])
