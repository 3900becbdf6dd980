"""Ingest files that arrive as bytes (a browser upload): a CSV plus photo files or one .zip of photos.

The engine's ``ingest_csv`` reads a CSV path and a photo folder or zip; uploads are staged in a private
temporary folder for the duration of the ingest and removed afterwards, so the catalog folder is the
only place anything is kept. (Staff uploads only: the kiosk never comes here.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path, PurePath

from assistant.catalog.catalog import Catalog
from assistant.catalog.ingest import IngestError, IngestReport, Problem, ingest_csv
from assistant.clip.embedder import Embedder, ProgressCallback
from assistant.plaintext import csv_text
from assistant.reasons import Reason, reason_of


def _upload_name(name: str) -> str:
    """The file name a browser sent, without any folder part; refuses names that are no file name."""
    base = PurePath(name.replace("\\", "/")).name
    if not base or base.startswith("."):
        raise IngestError(Reason("upload.no_file_name", {"name": repr(name)}))
    return base


def stage_photos(photos: Sequence[tuple[str, bytes]], folder: Path) -> Path | None:
    """Write the uploaded photos (or the one zip) into ``folder``; returns what ``ingest_csv`` reads as images."""
    if not photos:
        return None
    names = [_upload_name(name) for name, _ in photos]
    zips = [n for n in names if n.lower().endswith(".zip")]
    if zips and len(photos) > 1:
        raise IngestError(Reason("upload.zip_and_photos", {"zip": zips[0]}))
    if zips:
        path = folder / zips[0]
        path.write_bytes(photos[0][1])
        return path
    seen: set[str] = set()
    images = folder / "images"
    images.mkdir()
    for name, (_, data) in zip(names, photos):
        if name in seen:
            raise IngestError(Reason("upload.same_name", {"name": repr(name)}))
        seen.add(name)
        (images / name).write_bytes(data)
    return images


def _unstaged(message: Reason | str, folder: Path) -> Reason | str:
    """Messages name the files as the user uploaded them, not by the temporary folder they sat in."""

    def unstage(text: str) -> str:
        return text.replace(f"{folder / 'images'}/", "").replace(f"{folder}/", "")

    return message.with_text(unstage) if isinstance(message, Reason) else unstage(message)


def _unstaged_problem(problem: Problem, folder: Path) -> Problem:
    message = _unstaged(problem.reason or problem.message, folder)
    return replace(problem, message=str(message), reason=message if isinstance(message, Reason) else None)


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
            raise IngestError(_unstaged(reason_of(exc), folder)) from exc
        report.rejected = [_unstaged_problem(p, folder) for p in report.rejected]
        report.notes = [_unstaged_problem(p, folder) for p in report.notes]
        return report


#: Columns of the rejected-rows download: where each problem is, and what it is.
REJECTED_COLUMNS = ("file", "row", "sku", "column", "problem")


def english_row(problem: Problem) -> Sequence[object]:
    return (problem.file, problem.row, problem.sku, problem.column, problem.message)


def rejected_rows_csv(
    report: IngestReport,
    row: Callable[[Problem], Sequence[object]] = english_row,
    headings: Sequence[str] = REJECTED_COLUMNS,
) -> str:
    """The rejected rows as a CSV to download; cells that a spreadsheet would run as formulas are neutralised.
    ``row`` and ``headings`` say them in the reader's language (English, as the command line, by default)."""
    return csv_text(headings, [row(problem) for problem in report.rejected])
