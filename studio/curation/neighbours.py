"""Pairs of unit vectors above a cosine threshold, and nearest neighbours (numpy only).

Small sets: exact all-pairs by blocked matrix products. Large sets: SemDeDup-style, a spherical
k-means on a sample, every vector filed under its nearest centroid, then each vector compared
with the members of its `probes` nearest clusters (its own included), skipping clusters that the
triangle inequality proves cannot hold a partner. Each block is one BLAS matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

EXACT_LIMIT = 20_000  # all-pairs up to here: 20k x 20k x 384 is ~1 s on two cores
BLOCK = 4096


@dataclass
class Pairs:
    """Pairs (i < j) with cosine >= threshold, as parallel arrays, and how they were found."""

    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray
    method: str
    clusters: int = 0

    def __len__(self) -> int:
        return len(self.i)


def as_unit(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def find_pairs(x: np.ndarray, threshold: float, *, method: str = "auto", probes: int = 3,
               cluster_size: int = 1000, seed: int = 0, on_progress=None) -> Pairs:
    """Every pair of rows of `x` (unit vectors) with cosine >= threshold.

    method: "exact", "kmeans" or "auto" (exact up to EXACT_LIMIT rows). on_progress(done, total)
    is called as blocks finish."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n = len(x)
    if method == "auto":
        method = "exact" if n <= EXACT_LIMIT else "kmeans"
    if n < 2:
        return Pairs(*_empty(), method=method)
    if method == "exact":
        return _exact(x, threshold, on_progress)
    if method == "kmeans":
        return _kmeans_pairs(x, threshold, probes, cluster_size, seed, on_progress)
    raise ValueError(f"unknown method {method!r}; use auto, exact or kmeans")


def top_k(x: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of the k rows of `x` nearest to `query` (one unit vector), best first."""
    sims = x @ query.astype(np.float32)
    k = min(k, len(sims))
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    idx = np.argpartition(-sims, k - 1)[:k]
    idx = idx[np.argsort(-sims[idx], kind="stable")]
    return idx, sims[idx]


def nearest_cosines(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's highest cosine to a row of another group (-1 if none); blocked all-pairs, so
    for small sets."""
    best = np.full(len(x), -1.0, np.float32)
    for start in range(0, len(x), BLOCK):
        sims = x[start:start + BLOCK] @ x.T
        sims[groups[start:start + BLOCK, None] == groups[None, :]] = -1.0
        best[start:start + len(sims)] = sims.max(axis=1)
    return best


def nearest_other(x: np.ndarray, *, probes: int = 3, cluster_size: int = 1000,
                  seed: int = 0) -> np.ndarray:
    """Each row's highest cosine to any other row (-1 for a lone row): exact up to EXACT_LIMIT
    rows, else among the members of its `probes` nearest k-means buckets (a lower bound)."""
    n = len(x)
    if n <= EXACT_LIMIT:
        return nearest_cosines(x, np.arange(n))
    k, near, _, members = _buckets(x, probes, cluster_size, seed)
    askers = _group(near.ravel(), k, rows=np.repeat(np.arange(n), near.shape[1]))
    best = np.full(n, -1.0, np.float32)
    for c in range(k):
        d, q = members[c], askers[c]
        if len(d) == 0 or len(q) == 0:
            continue
        sims = x[q] @ x[d].T
        sims[q[:, None] == d[None, :]] = -1.0
        best[q] = np.maximum(best[q], sims.max(axis=1))
    return best


# -- exact ---------------------------------------------------------------------------------

def _exact(x, threshold, on_progress):
    n = len(x)
    found = []
    starts = range(0, n, BLOCK)
    for b, start in enumerate(starts):
        block = x[start:start + BLOCK]
        sims = block @ x[start:].T  # the upper triangle only: columns from `start` on
        r, c = np.nonzero(sims >= threshold)
        keep = c > r  # c counts from `start`, as r does
        r, c = r[keep], c[keep]
        found.append((r + start, c + start, sims[r, c]))
        if on_progress:
            on_progress(b + 1, len(starts))
    return Pairs(*_concat(found), method="exact")


# -- k-means -------------------------------------------------------------------------------

def spherical_kmeans(x: np.ndarray, k: int, *, iters: int = 12, sample: int | None = None,
                     seed: int = 0) -> np.ndarray:
    """k unit centroids fitted (cosine Lloyd iterations) on a random sample of x."""
    rng = np.random.default_rng(seed)
    n = len(x)
    sample = min(n, sample or max(40 * k, 50_000))
    pts = x[np.sort(rng.choice(n, sample, replace=False))] if sample < n else x
    cent = pts[rng.choice(len(pts), k, replace=False)].copy()
    for _ in range(iters):
        labels = _nearest(pts, cent)
        onehot = sparse.csr_matrix((np.ones(len(pts), np.float32), (labels, np.arange(len(pts)))),
                                   shape=(k, len(pts)))
        sums = np.asarray(onehot @ pts)
        counts = np.bincount(labels, minlength=k)
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # re-seed an empty cluster at a random point
            sums[empty] = pts[rng.choice(len(pts), len(empty), replace=False)]
        cent = as_unit(sums)
    return cent


def _nearest(x, cent, probes: int = 1):
    """Per row of x: the `probes` nearest centroids (and with probes > 1 their cosines)."""
    out_idx = np.empty((len(x), probes), np.int64)
    out_sim = np.empty((len(x), probes), np.float32)
    for start in range(0, len(x), 16_384):
        sims = x[start:start + 16_384] @ cent.T
        if probes == 1:
            out_idx[start:start + len(sims), 0] = sims.argmax(axis=1)
            continue
        idx = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
        top = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-top, axis=1)
        out_idx[start:start + len(sims)] = np.take_along_axis(idx, order, axis=1)
        out_sim[start:start + len(sims)] = np.take_along_axis(top, order, axis=1)
    return out_idx[:, 0] if probes == 1 else (out_idx, out_sim)


