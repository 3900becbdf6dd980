"""Ingest a products CSV and its photos (a folder or a .zip) into a catalog: validate, embed, store.

Invariant: the smallest unit fails and the rest goes in. Every row is checked before anything is embedded;
a bad row or photo is reported with the file, row number, column and what is wrong, and skipped. Nothing is
reinterpreted quietly: prices follow one grammar (``parse_price``), an empty image cell keeps a product's
stored photo (with a note in the report) and only ``-`` removes it. Photos are read one at a time as the
embedder decodes them, never a batch at once, so memory does not grow with the archive. Rows whose content
is unchanged since the last ingest are not embedded again, so re-running an interrupted ingest resumes.
A problem's words are a ``Reason`` (message key and values): ``Problem.message`` is its English, as the command
line prints it, and ``Problem.reason`` lets a page say it in its reader's language.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import stat
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.catalog import audit
from assistant.catalog.catalog import Catalog, ProductRecord, new_change_id
from assistant.catalog.photo_files import MAX_UNPACKED_BYTES, ImageFiles, PhotoSourceError
from assistant.catalog.product_vectors import content_hash, embed_products, product_text
from assistant.catalog.records import PhotosMissing
from assistant.clip.embedder import Embedder, ImageSource, ProgressCallback
from assistant.errors import AssistantError
from assistant.images import ImageError, file_kind, sha256_bytes
from assistant.reasons import Reason, reason_of

log = logging.getLogger(__name__)

CSV_COLUMNS = ("sku", "title", "description", "category", "metal", "stone", "price", "currency", "image")
REQUIRED_COLUMNS = ("sku", "title")
LOWERCASE_COLUMNS = ("category", "metal", "stone")
MAX_SKU_LENGTH = 64
#: Longest value a cell may hold; a longer one is almost always an unclosed quote that swallowed the rows after it.
MAX_FIELD_CHARS = 65_536
#: The column of a problem with the row as a whole (a broken quote, more values than columns).
WHOLE_ROW = "(row)"
#: The image cell that removes a product's stored photo (an empty cell keeps it).
REMOVE_PHOTO = "-"
#: The highest price accepted: a typo guard (a jewelry price above ten million is more likely a slip).
MAX_PRICE = 10_000_000
PRICE_RULE = Reason("ingest.price_rule")
_PRICE = re.compile(
    r"(?P<before>[$€£¥₹]?)\s*(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<decimals>\d{1,2}))?\s*(?P<after>[$€£¥₹]?)",
    re.ASCII,  # ASCII digits only: no full-width or other scripts' digits read as numbers
)
_DECIMAL_COMMA = re.compile(r"[$€£¥₹]?\s*\d+,\d{1,2}\s*[$€£¥₹]?", re.ASCII)
_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "bar"}
INDEX_SAVE_SECONDS = 10.0


class IngestError(AssistantError):
    """The file as a whole cannot be ingested (not a CSV, missing columns, no such image source)."""


class PriceError(AssistantError):
    """A price cell that does not follow the price grammar; the message says how to write it."""


@dataclass(frozen=True)
class Problem:
    """One remark on a row: the CSV file, spreadsheet row number (the header is row 1), sku, column, message;
    ``reason`` is the message as a key and values (None for words that have no key), for other languages."""

    file: str
    row: int
    sku: str
    column: str
    message: str
    reason: Reason | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.file}, row {self.row} (sku {self.sku or '?'}), {self.column}: {self.message}"


@dataclass
class IngestReport:
    """Counts, the rejected rows (skipped) and notes on rows that went in (e.g. a stored photo kept)."""

    file: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def reject(self, row: int, sku: str, column: str, message: Reason | str) -> None:
        self.rejected.append(self._problem(row, sku, column, message))

    def note(self, row: int, sku: str, column: str, message: Reason | str) -> None:
        self.notes.append(self._problem(row, sku, column, message))

    def _problem(self, row: int, sku: str, column: str, message: Reason | str) -> Problem:
        reason = message if isinstance(message, Reason) else None
        return Problem(self.file, row, sku, column, str(message), reason)

    def to_dict(self) -> dict:
        """The report as the command line's --json prints it (the English messages, not their keys)."""
        return {
            "file": self.file,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [_problem_dict(p) for p in self.rejected],
            "notes": [_problem_dict(p) for p in self.notes],
        }


def _problem_dict(problem: Problem) -> dict:
    return {name: value for name, value in asdict(problem).items() if name != "reason"}


