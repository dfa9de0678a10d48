"""Which faces belong together: group unit embeddings into people without labels.

The graph methods work from the same sparse graph: each face linked to its nearest faces within a
distance cut (`neighbour_graph`), found block by block, so memory grows with the number of
faces times `neighbours`, not with its square. On that graph:

- "average": exact average-linkage agglomerative clustering (scipy), stopped at the cut,
  run on each part of the faces that pairs within the cut connect;
- "whispers": Chinese whispers, the graph clustering dlib uses for faces;
- "whispers+centres" (the default): Chinese whispers, then groups (singletons included) whose
  unit mean vectors lie within the cut are merged, nearest first. A mean of several photos
  averages out pose and light (as the recognizer's person centres do), so this joins a
  person split across two groups, or a harder photo left alone, that single-face edges miss;
- "hdbscan" and "dbscan": scikit-learn's density clustering on the same sparse distances.

A face that joins no one is a singleton (label -1), never forced into a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from pipeline.types import Embeddings

METHODS = ("whispers+centres", "whispers", "average", "hdbscan", "dbscan")
DEFAULT_METHOD = "whispers+centres"
SINGLETON = -1
Labels = NDArray[np.int64]


def neighbour_graph(
    vectors: Embeddings, cut: float, neighbours: int = 30, block: int = 2048
) -> csr_matrix:
    """Sparse (N, N) distances: each face to its `neighbours` nearest faces within `cut`
    (symmetrised). Distances are Euclidean between unit vectors, computed by blocks of
    matrix products; a stored 0 distance is kept as a tiny positive value, since sparse
    matrices drop zeros."""
    x = np.asarray(vectors, np.float32)
    n = len(x)
    rows, cols, vals = [], [], []
    k = min(neighbours, n - 1)
    if k <= 0:
        return csr_matrix((n, n), dtype=np.float32)
    for start in range(0, n, block):
        part = x[start : start + block]
        d2 = np.maximum(0.0, 2.0 - 2.0 * (part @ x.T))
        idx = np.arange(len(part))
        d2[idx, start + idx] = np.inf  # not its own neighbour
        near = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.sqrt(np.take_along_axis(d2, near, axis=1))
        keep = dist <= cut
        r, c = np.nonzero(keep)
        rows.append(start + r)
        cols.append(near[r, c])
        vals.append(np.maximum(dist[r, c], 1e-6))
    graph = csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return graph.maximum(graph.T).tocsr()


def cluster_vectors(
    vectors: Embeddings,
    cut: float,
    method: str = DEFAULT_METHOD,
    neighbours: int = 30,
    min_size: int = 2,
    seed: int = 0,
) -> Labels:
    """A group label per face (0, 1, ...), SINGLETON for a face in a group smaller than
    `min_size`. Deterministic for the same input."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    if n == 1:
        return np.full(1, SINGLETON, np.int64)
    if method == "average":
        return _relabel(_average(vectors, cut), min_size)
    graph = neighbour_graph(vectors, cut, neighbours)
    if method == "whispers+centres":
        labels = merge_centres(vectors, _whispers(graph, cut, seed), cut, neighbours)
    elif method == "whispers":
        labels = _whispers(graph, cut, seed)
    elif method == "hdbscan":
        labels = _hdbscan(graph, cut, min_size)
    elif method == "dbscan":
        labels = _dbscan(graph, cut)
    else:
        raise ValueError(f"unknown clustering method {method!r}; choose one of {METHODS}")
    return _relabel(labels, min_size)


