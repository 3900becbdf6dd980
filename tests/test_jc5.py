"""End to end on real jewelry photos (development data in ../shared/data; skipped when absent)."""

from __future__ import annotations

import csv

from assistant.catalog import Catalog, Filters
from assistant.catalog.ingest import ingest_csv
from assistant.search import SearchEngine


def test_ingest_200_jc5_photos_and_search_them(tmp_path, jc5, tiny_embedder):
    with open(jc5 / "labels.csv", encoding="utf-8") as f:
        labels = [r for r in csv.DictReader(f) if r["readable"] == "1"]
    picked = {}
    for row in labels:  # one photo per content hash, 40 per class
        per_class = sum(1 for r in picked.values() if r["label"] == row["label"])
        if row["md5"] not in picked and per_class < 40:
            picked[row["md5"]] = row
    rows = list(picked.values())[:200]
    assert len(rows) == 200
    csv_path = tmp_path / "jc5.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "title", "category", "image"])
        for n, r in enumerate(rows):
            writer.writerow([f"JC5-{n:04d}", f"{r['label'].title()} photo {n}", r["label"].lower(), r["path"]])

    cat = Catalog.open(tmp_path / "cat", tiny_embedder.spec.name, tiny_embedder.dim)
    report = ingest_csv(cat, tiny_embedder, csv_path, jc5)
    assert report.added == 200 and not report.rejected
    assert cat.count() == cat.indexed_count() == 200

    engine = SearchEngine(cat, tiny_embedder)
    rings = engine.search("gold ring", filters=Filters(category="rings"), k=10)
    assert len(rings) == 10 and all(h.product.category == "rings" for h in rings)
    photo = jc5 / rows[0]["path"]
    assert len(engine.search("bracelet", image=photo, k=5)) == 5