@dataclass
class ValidRow:
    row: int
    fields: dict
    image_cell: str


@dataclass
class PlannedRow:
    """A row to embed: its photo is a name in the image source, the catalog's stored copy, or none."""

    item: ValidRow
    is_update: bool
    image_name: str | None
    image_sha256: str | None
    digest: str
    kept_photo: Path | None = None

    @property
    def sku(self) -> str:
        return self.item.fields["sku"]


def parse_price(text: str) -> float | None:
    """'1,250.00' or '$1250' -> 1250.0; empty -> None; anything outside the grammar raises PriceError."""
    text = (text or "").strip()
    if not text:
        return None
    match = _PRICE.fullmatch(text)
    if match is None or (match["before"] and match["after"]):
        if text.startswith("-"):
            raise PriceError(Reason("ingest.price_negative", {"text": repr(text)}))
        if _DECIMAL_COMMA.fullmatch(text):
            raise PriceError(Reason("ingest.price_ambiguous", {"text": repr(text), "dotted": text.replace(",", ".")}))
        raise PriceError(Reason("ingest.price_unreadable", {"text": repr(text), "rule": PRICE_RULE}))
    price = float(match["whole"].replace(",", "") + "." + (match["decimals"] or "0"))
    if price > MAX_PRICE:
        raise PriceError(Reason("ingest.price_over_limit", {"text": repr(text), "limit": f"{MAX_PRICE:,}"}))
    return price