def _kmeans_pairs(x, threshold, probes, cluster_size, seed, on_progress):
    n = len(x)
    k, near, near_sim, members = _buckets(x, probes, cluster_size, seed)
    probes = max(1, min(probes, k))
    # Angle bound: a partner y of x (angle <= t) filed in cluster c (angle(y, c) <= r_c) lies in
    # a cluster with angle(x, c) <= t + r_c; clusters beyond that are skipped for x.
    home_angle = np.arccos(np.clip(near_sim[:, 0], -1, 1))
    radius = np.array([home_angle[m].max() if len(m) else -np.inf for m in members])
    reach = math.acos(threshold) + radius
    probe_ok = np.arccos(np.clip(near_sim[:, :probes], -1, 1)) <= reach[near[:, :probes]]
    probe_ok[:, 0] = True
    askers = _group(near[:, :probes][probe_ok], k, rows=np.nonzero(probe_ok)[0])
    found = []
    for c in range(k):
        d = members[c]
        q = askers[c]
        if len(d) == 0 or len(q) == 0:
            continue
        sims = x[q] @ x[d].T
        r, col = np.nonzero(sims >= threshold)
        qi, di = q[r], d[col]
        keep = qi != di
        found.append((qi[keep], di[keep], sims[r, col][keep]))
        if on_progress and (c % 64 == 0 or c == k - 1):
            on_progress(c + 1, k)
    i, j, s = _concat(found)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(lo * n + hi, return_index=True)  # a pair can be met from both sides
    return Pairs(lo[first], hi[first], s[first], method="kmeans", clusters=k)


def _buckets(x, probes: int, cluster_size: int, seed: int):
    """k-means buckets of about cluster_size rows: (k, each row's nearest max(probes, 2)
    centroids and their cosines, the rows filed under each bucket)."""
    k = max(2, min(len(x) // 2, round(len(x) / cluster_size)))
    cent = spherical_kmeans(x, k, seed=seed)
    near, near_sim = _nearest(x, cent, probes=max(2, min(probes, k)))
    return k, near, near_sim, _group(near[:, 0], k)


def _group(labels, k, rows=None):
    """Row indices per label, as a list of arrays."""
    rows = np.arange(len(labels)) if rows is None else rows
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    sorted_rows = rows[order]
    return [sorted_rows[bounds[c]:bounds[c + 1]] for c in range(k)]


def _empty():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)


def _concat(found):
    if not found:
        return _empty()
    return tuple(np.concatenate([f[p] for f in found]).astype(t)
                 for p, t in ((0, np.int64), (1, np.int64), (2, np.float32)))
