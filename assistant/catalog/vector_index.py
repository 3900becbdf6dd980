"""FAISS index kinds as data: a factory string per kind, ids kept with IndexIDMap2, inner product on unit vectors."""

from __future__ import annotations

import faiss
import numpy as np

#: kind -> faiss.index_factory string. Vectors are unit length, so inner product is cosine similarity.
INDEX_FACTORY = {
    "flat": "IDMap2,Flat",
    "hnsw": "IDMap2,HNSW64,Flat",
}
INDEX_KINDS = ("auto", *INDEX_FACTORY)
#: "auto" picks exact search below this many products and HNSW from there on.
AUTO_HNSW_FROM = 50_000
#: Tuned with bench/search.py on 100k random 512-d unit vectors (the hardest case): M=64 with efSearch
#: 1024 gives recall@10 ~0.96 at p50 under 20 ms on 2 cores; M=32 needs efSearch ~3000 for 0.95, slower.
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 1024


def resolve_kind(kind: str, n_vectors: int) -> str:
    if kind == "auto":
        return "hnsw" if n_vectors >= AUTO_HNSW_FROM else "flat"
    if kind not in INDEX_FACTORY:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    return kind


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)


class VectorIndex:
    """A FAISS index of unit vectors under int64 product ids."""

    def __init__(self, index: faiss.Index):
        self.index = index
        inner = faiss.downcast_index(index.index)
        self.kind = "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"
        if self.kind == "hnsw":
            inner.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def create(cls, dim: int, kind: str) -> "VectorIndex":
        index = faiss.index_factory(dim, INDEX_FACTORY[kind], faiss.METRIC_INNER_PRODUCT)
        if kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return cls(index)

    @classmethod
    def build(cls, dim: int, kind: str, ids: np.ndarray, vectors: np.ndarray) -> "VectorIndex":
        built = cls.create(dim, kind)
        built.add(ids, vectors)
        return built

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "VectorIndex":
        """An index from ``to_bytes`` output; RuntimeError when the bytes are not a FAISS index."""
        return cls(faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)))

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def supports_remove(self) -> bool:
        return self.kind == "flat"

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(_as_matrix(vectors), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids; only exact indexes can (HNSW graphs can't drop nodes: the catalog rebuilds those)."""
        if not len(ids):
            return
        if not self.supports_remove:
            raise NotImplementedError("HNSW indexes cannot remove vectors; rebuild instead")
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; with allowed_ids, only those ids are candidates.

        Missing results are id -1. The id selector keeps selective filters exact on flat indexes,
        so k results come back whenever k products match.
        """
        queries = _as_matrix(queries)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        if allowed_ids is None:
            return self.index.search(queries, k)
        selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, 4 * k)) if self.kind == "hnsw" else faiss.SearchParameters()
        params.sel = selector
        return self.index.search(queries, k, params=params)