def read_rows(csv_path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and (row number, row) pairs; a file that is not a usable CSV raises IngestError."""
    text = _read_csv_text(csv_path)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # long cells are rejected per row below
    reader = csv.DictReader(text.splitlines(keepends=True))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise IngestError(Reason("ingest.header_unreadable", {"path": str(csv_path), "error": str(exc)})) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        found = ",".join(header) or Reason("ingest.found_nothing")
        values = {"path": str(csv_path), "missing": ", ".join(missing), "columns": ",".join(CSV_COLUMNS)}
        raise IngestError(Reason("ingest.missing_columns", values | {"found": found, "hint": _separator_hint(text)}))
    reader.fieldnames = header
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append((reader.line_num, {"__unreadable__": str(exc)}))
            continue
        extra = row.pop(None, None)
        cells = {k: (v or "").strip() for k, v in row.items()}
        rows.append((reader.line_num, cells | ({"__extra__": extra} if extra else {})))
    return header, rows


def _read_csv_text(csv_path: Path) -> str:
    try:
        mode = os.stat(csv_path).st_mode
        if not stat.S_ISREG(mode):
            raise IngestError(Reason("ingest.not_a_csv_file", {"path": str(csv_path), "kind": file_kind(mode)}))
        return Path(csv_path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(Reason("ingest.not_utf8", {"path": str(csv_path), "byte": exc.start})) from exc
    except OSError as exc:
        raise IngestError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc


def _separator_hint(text: str) -> Reason | str:
    """When the header splits into the required columns on another separator, say so."""
    first_line = text.split("\n", 1)[0].lower()
    for separator, name in _SEPARATORS.items():
        names = [n.strip().strip('"') for n in first_line.split(separator)]
        if all(c in names for c in REQUIRED_COLUMNS):
            return Reason("ingest.separator_hint", {"separator": Reason(f"ingest.separator.{name}")})
    return ""


def validate_rows(rows: list[tuple[int, dict]], images: ImageFiles, report: IngestReport) -> list[ValidRow]:
    """Check every row; return the good ones (normalised) and add a problem to the report per bad one."""
    valid: list[ValidRow] = []
    first_row_of_sku: dict[str, int] = {}
    for line, raw in rows:
        sku = raw.get("sku", "")
        problem = _row_problem(raw, sku, first_row_of_sku, images)
        if problem:
            report.reject(line, sku, *problem)
            continue
        first_row_of_sku[sku] = line
        fields = {c: raw.get(c, "") for c in CSV_COLUMNS if c not in ("price", "image")}
        for c in LOWERCASE_COLUMNS:
            fields[c] = fields[c].lower()
        fields["currency"] = fields["currency"].upper()
        fields["price"] = parse_price(raw.get("price", ""))
        fields["attributes"] = {k: v for k, v in raw.items() if k not in CSV_COLUMNS and k != "__extra__" and v}
        valid.append(ValidRow(row=line, fields=fields, image_cell=raw.get("image", "")))
    return valid


def _row_problem(raw: dict, sku: str, seen: dict[str, int], images: ImageFiles) -> tuple[str, Reason | str] | None:
    """(column, what is wrong) for the first problem of a row, or None."""
    if "__unreadable__" in raw:
        return WHOLE_ROW, Reason("ingest.row_unreadable", {"error": raw["__unreadable__"]})
    if "__extra__" in raw:
        return WHOLE_ROW, Reason("ingest.row_extra_values", {"count": len(raw["__extra__"])})
    long_cell = next((c for c, v in raw.items() if len(v) > MAX_FIELD_CHARS), None)
    if long_cell:
        length, limit = f"{len(raw[long_cell]):,}", f"{MAX_FIELD_CHARS:,}"
        return long_cell, Reason("ingest.cell_too_long", {"length": length, "limit": limit})
    if not sku:
        return "sku", Reason("ingest.sku_empty")
    if len(sku) > MAX_SKU_LENGTH:
        return "sku", Reason("ingest.sku_too_long", {"limit": MAX_SKU_LENGTH})
    if sku in seen:
        return "sku", Reason("ingest.sku_duplicate", {"row": seen[sku]})
    if not raw.get("title"):
        return "title", Reason("ingest.title_empty")
    try:
        parse_price(raw.get("price", ""))
    except PriceError as exc:
        return "price", reason_of(exc)
    currency = raw.get("currency", "")
    if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
        return "currency", Reason("ingest.currency_invalid", {"currency": repr(currency)})
    if raw.get("image") and raw["image"] != REMOVE_PHOTO:
        try:
            images.check(raw["image"])
        except ImageError as exc:
            return "image", reason_of(exc)
    return None


def ingest_csv(
    catalog: Catalog,
    embedder: Embedder,
    csv_path: str | Path,
    images: str | Path | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = 128,
    on_batch: Callable[[IngestReport], None] | None = None,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
) -> IngestReport:
    """Validate, then embed and store every good row that changed; commits batch by batch."""
    if embedder.spec.name != catalog.model_spec:
        raise IngestError(f"embedder {embedder.spec.name!r} does not match catalog model {catalog.model_spec!r}")
    csv_path = Path(csv_path)
    _, rows = read_rows(csv_path)
    report = IngestReport(file=csv_path.name)
    try:
        files = ImageFiles(images, max_unpacked_bytes)
    except PhotoSourceError as exc:
        raise IngestError(str(exc)) from exc
    with closing(files):
        valid = validate_rows(rows, files, report)
        todo = _plan(catalog, valid, files, report)
        change = new_change_id()  # every batch keeps the rows it replaces under it: the import can be undone
        try:
            _embed_and_store(catalog, embedder, files, todo, report, progress, batch_size, on_batch, change)
        except AssistantError as exc:  # the batches before this one are in: the audit trail says so
            _audit_import(catalog, csv_path, report, todo, change, {"stopped part way": str(exc)})
            raise
    report.rejected.sort(key=lambda p: p.row)
    report.notes.sort(key=lambda p: p.row)
    _audit_import(catalog, csv_path, report, todo, change)
    return report


def _audit_import(
    catalog: Catalog, csv_path: Path, report: IngestReport, todo: list[PlannedRow], change: str,
    extra: dict | None = None,
) -> None:
    rejected = {p.row for p in report.rejected}
    stored = [planned.item.fields["sku"] for planned in todo if planned.item.row not in rejected]
    audit.record(catalog, audit.IMPORT, csv_path.name, audit.import_details(report, stored, change) | (extra or {}))


def _plan(catalog: Catalog, valid: list[ValidRow], files: ImageFiles, report: IngestReport) -> list[PlannedRow]:
    """Hash each row's photo (streamed, one at a time) and keep the rows whose content changed."""
    known = catalog.content_hashes()
    todo = []
    for item in valid:
        sku = item.fields["sku"]
        try:
            planned = _photo_plan(catalog, item, files, sku in known, report)
        except ImageError as exc:
            report.reject(item.row, sku, "image", reason_of(exc))
            continue
        if known.get(sku, (None,))[0] == planned.digest:
            report.unchanged += 1
        else:
            todo.append(planned)
    return todo


def _photo_plan(catalog: Catalog, item: ValidRow, files: ImageFiles, known: bool, report: IngestReport) -> PlannedRow:
    def planned(name: str | None, sha: str | None, kept: Path | None = None) -> PlannedRow:
        digest = content_hash(item.fields, sha, catalog.manifest.image_weight, catalog.model_spec)
        return PlannedRow(item, known, name, sha, digest, kept)

    if item.image_cell == REMOVE_PHOTO:
        return planned(None, None)
    if item.image_cell:
        return planned(item.image_cell, files.digest(item.image_cell))
    stored = catalog.get_by_sku(item.fields["sku"]) if known else None
    if stored is None or not stored.image_sha256:
        return planned(None, None)
    report.note(
        item.row,
        item.fields["sku"],
        "image",
        Reason("ingest.photo_kept", {"photo": repr(stored.image), "remove": REMOVE_PHOTO}),
    )
    return planned(stored.image, stored.image_sha256, catalog.image_path(stored))


def _photo_source(planned: PlannedRow, files: ImageFiles) -> ImageSource | None:
    """What the embedder decodes: the catalog's kept copy, or a loader reading the photo when it is decoded."""
    if planned.kept_photo is not None or planned.image_name is None:
        return planned.kept_photo
    return files.loader(planned.image_name)


def _photo_label(planned: PlannedRow) -> Reason | str | None:
    if planned.kept_photo is not None:
        return Reason("ingest.stored_photo", {"photo": repr(planned.image_name)})
    return planned.image_name


def _store_photo(catalog: Catalog, files: ImageFiles, planned: PlannedRow) -> None:
    """Copy the photo into the catalog's photo store, one photo in memory at a time, checking it is still the
    one whose hash the row was planned with (the batch's write then finds it there)."""
    data = files.read(planned.image_name)
    if sha256_bytes(data) != planned.image_sha256:
        raise ImageError(Reason("ingest.photo_changed", {"name": repr(planned.image_name)}))
    catalog.photos.put(data, planned.image_sha256, planned.image_name)


def _embed_and_store(catalog, embedder, files, todo, report, progress, batch_size, on_batch, change) -> None:
    done = 0
    last_save = time.monotonic()
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors, failures = embed_products(
            embedder,
            [product_text(planned.item.fields) for planned in batch],
            [_photo_source(planned, files) for planned in batch],
            catalog.manifest.image_weight,
            progress=(lambda d, _t, base=done: progress(base + d, len(todo))) if progress else None,
            names=[_photo_label(planned) for planned in batch],
        )
        stored = {}
        for n, planned in enumerate(batch):
            try:
                if n in failures:
                    raise ImageError(failures[n])
                if planned.image_name is not None and planned.kept_photo is None:
                    _store_photo(catalog, files, planned)
            except ImageError as exc:
                report.reject(planned.item.row, planned.sku, "image", reason_of(exc))
                continue
            stored[planned.sku] = (planned, _record(planned, vectors[n], files))
        _write_batch(catalog, stored, report, change)
        done = min(start + batch_size, len(todo))
        if progress:
            progress(done, len(todo))
        if time.monotonic() - last_save > INDEX_SAVE_SECONDS:
            catalog.save_index()
            last_save = time.monotonic()
        if on_batch:
            on_batch(report)
    catalog.save_index()


def _write_batch(
    catalog: Catalog, stored: dict[str, tuple[PlannedRow, ProductRecord]], report: IngestReport, change: str
) -> None:
    """Write a batch in one transaction. A row whose kept photo a concurrent delete removed meanwhile is
    rejected alone (nothing of the batch was written then), and the rest is written without it."""
    while True:  # each retry has fewer rows; an empty batch writes nothing and cannot fail
        try:
            catalog.upsert([record for _, record in stored.values()], change=change)
            break
        except PhotosMissing as missing:
            for sku in missing.skus:
                planned, _ = stored.pop(sku)
                removed = Reason("ingest.stored_photo_removed", {"photo": repr(planned.image_name)})
                report.reject(planned.item.row, sku, "image", removed)
    for planned, _ in stored.values():
        report.updated += planned.is_update
        report.added += not planned.is_update


def _record(planned: PlannedRow, vector, files: ImageFiles) -> ProductRecord:
    """The row as written; its photo is already stored, and a loader lets the write put it back, reading it
    only then, if a concurrent delete removed it."""
    new_photo = planned.image_name is not None and planned.kept_photo is None
    return ProductRecord(
        vector=vector,
        content_hash=planned.digest,
        image=planned.image_name,
        image_sha256=planned.image_sha256,
        photo=files.loader(planned.image_name) if new_photo else None,
        **planned.item.fields,
    )
