"""Ingest a products CSV and its photos (a folder or a .zip) into a catalog: validate, embed, store.

Every row is checked before anything is embedded; bad rows are reported (row number, column, what is
wrong) and skipped, the rest go in. Rows whose content is unchanged since the last ingest are not
embedded again, so re-running an interrupted ingest resumes where it stopped.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from assistant.errors import AssistantError
from assistant.catalog.catalog import Catalog, ProductRecord
from assistant.clip.embedder import Embedder, ProgressCallback
from assistant.images import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, ImageError, read_image_bytes, sha256_bytes
from assistant.catalog.product_vectors import content_hash, embed_products, product_text

log = logging.getLogger(__name__)

CSV_COLUMNS = ("sku", "title", "description", "category", "metal", "stone", "price", "currency", "image")
REQUIRED_COLUMNS = ("sku", "title")
LOWERCASE_COLUMNS = ("category", "metal", "stone")
MAX_SKU_LENGTH = 64
INDEX_SAVE_SECONDS = 10.0


class IngestError(AssistantError):
    """The file as a whole cannot be ingested (not a CSV, missing columns, no such image source)."""


@dataclass(frozen=True)
class Problem:
    """One rejected row: spreadsheet row number (the header is row 1), sku, column and what is wrong."""

    row: int
    sku: str
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row} (sku {self.sku or '?'}), {self.column}: {self.message}"


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [p.__dict__ for p in self.rejected],
        }


@dataclass
class ValidRow:
    row: int
    fields: dict
    image_name: str | None


class ImageFiles:
    """Photos named by relative path, from a folder or a zip; names can't escape the source."""

    def __init__(self, source: str | Path | None):
        self.source = Path(source) if source else None
        self._zip: zipfile.ZipFile | None = None
        self._zip_names: dict[str, str] = {}
        if self.source is None:
            return
        if not self.source.exists():
            raise IngestError(f"image source {self.source} does not exist")
        if self.source.is_file():
            if not zipfile.is_zipfile(self.source):
                raise IngestError(f"image source {self.source} is neither a folder nor a .zip file")
            self._zip = zipfile.ZipFile(self.source)
            members = [m.filename for m in self._zip.infolist() if not m.is_dir()]
            self._zip_names = {m: m for m in members}
            root = _common_top_folder(members)
            if root:  # a zip of a folder: accept names with or without that folder
                self._zip_names.update({m[len(root) + 1 :]: m for m in members})

    def _clean(self, name: str) -> str:
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise ImageError(f"image path {name!r} must be relative to the image folder, without '..'")
        return str(path)

    def check(self, name: str) -> None:
        """Raise ImageError when the photo is missing, oversized or not an image file by name."""
        name = self._clean(name)
        if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            raise ImageError(f"{name!r} is not an image file name ({', '.join(sorted(IMAGE_SUFFIXES))})")
        if self.source is None:
            raise ImageError(f"row names image {name!r} but no --images folder or zip was given")
        if self._zip is not None:
            member = self._zip_names.get(name)
            if member is None:
                raise ImageError(f"{name!r} is not in {self.source.name}")
            size = self._zip.getinfo(member).file_size
        else:
            path = self.source / name
            if not path.is_file():
                raise ImageError(f"{path} does not exist")
            size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ImageError(f"{name!r} is {size / 2**20:.1f} MB, over the {MAX_IMAGE_BYTES / 2**20:.0f} MB limit")

    def read(self, name: str) -> bytes:
        self.check(name)
        name = self._clean(name)
        if self._zip is not None:
            return self._zip.read(self._zip_names[name])
        return read_image_bytes(self.source / name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _common_top_folder(names: list[str]) -> str | None:
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return None


def parse_price(text: str) -> float | None:
    """'1,250.00' or '$1250' -> 1250.0; empty -> None; anything else raises ValueError."""
    cleaned = re.sub(r"[\s,$€£¥₹]", "", text or "")
    if not cleaned:
        return None
    price = float(cleaned)
    if not math.isfinite(price) or price < 0:
        raise ValueError("must be a non-negative number")
    return price


def read_rows(csv_path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and (row number, row) pairs; a file that is not a usable CSV raises IngestError."""
    try:
        text = Path(csv_path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{csv_path} is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8") from exc
    except OSError as exc:
        raise IngestError(f"cannot read {csv_path}: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise IngestError(
            f"{csv_path}: missing column(s) {', '.join(missing)}; the header must include "
            f"{','.join(CSV_COLUMNS)} (found: {','.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        extra = row.pop(None, None)
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()} | ({"__extra__": extra} if extra else {})))
    return header, rows


def validate_rows(rows: list[tuple[int, dict]], images: ImageFiles) -> tuple[list[ValidRow], list[Problem]]:
    """Check every row; return the good ones (normalised) and a problem per bad one."""
    valid: list[ValidRow] = []
    problems: list[Problem] = []
    first_row_of_sku: dict[str, int] = {}
    for line, raw in rows:
        sku = raw.get("sku", "")
        problem = _row_problem(line, raw, sku, first_row_of_sku, images)
        if problem:
            problems.append(problem)
            continue
        first_row_of_sku[sku] = line
        fields = {c: raw.get(c, "") for c in CSV_COLUMNS if c not in ("price", "image")}
        for c in LOWERCASE_COLUMNS:
            fields[c] = fields[c].lower()
        fields["currency"] = fields["currency"].upper()
        fields["price"] = parse_price(raw.get("price", ""))
        fields["attributes"] = {k: v for k, v in raw.items() if k not in CSV_COLUMNS and k != "__extra__" and v}
        valid.append(ValidRow(row=line, fields=fields, image_name=raw.get("image") or None))
    return valid, problems


def _row_problem(line: int, raw: dict, sku: str, seen: dict[str, int], images: ImageFiles) -> Problem | None:
    def bad(column: str, message: str) -> Problem:
        return Problem(line, sku, column, message)

    if "__extra__" in raw:
        return bad("(row)", f"{len(raw['__extra__'])} more value(s) than header columns; quote fields that contain commas")
    if not sku:
        return bad("sku", "empty; every product needs a unique sku")
    if len(sku) > MAX_SKU_LENGTH:
        return bad("sku", f"longer than {MAX_SKU_LENGTH} characters")
    if sku in seen:
        return bad("sku", f"duplicate of row {seen[sku]}")
    if not raw.get("title"):
        return bad("title", "empty")
    try:
        parse_price(raw.get("price", ""))
    except ValueError:
        return bad("price", f"{raw.get('price')!r} is not a non-negative number")
    currency = raw.get("currency", "")
    if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
        return bad("currency", f"{currency!r} is not a 3-letter code such as USD, EUR, CNY")
    if raw.get("image"):
        try:
            images.check(raw["image"])
        except ImageError as exc:
            return bad("image", str(exc))
    return None


def ingest_csv(
    catalog: Catalog,
    embedder: Embedder,
    csv_path: str | Path,
    images: str | Path | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = 128,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Validate, then embed and store every good row that changed; commits batch by batch."""
    if embedder.spec.name != catalog.model_spec:
        raise IngestError(f"embedder {embedder.spec.name!r} does not match catalog model {catalog.model_spec!r}")
    _, rows = read_rows(Path(csv_path))
    files = ImageFiles(images)
    try:
        valid, problems = validate_rows(rows, files)
        report = IngestReport(rejected=problems)
        known = catalog.content_hashes()
        todo = []
        for item in valid:
            try:
                data = files.read(item.image_name) if item.image_name else None
            except ImageError as exc:
                report.rejected.append(Problem(item.row, item.fields["sku"], "image", str(exc)))
                continue
            sha = sha256_bytes(data) if data is not None else None
            digest = content_hash(item.fields, sha, catalog.manifest.image_weight, catalog.model_spec)
            if known.get(item.fields["sku"], (None,))[0] == digest:
                report.unchanged += 1
            else:
                todo.append((item, sha, digest))
        _embed_and_store(catalog, embedder, files, todo, report, known, progress, batch_size, on_batch)
    finally:
        files.close()
    report.rejected.sort(key=lambda p: p.row)
    return report


def _embed_and_store(catalog, embedder, files, todo, report, known, progress, batch_size, on_batch) -> None:
    done = 0
    last_save = time.monotonic()
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        photos = [files.read(item.image_name) if item.image_name else None for item, _, _ in batch]
        vectors, failures = embed_products(
            embedder,
            [product_text(item.fields) for item, _, _ in batch],
            photos,
            catalog.manifest.image_weight,
            progress=(lambda d, _t, base=done: progress(base + d, len(todo))) if progress else None,
        )
        records = []
        for n, (item, sha, digest) in enumerate(batch):
            if n in failures:
                report.rejected.append(Problem(item.row, item.fields["sku"], "image", failures[n]))
                continue
            records.append(
                ProductRecord(
                    vector=vectors[n],
                    content_hash=digest,
                    image=item.image_name,
                    image_sha256=sha,
                    photo=photos[n],
                    **item.fields,
                )
            )
            if item.fields["sku"] in known:
                report.updated += 1
            else:
                report.added += 1
        catalog.upsert(records)
        done += len(batch)
        if progress:
            progress(done, len(todo))
        if time.monotonic() - last_save > INDEX_SAVE_SECONDS:
            catalog.save_index()
            last_save = time.monotonic()
        if on_batch:
            on_batch(report)
    catalog.save_index()
