"""Bounded memory: an ingest's peak does not grow with what an archive claims to hold (issue 9, item 3).

Measured with tracemalloc in a fresh subprocess (Python-level allocations: every photo's bytes and every
zip read are Python objects), from after the model loads to the end of the ingest; bounds, not timings.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MEMBERS = 20
MEMBER_BYTES = 24 * 2**20  # just under the 25 MB photo limit: each member alone is allowed

MEASURE = """
import json, sys, tracemalloc
from assistant.catalog import Catalog, photo_files
from assistant.catalog.ingest import ingest_csv
from assistant.clip.embedder import Embedder
from assistant.clip.factory import TEST_MODEL_SPEC

csv_path, archive, catalog_dir, ratio = sys.argv[1:5]
photo_files.MAX_COMPRESSION_RATIO = int(float(ratio))
embedder = Embedder.from_spec(TEST_MODEL_SPEC)
catalog = Catalog.open(catalog_dir, embedder.spec.name, embedder.dim)
tracemalloc.start()
report = ingest_csv(catalog, embedder, csv_path, archive)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"peak": peak, "rejected": [p.message for p in report.rejected], "added": report.added}))
"""


@pytest.fixture(scope="module")
def claimed_bomb(tmp_path_factory) -> tuple[Path, Path]:
    """A zip of 20 members of 24 MB of zeros each (480 MB claimed, about 0.5 MB on disk) and a CSV naming them."""
    folder = tmp_path_factory.mktemp("bomb")
    archive = folder / "photos.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for n in range(MEMBERS):
            z.writestr(f"photo{n:02}.png", bytes(MEMBER_BYTES))
    csv_path = folder / "products.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "title", "image"])
        writer.writerows([f"S{n}", f"Ring {n}", f"photo{n:02}.png"] for n in range(MEMBERS))
    assert archive.stat().st_size < 1_000_000
    return csv_path, archive


def measure(tmp_path: Path, csv_path: Path, archive: Path, ratio: float) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(csv_path), str(archive), str(tmp_path / "cat"), str(ratio)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_zip_bomb_by_claimed_size_is_refused_in_bounded_memory(tmp_path, claimed_bomb):
    result = measure(tmp_path, *claimed_bomb, ratio=100)
    assert result["added"] == 0 and len(result["rejected"]) == MEMBERS
    assert all("100 times its packed size" in message for message in result["rejected"])
    assert result["peak"] < 16 * 2**20, f"peak {result['peak'] / 2**20:.0f} MB"


def test_photos_are_unpacked_one_at_a_time_when_every_member_passes_the_ratio_rule(tmp_path, claimed_bomb):
    """With the ratio rule off every 24 MB member is unpacked and decoded: still one photo's worth at a time."""
    result = measure(tmp_path, *claimed_bomb, ratio=1e9)
    assert len(result["rejected"]) == MEMBERS and all("not a readable image" in m for m in result["rejected"])
    assert result["peak"] < 3 * MEMBER_BYTES, f"peak {result['peak'] / 2**20:.0f} MB for 480 MB claimed"
