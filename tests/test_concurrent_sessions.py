"""Streamlit's model: one thread per shopper session, all sharing one embedder, catalog and personaliser.

32 threads search by text (English and Chinese), by photo and both, like and pass, and re-rank, while
a merchandiser's thread keeps rewriting products as they are (each write a new catalog generation that
every session's index and the personaliser must catch up with); each thread's answers must equal, bit
for bit, what the same shopper got with no other thread running.
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.catalog import Catalog, Filters, ProductRecord
from assistant.personalization.checkpoint import default_checkpoint_path, save_checkpoint
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.serving import Personalizer
from assistant.personalization.training import train_for_catalog
from assistant.search import SearchEngine
from assistant.services import make_search_engine

THREADS = 32
ROUNDS = 2
QUERIES = ["rose gold ring", "pearl drop earrings", "silver pendant with sapphire", "金手镯", "diamond 项链"]


def shopper(engine: SearchEngine, personalizer: Personalizer, catalog: Catalog, photos: list[bytes], n: int) -> list:
    """What shopper ``n`` sees along one visit: every search's hits and the personalised order after taps."""
    text, photo = QUERIES[n % len(QUERIES)], photos[n % len(photos)]
    by_text = engine.search(text, k=8)
    by_photo = engine.search(image=photo, k=8)
    both = engine.search(text, image=photo, k=8, filters=Filters(max_price=2000.0))
    session = personalizer.session(catalog)
    session.like(by_photo[0].product.id)
    session.skip(by_text[-1].product.id)
    ranked = session.rank(query_vector=engine.query_vector(text), k=10, exclude_seen=True)
    return [
        [(h.product.sku, h.score) for h in by_text],
        [(h.product.sku, h.score) for h in by_photo],
        [(h.product.sku, h.score) for h in both],
        [(r.product_id, r.score, r.reasons) for r in ranked],
    ]


@pytest.fixture
def shared(catalog, tiny_embedder, synthetic_source):
    """One embedder, catalog (reopened as the app opens it), search engine and trained personaliser."""
    checkpoint, _ = train_for_catalog(catalog, shoppers=100, meta=MetaTrainConfig(meta_steps=20, meta_batch=8))
    save_checkpoint(default_checkpoint_path(catalog.root), checkpoint)
    app_catalog = Catalog.open(catalog.root, tiny_embedder.spec.name)
    photos = [p.read_bytes() for p in sorted(Path(synthetic_source.parent / "images").glob("*.png"))[:7]]
    return make_search_engine(app_catalog, tiny_embedder), Personalizer.for_catalog(app_catalog), app_catalog, photos


@pytest.mark.slow  # meta-trains a small personaliser first
def test_32_threads_sharing_one_engine_answer_exactly_as_one_thread_does(shared):
    engine, personalizer, catalog, photos = shared
    assert personalizer.method == "maml"
    alone = [shopper(engine, personalizer, catalog, photos, n) for n in range(THREADS)]
    start = threading.Barrier(THREADS)

    def visit(n: int) -> list:
        start.wait()  # every session at once, as a busy shop's page loads do
        return [shopper(engine, personalizer, catalog, photos, n) for _ in range(ROUNDS)]

    stop = threading.Event()
    writes = 0

    def rewrite_unchanged() -> None:
        nonlocal writes
        hashes = catalog.content_hashes()
        ids, vectors = catalog.vectors()
        while not stop.is_set():
            n = writes % len(ids)
            product = catalog.get([int(ids[n])])[0]
            fields = {
                f.name: getattr(product, f.name) for f in dataclasses.fields(ProductRecord) if hasattr(product, f.name)
            }
            catalog.upsert([ProductRecord(**fields, vector=vectors[n], content_hash=hashes[product.sku][0])])
            writes += 1

    writer = threading.Thread(target=rewrite_unchanged)
    writer.start()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            together = list(pool.map(visit, range(THREADS)))
    finally:
        stop.set()
        writer.join()
    assert writes > 0, "the writer never ran"
    print("writes during the sessions:", writes)
    for n, visits in enumerate(together):
        for answers in visits:
            assert answers == alone[n], f"shopper {n}"
