"""FAISS index kinds as data: a factory string per kind, ids kept with IndexIDMap2, inner product on unit vectors.

Invariant: ``VectorIndex.search`` never loses a result to a filter. Each filtered query picks its own path:
few allowed products are scored by a scan of the stored vectors restricted to them; many go through the
approximate index with an id selector and a search breadth (efSearch, nprobe) scaled up by the inverse of
the share allowed, falling back to the scan if that still returns fewer than k. Where the stored vectors
are quantised ("ivf"), the best 2k candidates of either path are re-scored on the exact vectors when the
caller supplies them (the catalog does, from SQLite).

Updates: "flat" removes vectors in place. The approximate kinds cannot (FAISS's HNSW and IndexRefine have no
``remove_ids``; IVF's alone would put its lists' positions out of step with the id map), so removing marks a position
dead in a mask, and a changed vector is added again at a new position, as vector stores keep tombstones.
Every search skips dead positions: the unfiltered one through a bitmap selector of the live positions with
its breadth widened by the inverse of the live share, the filtered ones because the id -> position table
only holds live positions. ``dead_share`` tells the owner when to rebuild (``index_sync.py`` compacts). The
mask travels with the index in ``to_bytes`` (plain FAISS bytes when nothing is dead, as before).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import faiss
import numpy as np

#: kind -> faiss.index_factory string; ``{nlist}`` and ``{m}`` are filled in from the catalog size and dim.
#: Vectors are unit length, so inner product is cosine similarity. "ivf" is an inverted file of 4-bit
#: fast-scan product codes (``m`` = dim/2 sub-quantisers, 128 bytes per 512-d vector) whose short list is
#: re-ranked on 8-bit scalar-quantised copies of the vectors (512 bytes each): 1M products in ~0.6 GB.
#: 8-bit scores swap near ties (recall@10 ~0.99), so given the exact vectors (``exact_vectors``), the
#: final 2k candidates are re-scored exactly.
INDEX_FACTORY = {
    "flat": "IDMap2,Flat",
    "hnsw": "IDMap2,HNSW32,Flat",
    "ivf": "IDMap2,IVF{nlist},PQ{m}x4fs,Refine(SQ8)",
}
#: Kinds whose stored vectors are quantised, so their scores are re-ranked exactly when vectors are given.
LOSSY_KINDS = frozenset({"ivf"})
#: (ids found, their float32 unit vectors): the exact vectors, e.g. ``Catalog.vectors``.
VectorSource = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]
INDEX_KINDS = ("auto", *INDEX_FACTORY)
#: "auto" scores every product exactly below this many (exact is then under ~5 ms and can remove ids in
#: place) and uses the IVF index from there on; chosen from bench/search.py (README, Performance).
AUTO_APPROXIMATE_FROM = 30_000
#: Fewer vectors than this cannot train an IVF quantiser well; such catalogs stay exact whatever the setting.
IVF_MIN_TRAIN = 1_000
#: IVF quantisers train on at most this many vectors per inverted list (faiss recommends 39-256): at 1M
#: products, 64 keep training to a couple of minutes on 2 cores.
IVF_TRAIN_PER_LIST = 64
#: Search breadth of the approximate kinds, tuned with bench/search.py on clustered 512-d unit vectors.
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128
IVF_NPROBE = 32
#: The IVF short list holds k * REFINE_K_FACTOR candidates, re-ranked on the stored vectors.
REFINE_K_FACTOR = 8
#: A filter allowing a share s of the products searches FILTER_WIDEN / s times as broadly (efSearch, nprobe):
#: the same number of allowed candidates as an unfiltered search, twice over (at s = 0.5 on 100k clustered
#: vectors, 1 / s alone gave recall@10 0.988).
FILTER_WIDEN = 2.0
#: A filter allowing at most this many products is scored exactly: a scan of the stored vectors that skips
#: the others by a bitmap (a few ms); larger ones go through the approximate index with a selector.
EXACT_FILTERED_MAX = 20_000
#: ``to_bytes`` of an index with dead positions: this magic, the stored count (little-endian int64), the dead
#: mask (one bit per position, little bit order), then the FAISS bytes.
DEAD_MASK_MAGIC = b"JWLDEAD\x01"
DEAD_MASK_HEADER = struct.Struct("<8sq")


def resolve_kind(kind: str, n_vectors: int) -> str:
    if kind == "auto":
        kind = "ivf" if n_vectors >= AUTO_APPROXIMATE_FROM else "flat"
    if kind not in INDEX_FACTORY:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if kind == "ivf" and n_vectors < IVF_MIN_TRAIN:
        return "flat"
    return kind


def ivf_list_count(n_vectors: int) -> int:
    """Inverted lists for n vectors: the power of two nearest 4 * sqrt(n), with >= 39 training points each."""
    wanted = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n_vectors))))
    most = 2 ** int(math.log2(max(1, n_vectors // 39)))
    return max(1, min(wanted, most))


def factory_string(kind: str, dim: int, n_vectors: int, template: str | None = None) -> str:
    """The faiss factory string for kind (or an explicit template) sized for n vectors of dim."""
    return (template or INDEX_FACTORY[kind]).format(nlist=ivf_list_count(n_vectors), m=pq_sub_quantizers(dim))


def pq_sub_quantizers(dim: int) -> int:
    """One 4-bit sub-quantiser per 2 dimensions (128 bytes per 512-d vector): the short list stays good."""
    return max(1, dim // 2)


def _training_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    """A fixed-seed random subset of at most IVF_TRAIN_PER_LIST * nlist rows (all rows if fewer)."""
    most = max(IVF_TRAIN_PER_LIST * nlist, 4096)  # 4096: enough for the 16-centroid PQ codebooks too
    if len(vectors) <= most:
        return vectors
    return vectors[np.sort(np.random.default_rng(0).choice(len(vectors), most, replace=False))]


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)


def _kind_of(inner: faiss.Index) -> str:
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexRefine):
        return "ivf"
    return "flat"


class VectorIndex:
    """A FAISS index of unit vectors under int64 product ids, with per-index search breadth."""

    def __init__(self, index: faiss.Index):
        self.index = index
        self.inner = faiss.downcast_index(index.index)
        self.kind = _kind_of(self.inner)
        self.ef_search = HNSW_EF_SEARCH
        self.nprobe = IVF_NPROBE
        self.k_factor = REFINE_K_FACTOR
        self.exact_filtered_max = EXACT_FILTERED_MAX
        self.factory: str | None = None  # the factory string override this index was created with, if any
        self._position_table: np.ndarray | None = None  # product id -> internal position, -1 if absent
        self._dead: np.ndarray | None = None  # per stored position: removed or replaced (None: none is)
        self._live: tuple[np.ndarray, faiss.IDSelector] | None = None  # live positions and their bitmap, cached

    @classmethod
    def create(cls, dim: int, kind: str, n_expected: int = 0, factory: str | None = None) -> VectorIndex:
        """An empty index; an IVF one is trained on its first ``add`` (``factory`` overrides INDEX_FACTORY)."""
        index = faiss.index_factory(dim, factory_string(kind, dim, n_expected, factory), faiss.METRIC_INNER_PRODUCT)
        built = cls(index)
        built.factory = factory
        if built.kind == "hnsw":
            built.inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return built

    @classmethod
    def build(cls, dim: int, kind: str, ids: np.ndarray, vectors: np.ndarray, factory: str | None = None):
        built = cls.create(dim, kind, len(ids), factory)
        built.add(ids, vectors)
        return built

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> VectorIndex:
        """An index from ``to_bytes`` output; RuntimeError when the bytes are not one."""
        data = memoryview(data)
        dead = None
        if bytes(data[: len(DEAD_MASK_MAGIC)]) == DEAD_MASK_MAGIC:
            dead, data = _split_dead_mask(data)
        loaded = cls(faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)))
        if dead is not None:
            if len(dead) != loaded.stored_count:
                raise RuntimeError(f"dead mask of {len(dead)} positions for an index of {loaded.stored_count}")
            loaded._dead = dead
        return loaded

    def to_bytes(self) -> bytes:
        index = faiss.serialize_index(self.index).tobytes()
        if self._dead is None:
            return index
        mask = np.packbits(self._dead, bitorder="little").tobytes()
        return DEAD_MASK_HEADER.pack(DEAD_MASK_MAGIC, len(self._dead)) + mask + index

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def ntotal(self) -> int:
        """Vectors searches can find (dead positions left out)."""
        return self.stored_count - self.dead_count

    @property
    def stored_count(self) -> int:
        """Positions in the FAISS index, dead ones included."""
        return self.index.ntotal

    @property
    def dead_count(self) -> int:
        return 0 if self._dead is None else int(np.count_nonzero(self._dead))

    @property
    def dead_share(self) -> float:
        """The share of stored positions that are dead: what a rebuild would reclaim."""
        return self.dead_count / self.stored_count if self.stored_count else 0.0

    def ids(self) -> np.ndarray:
        """The product ids searches can find."""
        stored = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return stored if self._dead is None else stored[~self._dead]

    def present(self, ids: np.ndarray) -> np.ndarray:
        """The given ids that searches can find, each once (a table look-up per id, not a set operation)."""
        ids = np.asarray(ids, dtype=np.int64)
        return self._id_array()[self._positions(ids)] if len(ids) else ids

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ids; an untrained IVF index is first sized and trained on these vectors."""
        if not len(ids):
            return
        vectors = _as_matrix(vectors)
        if not self.index.is_trained:
            fresh = VectorIndex.create(self.dim, self.kind, len(vectors), self.factory)
            self.index, self.inner = fresh.index, fresh.inner
            self.index.train(_training_sample(vectors, ivf_list_count(len(vectors))))
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        if self._dead is not None:
            self._dead = np.concatenate([self._dead, np.zeros(len(vectors), dtype=bool)])
        self._forget_positions()

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids (unknown ones are ignored): in place for "flat", as dead positions otherwise."""
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind == "flat":
            self.index.remove_ids(ids)
        else:
            self._mark_dead(self._positions(ids))
        self._forget_positions()

    def _mark_dead(self, positions: np.ndarray) -> None:
        if self._dead is None:
            self._dead = np.zeros(self.stored_count, dtype=bool)
        self._dead[positions] = True

    def _forget_positions(self) -> None:
        """Drop what searches cached about positions (after an add or a removal, which no search overlaps)."""
        self._position_table = None
        self._live = None

    # ----------------------------------------------------------------- search
    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed_ids: np.ndarray | None = None,
        exact_vectors: VectorSource | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; with allowed_ids, only those ids are candidates.

        Missing results are id -1. A filter never loses results: whenever k allowed products exist,
        k come back, and they are the exact top k when the filter is small (see the module docstring).
        With exact_vectors, a quantised index's best 2k candidates are re-scored exactly.
        """
        queries = _as_matrix(queries)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        if exact_vectors is None or self.kind not in LOSSY_KINDS:
            return self._candidates(queries, k, allowed_ids)
        _, candidates = self._candidates(queries, min(2 * k, self.ntotal), allowed_ids)
        return _reranked(queries, candidates, k, exact_vectors)

    def _candidates(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by the index's own (possibly quantised) scores, choosing the path for the filter."""
        if allowed_ids is None:
            if self._dead is None:
                return self._translated(*self.inner.search(queries, k, params=self._params(1.0)))
            return self._approximate_among(queries, k, *self._live_selection(), widen=1.0)
        positions = self._positions(np.asarray(allowed_ids, dtype=np.int64))
        if len(positions) <= self.exact_filtered_max:
            return self._exact_among(queries, k, positions)
        return self._approximate_among(queries, k, positions)

    def _approximate_among(
        self,
        queries: np.ndarray,
        k: int,
        positions: np.ndarray,
        selector: faiss.IDSelector | None = None,
        widen: float = FILTER_WIDEN,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among positions (selector: their bitmap, when made already) through the approximate index,
        its breadth grown by widen / (the share of stored positions allowed); the exact scan when that finds
        fewer than k."""
        share = len(positions) / self.stored_count
        params = self._params(share, selector or self._selector(positions), widen=widen)
        scores, ids = self._translated(*self.inner.search(queries, k, params=params))
        if (ids < 0).any():  # the walk ran out of allowed candidates: score them exactly instead
            return self._exact_among(queries, k, positions)
        return scores, ids

    def _params(
        self,
        share: float,
        selector: faiss.IDSelector | None = None,
        plain: bool = False,
        widen: float = FILTER_WIDEN,
    ) -> faiss.SearchParameters:
        """Search parameters restricted to the selector's positions when given; for a share < 1 the breadth
        grows as widen / share. plain: no kind-specific part (for the storage scan)."""
        widen = 1.0 if share >= 1.0 else widen / max(share, 1e-9)
        if plain:
            params = faiss.SearchParameters()
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=min(self.stored_count, math.ceil(self.ef_search * widen)))
        elif self.kind == "ivf":
            nlist = faiss.extract_index_ivf(self.inner.base_index).nlist
            ivf = faiss.SearchParametersIVF(nprobe=min(nlist, math.ceil(self.nprobe * widen)))
            if selector is not None:
                ivf.sel = selector
            params = faiss.IndexRefineSearchParameters(k_factor=self.k_factor, base_index_params=ivf)
            params.keep_alive = (ivf, selector)  # the C++ side holds raw pointers to both
            return params
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
            params.keep_alive = selector
        return params

    def _selector(self, positions: np.ndarray) -> faiss.IDSelector:
        """A bitmap over internal positions (one bit per vector): O(1) per test, cheap to build."""
        mask = np.zeros(self.stored_count, dtype=bool)
        mask[positions] = True
        return _bitmap_selector(mask)

    def _live_positions(self) -> np.ndarray:
        return np.arange(self.stored_count) if self._dead is None else np.flatnonzero(~self._dead)

    def _live_selection(self) -> tuple[np.ndarray, faiss.IDSelector]:
        """Live positions and their selector, made once per change (searches share them; FAISS only reads)."""
        live = self._live
        if live is None:
            live = self._live = (self._live_positions(), _bitmap_selector(~self._dead))
        return live

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Internal live positions of the given product ids (ids not in the index are dropped)."""
        table = self._position_table
        if table is None:  # searches share this index: publish the table only once it is complete
            stored, live = self._id_array(), self._live_positions()
            table = np.full(int(stored.max(initial=-1)) + 1, -1, dtype=np.int64)
            table[stored[live]] = live
            self._position_table = table
        ids = ids[(ids >= 0) & (ids < len(table))]
        positions = table[ids]
        return np.unique(positions[positions >= 0])

    def _storage(self) -> faiss.Index:
        """The flat-layout part of the index that holds every vector (8-bit quantised for "ivf")."""
        if self.kind == "hnsw":
            return faiss.downcast_index(self.inner.storage)
        if self.kind == "ivf":
            return faiss.downcast_index(self.inner.refine_index)
        return self.inner

    def _exact_among(self, queries: np.ndarray, k: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among the vectors at positions by the stored vectors' scores, padded with id -1.

        Float storage is scanned in place with a bitmap selector; quantised storage (whose scan would decode
        every vector) decodes just the allowed ones. FAISS scores a single query on one thread either way.
        """
        storage = self._storage()
        if isinstance(storage, faiss.IndexFlat):
            scores, found = storage.search(queries, k, params=self._params(1.0, self._selector(positions), plain=True))
            return self._translated(scores, found)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        found = np.full((len(queries), k), -1, dtype=np.int64)
        take = min(k, len(positions))
        if take:
            codes = faiss.rev_swig_ptr(storage.codes.data(), self.stored_count * storage.code_size)
            allowed_codes = np.ascontiguousarray(codes.reshape(self.stored_count, storage.code_size)[positions])
            with one_faiss_thread():  # a few thousand codes: thread hand-offs cost more than they save
                vectors = storage.sa_decode(allowed_codes)
                scores[:, :take], nearest = faiss.knn(queries, vectors, take, metric=faiss.METRIC_INNER_PRODUCT)
            found[:, :take] = positions[nearest]
        return self._translated(scores, found)

    def _id_array(self) -> np.ndarray:
        return faiss.rev_swig_ptr(self.index.id_map.data(), self.stored_count).view(np.int64)

    def _translated(self, scores: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map the inner index's positions to product ids (-1 stays -1)."""
        ids = np.where(positions >= 0, self._id_array()[np.maximum(positions, 0)], -1)
        return scores, ids


def _bitmap_selector(mask: np.ndarray) -> faiss.IDSelector:
    """An IDSelectorBitmap over positions from a bool mask (it keeps its packed bits alive)."""
    bitmap = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
    selector.keep_alive = bitmap
    return selector


def _split_dead_mask(data: memoryview) -> tuple[np.ndarray, memoryview]:
    """(dead mask, the FAISS bytes after it) from ``to_bytes`` output that starts with DEAD_MASK_MAGIC."""
    if len(data) < DEAD_MASK_HEADER.size:
        raise RuntimeError("index bytes end inside the dead mask header")
    _, stored = DEAD_MASK_HEADER.unpack(data[: DEAD_MASK_HEADER.size])
    end = DEAD_MASK_HEADER.size + (stored + 7) // 8
    if stored < 0 or len(data) < end:
        raise RuntimeError("index bytes end inside the dead mask")
    packed = np.frombuffer(data[DEAD_MASK_HEADER.size : end], dtype=np.uint8)
    return np.unpackbits(packed, count=stored, bitorder="little").astype(bool), data[end:]


@contextmanager
def one_faiss_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for this thread's calls inside the block (the setting is per thread)."""
    saved = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(saved)


def _reranked(
    queries: np.ndarray, candidates: np.ndarray, k: int, exact_vectors: VectorSource
) -> tuple[np.ndarray, np.ndarray]:
    """The k best candidates per query row by exact inner product (candidates without a vector drop out)."""
    found, vectors = exact_vectors(np.unique(candidates[candidates >= 0]).tolist())
    row_of = {int(i): n for n, i in enumerate(found)}
    out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    out_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for q, (query, ids) in enumerate(zip(queries, candidates)):
        ids = np.array([i for i in ids.tolist() if i in row_of], dtype=np.int64)
        scores = vectors[[row_of[i] for i in ids]] @ query if len(ids) else np.zeros(0, np.float32)
        best = np.argsort(-scores, kind="stable")[:k]
        out_scores[q, : len(best)], out_ids[q, : len(best)] = scores[best], ids[best]
    return out_scores, out_ids