def _average(vectors: Embeddings, cut: float, block: int = 2048) -> Labels:
    """Exact average-linkage clustering (scipy), stopped at the cut, one connected part at a
    time: two groups whose mean distance is within the cut have a pair within it, so average
    linkage never joins faces that no chain of pairs within the cut connects. Each part needs
    its own pairwise distances only (a library of 10,000 faces splits into parts of tens), not
    the N^2/2 of the whole set. (Scikit-learn's version with a sparse connectivity ran out of
    memory on 2,320 faces.)"""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import pdist

    x = np.asarray(vectors, np.float32)
    n = len(x)
    rows, cols = [], []
    for start in range(0, n, block):
        d2 = 2.0 - 2.0 * (x[start : start + block] @ x.T)
        r, c = np.nonzero(d2 <= cut * cut)
        rows.append(start + r)
        cols.append(c)
    pairs = csr_matrix(
        (np.ones(sum(len(r) for r in rows), bool), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    parts, part_of = connected_components(pairs, directed=False)
    labels = np.empty(n, np.int64)
    next_label = 0
    for part in range(parts):
        members = np.flatnonzero(part_of == part)
        if len(members) == 1:
            labels[members] = next_label
            next_label += 1
            continue
        tree = linkage(pdist(x[members].astype(np.float64)), method="average")
        found = fcluster(tree, t=cut, criterion="distance") - 1
        labels[members] = next_label + found
        next_label += int(found.max()) + 1
    return labels


def _whispers(graph: csr_matrix, cut: float, seed: int, rounds: int = 20) -> Labels:
    """Chinese whispers (Biemann 2006): each face takes the label its neighbours hold most
    weight for, weight 1 - distance/cut, in a seeded random order, until nothing changes."""
    n = graph.shape[0]
    labels = np.arange(n)
    weights = graph.copy()
    weights.data = 1.0 - weights.data / cut + 1e-3
    rng = np.random.default_rng(seed)
    indptr, indices, data = weights.indptr, weights.indices, weights.data
    for _ in range(rounds):
        changed = 0
        for i in rng.permutation(n):
            lo, hi = indptr[i], indptr[i + 1]
            if lo == hi:
                continue
            votes: dict[int, float] = {}
            for j, w in zip(indices[lo:hi], data[lo:hi], strict=True):
                votes[labels[j]] = votes.get(labels[j], 0.0) + w
            best = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            if best != labels[i]:
                labels[i] = best
                changed += 1
        if changed == 0:
            break
    return labels


def merge_centres(vectors: Embeddings, labels: Labels, cut: float, neighbours: int = 30) -> Labels:
    """Merge groups whose unit mean vectors are within `cut`, nearest pair first, updating a
    merged group's mean; candidate pairs come from a neighbour graph of the means, so the cost
    stays near-linear in the number of groups. Labels < 0 count as groups of one."""
    import heapq

    own = np.asarray(labels).copy()
    lone = own < 0
    own[lone] = own.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    own = np.unique(own, return_inverse=True)[1]
    k = int(own.max()) + 1
    sums = np.zeros((k, vectors.shape[1]), np.float64)
    np.add.at(sums, own, np.asarray(vectors, np.float64))

    def distance(a: int, b: int) -> float:
        na, nb = np.linalg.norm(sums[a]), np.linalg.norm(sums[b])
        return float(np.sqrt(max(0.0, 2.0 - 2.0 * sums[a] @ sums[b] / (na * nb + 1e-12))))

    units = sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-12)
    graph = neighbour_graph(units.astype(np.float32), cut, neighbours).tocoo()
    near: list[set[int]] = [set() for _ in range(k)]
    heap: list[tuple[float, int, int]] = []
    for a, b in zip(graph.row.tolist(), graph.col.tolist(), strict=True):
        near[a].add(b)
        if a < b:
            heap.append((distance(a, b), a, b))
    heapq.heapify(heap)
    parent = np.arange(k)
    alive = np.ones(k, bool)
    while heap:
        d, a, b = heapq.heappop(heap)
        if d > cut:
            break
        if not (alive[a] and alive[b]) or abs(distance(a, b) - d) > 1e-9:
            continue  # a stale entry: one side has merged since
        sums[a] += sums[b]
        alive[b] = False
        parent[parent == b] = a
        near[a] = (near[a] | near[b]) - {a, b}
        for c in near[a]:
            near[c].discard(b)
            near[c].add(a)
            heapq.heappush(heap, (distance(a, c), min(a, c), max(a, c)))
    return parent[own].astype(np.int64)


def _hdbscan(graph: csr_matrix, cut: float, min_size: int) -> Labels:
    from sklearn.cluster import HDBSCAN

    model = HDBSCAN(
        min_cluster_size=max(2, min_size),
        min_samples=1,
        metric="precomputed",
        cluster_selection_epsilon=0.0,
        allow_single_cluster=True,
    )
    return model.fit_predict(_with_far_missing(graph, cut)).astype(np.int64)


def _dbscan(graph: csr_matrix, cut: float) -> Labels:
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=cut, min_samples=2, metric="precomputed").fit_predict(graph).astype(np.int64)


def _with_far_missing(graph: csr_matrix, cut: float) -> NDArray[np.float64]:
    """HDBSCAN needs every distance: the graph's, and 2 (the largest) for the rest."""
    dense = np.full(graph.shape, 2.0)
    coo = graph.tocoo()
    dense[coo.row, coo.col] = coo.data
    np.fill_diagonal(dense, 0.0)
    return dense


def _relabel(labels: Labels, min_size: int) -> Labels:
    """Labels 0.. in order of first appearance; groups under `min_size` become SINGLETON."""
    out = np.full(len(labels), SINGLETON, np.int64)
    values, counts = np.unique(labels[labels >= 0], return_counts=True)
    big = set(values[counts >= min_size].tolist())
    names: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        if label in big:
            out[i] = names.setdefault(label, len(names))
    return out


@dataclass(frozen=True, slots=True)
class ClusterScore:
    """How a grouping compares with the true people. BCubed: per face, the share of its group
    that is its person (precision) and the share of its person that is in its group (recall),
    averaged over faces; pairwise: over pairs of faces put together / of the same person."""

    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    groups: int
    singletons: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in ((f, getattr(self, f)) for f in self.__slots__)
        }


def score_clusters(labels: Labels, truth: Sequence[str]) -> ClusterScore:
    """BCubed and pairwise precision and recall of `labels` (SINGLETON: a group of one)
    against the true names."""
    from sklearn.metrics.cluster import contingency_matrix, pair_confusion_matrix

    own = np.asarray(labels).copy()
    lone = own == SINGLETON
    own[lone] = own.max(initial=-1) + 1 + np.arange(int(lone.sum()))
    own = np.unique(own, return_inverse=True)[1]  # 0..k-1, as contingency_matrix counts them
    people = np.unique(np.asarray(truth), return_inverse=True)[1]
    table = contingency_matrix(people, own, sparse=True).tocoo()  # people x groups
    n = len(own)
    group_size = np.bincount(own)[table.col]
    person_size = np.bincount(people)[table.row]
    counts = table.data.astype(np.float64)
    precision = float(np.sum(counts * counts / group_size) / n)
    recall = float(np.sum(counts * counts / person_size) / n)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    (tn, fp), (fn, tp) = pair_confusion_matrix(people, own)
    pair_p = float(tp / (tp + fp)) if tp + fp else 1.0
    pair_r = float(tp / (tp + fn)) if tp + fn else 1.0
    groups = int(len(np.unique(labels[labels != SINGLETON])))
    return ClusterScore(precision, recall, f1, pair_p, pair_r, groups, int(lone.sum()))
