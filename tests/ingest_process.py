"""The ingest that the process tests run in a child process (``python -c INGEST_SCRIPT CATALOG CSV IMAGES``): it
prints ``batch N`` after each committed batch of 8 (so a test knows when to kill it) and ``done`` at the end."""

INGEST_SCRIPT = """
import sys
from assistant.catalog import Catalog
from assistant.clip.embedder import Embedder
from assistant.catalog.ingest import ingest_csv
e = Embedder.from_spec("tiny-test")
c = Catalog.open(sys.argv[1], e.spec.name, e.dim)
def tell(report):
    print("batch", report.added, flush=True)
ingest_csv(c, e, sys.argv[2], sys.argv[3], batch_size=8, on_batch=tell)
print("done", flush=True)
"""
