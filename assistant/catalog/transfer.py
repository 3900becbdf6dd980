"""Copy a catalog between a folder and a PostgreSQL database (either way), resumably, and verify the copy.

Invariant: a copy moves what makes the catalog (products with their vectors and photos, and the shared files
it is told about: category registry and example photos, trained heads) and never caches (indexes, label
caches), which the destination rebuilds. Products go over in batches, each one transaction; a product whose
digest (every shop field, its vector's bytes, its content hash) already matches in the destination is
skipped, so running the same copy again after an interruption resumes it. ``verify`` compares counts and
digests of both sides, the shared files, and re-hashes every destination photo; the copy is reported done
only when they agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.atomic import atomic_write_bytes
from assistant.catalog.catalog import Catalog
from assistant.catalog.location import is_database_url
from assistant.catalog.records import CatalogError, Product, ProductRecord

BATCH = 500
DIGEST_FIELDS = (
    "sku", "title", "description", "category", "metal", "stone", "price", "currency", "image", "image_sha256",
    "attributes",
)  # fmt: skip
ProgressCallback = Callable[[int, int], None]


@dataclass
class CopyReport:
    copied: int = 0
    unchanged: int = 0
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems


def product_digest(product: Product, vector: np.ndarray, content_hash: str) -> str:
    """What must agree between two copies of a product: its shop fields, its vector's bytes and its hashes."""
    fields = {name: getattr(product, name) for name in DIGEST_FIELDS}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode())
    digest.update(np.asarray(vector, dtype="<f4").tobytes())
    digest.update(content_hash.encode())
    return digest.hexdigest()


def catalog_digests(catalog: Catalog) -> dict[str, str]:
    """sku -> product digest for every product of the catalog."""
    hashes = catalog.content_hashes()
    digests = {}
    for offset in range(0, catalog.count(), BATCH):
        products = catalog.products(limit=BATCH, offset=offset)
        _, vectors = catalog.vectors([p.id for p in products])
        for product, vector in zip(products, vectors):
            digests[product.sku] = product_digest(product, vector, hashes[product.sku][0])
    return digests


# ----------------------------------------------------------------- shared files
class FolderFiles:
    """The shared files of a catalog folder, by their path relative to it."""

    def __init__(self, root: Path):
        self.root = root

    def read_file(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def file_names(self, prefix: str = "") -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def write_file(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)


def shared_files(catalog: Catalog):
    """The catalog's shared files: its folder's, or (a database catalog) the ones in its database."""
    return catalog if is_database_url(catalog.location) else FolderFiles(catalog.root)


# ----------------------------------------------------------------- copying
def _records(source: Catalog, products: Sequence[Product], hashes: dict[str, tuple[str, str]]) -> list[ProductRecord]:
    _, vectors = source.vectors([p.id for p in products])
    records = []
    for product, vector in zip(products, vectors):
        photo = None
        if product.image_sha256:
            path = source.image_path(product)
            if path is None or not path.is_file():
                raise CatalogError(
                    f"product {product.sku}: its photo {product.image!r} is missing from {source.location}"
                )
            photo = path.read_bytes  # a loader: the destination reads it only if it lacks the photo
        fields = {name: getattr(product, name) for name in DIGEST_FIELDS}
        records.append(ProductRecord(**fields, vector=vector, content_hash=hashes[product.sku][0], photo=photo))
    return records


def copy_catalog(
    source: Catalog,
    destination: Catalog,
    files: Sequence[str] = (),
    folders: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> CopyReport:
    """Copy products (skipping those already identical), then the shared ``files`` and every file under the
    shared ``folders``; then verify."""
    if destination.model_spec != source.model_spec or destination.dim != source.dim:
        raise CatalogError(
            f"{destination.location} holds vectors of {destination.model_spec!r}, {source.location} of "
            f"{source.model_spec!r}; copy into a new catalog"
        )
    report = CopyReport()
    want = catalog_digests(source)
    have = catalog_digests(destination)
    extra = sorted(set(have) - set(want))
    if extra:
        raise CatalogError(
            f"{destination.location} holds {len(extra)} products that {source.location} lacks (e.g. {extra[0]}); "
            "copy into an empty catalog, or one an earlier copy of the same source filled"
        )
    total, hashes = source.count(), source.content_hashes()
    for offset in range(0, total, BATCH):
        products = source.products(limit=BATCH, offset=offset)
        todo = [p for p in products if have.get(p.sku) != want[p.sku]]
        report.unchanged += len(products) - len(todo)
        if todo:
            destination.upsert(_records(source, todo, hashes))
            report.copied += len(todo)
        if progress:
            progress(min(offset + BATCH, total), total)
    source_files, destination_files = shared_files(source), shared_files(destination)
    for name in _shared_names(source_files, files, folders):
        data = source_files.read_file(name)
        if destination_files.read_file(name) != data:
            destination_files.write_file(name, data)
        report.files.append(name)
    report.problems = verify(source, destination, files, folders)
    return report


def _shared_names(files_of, files: Sequence[str], folders: Sequence[str]) -> list[str]:
    """The named files that exist, and every file under the named folders."""
    names = [name for name in files if files_of.read_file(name) is not None]
    for folder in folders:
        names += files_of.file_names(folder.rstrip("/") + "/")
    return names


def _holds(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def verify(source: Catalog, destination: Catalog, files: Sequence[str] = (), folders: Sequence[str] = ()) -> list[str]:
    """What differs between the two catalogs (empty when the copy is complete and intact)."""
    problems = []
    if source.count() != destination.count():
        problems.append(f"{source.count()} products in the source, {destination.count()} in the destination")
    want, have = catalog_digests(source), catalog_digests(destination)
    differing = sorted(sku for sku in want if have.get(sku) != want[sku])
    if differing:
        problems.append(f"{len(differing)} products differ or are missing (e.g. {differing[0]})")
    if destination.indexed_count() != destination.count():
        problems.append(f"the destination index holds {destination.indexed_count()} of {destination.count()} vectors")
    for product in destination.products():
        path = destination.image_path(product) if product.image_sha256 else None
        if path is not None and not _holds(path, product.image_sha256):
            problems.append(f"product {product.sku}: its photo is missing or does not match its SHA-256")
    source_files, destination_files = shared_files(source), shared_files(destination)
    for name in _shared_names(source_files, files, folders):
        if source_files.read_file(name) != destination_files.read_file(name):
            problems.append(f"shared file {name} differs")
    return problems
