"""Which rows duplicate which: exact (same normalised input) and semantic (input vectors at
cosine >= threshold), grouped into clusters around one canonical row each.

The rule, deterministic and explainable, written once here (CANONICAL_RANK and duplicate_kind;
the README quotes `rule_text()`, and a test keeps it in step):
1. Rows are ranked by CANONICAL_RANK, best canonical candidate first.
2. In rank order, a row nobody has claimed becomes canonical and claims every unclaimed row that
   duplicates it, except rows of its own family (one seed and everything generated or corrupted
   from it) and pinned rows. So every duplicate points at a canonical row, never at another
   duplicate, and no two canonical rows of different families duplicate each other.
3. With a cap of K variants per parent, a parent's surviving children past the best K become
   `variant` duplicates of the best one.
Statuses are never changed: a duplicate keeps its status and export and training skip it.
A person's pick (Curation.choose_canonical) re-points a cluster with the same duplicate_kind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from studio.curation.neighbours import EXACT_LIMIT, find_pairs, nearest_cosines

STATUS_RANK = {"approved": 0, "pending": 1, "rejected": 2}


@dataclass
class DedupePlan:
    """Every row's place: arrays over all of the task's rows (id order); -1 / NaN / None where a
    row is in no cluster."""

    ids: np.ndarray
    duplicate_of: np.ndarray
    similarity: np.ndarray
    cluster_id: np.ndarray
    kind: np.ndarray
    method: str
    changed: int
    info: dict = field(default_factory=dict)

    def counts(self) -> dict:
        kinds = self.kind[self.duplicate_of >= 0]
        return {"rows": len(self.ids),
                "exact": int((kinds == "exact").sum()),
                "semantic": int((kinds == "semantic").sum()),
                "variants": int((kinds == "variant").sum()),
                "clusters": int(len(np.unique(self.cluster_id[self.cluster_id >= 0]))),
                "changed": self.changed}

    def pairs(self) -> list[dict]:
        dup = np.flatnonzero(self.duplicate_of >= 0)
        order = dup[np.lexsort((self.ids[dup], self.duplicate_of[dup]))]
        return [{"id": int(self.ids[i]), "duplicate_of": int(self.duplicate_of[i]),
                 "similarity": round(float(self.similarity[i]), 4), "kind": str(self.kind[i])}
                for i in order]

    def in_clusters(self) -> dict[str, np.ndarray]:
        """The rows to write: those in a cluster (canonical rows included)."""
        m = self.cluster_id >= 0
        return {"id": self.ids[m], "duplicate_of": self.duplicate_of[m],
                "similarity": self.similarity[m], "cluster_id": self.cluster_id[m],
                "kind": self.kind[m]}


# Which row of a cluster is canonical: the first key decides, the next breaks ties, and so on.
# Each entry: (the key, lower sorts first, in words).
CANONICAL_RANK = (
    ("pinned", "a row a person picked"),
    ("real", "then the user's real (imported) rows over synthetic copies (teacher-written or "
             "corrupted)"),
    ("status", "then approved over pending over rejected"),
    ("has_output", "then rows with an output over input-only ones"),
    ("score", "then the higher `quality` score"),
    ("created", "then the older row"),
    ("id", "then the lower id"),
)


def rule_text() -> str:
    """The rank in words, as the README gives it."""
    return ", ".join(words for _, words in CANONICAL_RANK) + "."


def _rank_keys(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(rows["id"])
    status = np.full(n, len(STATUS_RANK))
    for name, rank in STATUS_RANK.items():
        status[rows["status"] == name] = rank
    score = np.asarray(rows["score"], dtype=np.float64)
    return {"pinned": ~rows["pinned"].astype(bool),
            "real": ~np.asarray(rows.get("real", np.zeros(n, bool))).astype(bool),
            "status": status,
            "has_output": ~rows["has_output"].astype(bool),
            "score": np.where(np.isnan(score), np.inf, -score),
            "created": rows["created"],
            "id": rows["id"]}


def rank_order(rows: dict[str, np.ndarray]) -> np.ndarray:
    """Row positions, best canonical candidate first (CANONICAL_RANK)."""
    keys = _rank_keys(rows)
    return np.lexsort([keys[name] for name, _ in reversed(CANONICAL_RANK)])


def duplicate_kind(same_exact_key: bool, capped: bool = False) -> str:
    """A duplicate's kind: `variant` when the variant cap made it one, else `exact` when its
    normalised input equals the canonical row's, else `semantic`."""
    return "variant" if capped else "exact" if same_exact_key else "semantic"


def families(ids: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Per row, its family key: the id of its oldest known ancestor (or that ancestor's missing
    parent's id), so a seed and all its generated and corrupted descendants share one key."""
    parent = _ints(parents)
    pos = np.minimum(np.searchsorted(ids, parent), max(len(ids) - 1, 0))
    present = (parent >= 0) & (ids[pos] == parent) if len(ids) else parent >= 0
    top = np.where(present, pos, np.arange(len(ids)))
    for _ in range(64):  # pointer jumping: each round doubles the distance climbed
        nxt = top[top]
        if np.array_equal(nxt, top):
            break
        top = nxt
    return np.where(parent[top] >= 0, parent[top], ids[top])


def _ints(values) -> np.ndarray:
    """An id column as int64, -1 standing for null (the store sends -1 already)."""
    return np.asarray(values, dtype=np.int64)


def plan_dedupe(rows: dict[str, np.ndarray], vectors: np.ndarray, threshold: float, *,
                max_variants: int | None = None, method: str = "auto",
                on_progress=None) -> DedupePlan:
    """`rows` from Store.dedupe_rows (id order); `vectors` the unit input vector of each row."""
    n = len(rows["id"])
    ids = rows["id"].astype(np.int64)
    # One vector per distinct input: rows with the same text share it. Usually every input is
    # distinct, and then the matrix is used as it is rather than copied.
    _, first, text_of = np.unique(rows["text_hash"], return_index=True, return_inverse=True)
    if len(first) == n:
        first = text_of = np.arange(n)
    unique_vecs = vectors if len(first) == n else vectors[first]
    pairs = find_pairs(unique_vecs, threshold, method=method, on_progress=on_progress)
    sem_adj = _adjacency(len(first), pairs)
    rows_of_text = _groups(text_of)
    _, exact_of = np.unique(rows["exact_key"], return_inverse=True)
    exact_members = _groups(exact_of)
    family = families(ids, rows["parent_id"])
    pinned = rows["pinned"].astype(bool)

    dup = np.full(n, -1, np.int64)
    sim = np.full(n, np.nan)
    kind = np.full(n, None, dtype=object)
    claimed = np.zeros(n, bool)

    def cos(a, b):
        return float(unique_vecs[text_of[a]] @ unique_vecs[text_of[b]])

    order = rank_order(rows)
    linked = np.isin(exact_of, list(exact_members)) | np.isin(text_of, list(sem_adj))
    for r in order[linked[order]].tolist():  # rows with no link can claim nobody
        if claimed[r]:
            continue
        claimed[r] = True  # canonical from here on: nobody later can claim it
        candidates = list(exact_members.get(exact_of[r], ()))
        for t, _s in sem_adj.get(text_of[r], ()):
            candidates += rows_of_text.get(t, (first[t],))
        for m in dict.fromkeys(candidates):
            if claimed[m] or pinned[m] or family[m] == family[r]:
                continue
            claimed[m] = True
            dup[m], sim[m] = r, cos(r, m)
            kind[m] = duplicate_kind(bool(exact_of[m] == exact_of[r]))
    if max_variants is not None:
        _cap_variants(rows, dup, sim, kind, pinned, max_variants, cos)
    canon = np.full(n, -1, np.int64)
    has_dups = np.unique(dup[dup >= 0])
    canon[has_dups] = ids[has_dups]
    canon[dup >= 0] = ids[dup[dup >= 0]]
    dup_ids = np.where(dup >= 0, ids[np.maximum(dup, 0)], -1)
    before = _ints(rows["duplicate_of"])
    return DedupePlan(ids=ids, duplicate_of=dup_ids, similarity=sim, cluster_id=canon, kind=kind,
                      method=pairs.method, changed=int((before != dup_ids).sum()),
                      info={"pairs_found": len(pairs), "kmeans_clusters": pairs.clusters})


def _cap_variants(rows, dup, sim, kind, pinned, cap, cos):
    """Past the best `cap` surviving children of a parent, the rest are variants of the best."""
    if cap < 1:
        raise ValueError("the cap on variants per parent must be 1 or more")
    parent = _ints(rows["parent_id"])
    anchors = set(dup[dup >= 0].tolist())
    by_parent: dict[int, list[int]] = {}
    order = rank_order(rows)
    for r in order[(dup[order] < 0) & (parent[order] >= 0)].tolist():
        by_parent.setdefault(int(parent[r]), []).append(r)
    for children in by_parent.values():
        best = children[0]
        kept = 0
        for r in children:
            if kept < cap or pinned[r]:
                kept += 1
                continue
            if r in anchors:  # it is the canonical row of duplicates of its own: leave it
                continue
            dup[r], kind[r], sim[r] = best, duplicate_kind(False, capped=True), cos(best, r)


def _adjacency(n: int, pairs) -> dict[int, list[tuple[int, float]]]:
    adj: dict[int, list[tuple[int, float]]] = {}
    for a, b, s in zip(pairs.i.tolist(), pairs.j.tolist(), pairs.sim.tolist()):
        adj.setdefault(a, []).append((b, s))
        adj.setdefault(b, []).append((a, s))
    return adj


def _groups(labels: np.ndarray) -> dict[int, list[int]]:
    """label -> row positions, for labels that more than one row shares."""
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    shared = np.flatnonzero(counts > 1)
    out: dict[int, list[int]] = {int(g): [] for g in shared}
    for pos in np.flatnonzero(np.isin(labels, shared)):
        out[int(labels[pos])].append(int(pos))
    return out


def run_dedupe(store, task: str, model: str, threshold: float, *,
               max_variants: int | None = None, dry_run: bool = False, method: str = "auto",
               histogram: bool = False, on_progress=None) -> dict:
    """Plan a task's dedupe from the store's rows and vectors and (unless a dry run) write it.
    With `histogram`, also count rows by their nearest other-family cosine (small sets only)."""
    from studio.errors import Conflict

    t0 = time.perf_counter()
    rows = store.dedupe_rows(task)
    ids, vectors = store.example_vectors(model, task)
    if not np.array_equal(ids, rows["id"]):
        missing = len(rows["id"]) - len(ids)
        raise Conflict(f"{missing} rows of task {task!r} have no {model} vector yet; "
                       "embed them first (sft-studio embed)")
    plan = plan_dedupe(rows, vectors, threshold, max_variants=max_variants, method=method,
                       on_progress=on_progress)
    counts = plan.counts()
    counts["nearest"] = (nearest_histogram(vectors, families(rows["id"], rows["parent_id"]))
                         if histogram and len(vectors) <= EXACT_LIMIT else None)
    seconds = round(time.perf_counter() - t0, 3)
    if not dry_run:
        store.write_dedupe(task, plan.in_clusters(),
                           dict(counts, model=model, threshold=threshold,
                                max_variants=max_variants, method=plan.method, seconds=seconds))
    return {"task": task, "threshold": threshold, "dry_run": dry_run, **counts,
            "method": plan.method, "seconds": seconds, "pairs": plan.pairs()}


def nearest_histogram(vectors: np.ndarray, family: np.ndarray, low: float = 0.8,
                      step: float = 0.01) -> dict:
    """How many rows have their nearest row of another family at each cosine, from `low` up
    (the rows below count as one bin): what a threshold would catch, at a glance."""
    best = nearest_cosines(vectors, family)
    edges = _edges(low, step)
    counts = [int((best < low).sum())] + [
        int(((best >= a) & (best < b if b < 1.0 else best <= 1.0 + 1e-6)).sum())
        for a, b in zip(edges[:-1], edges[1:])]
    return {"low": low, "step": step, "bins": histogram_bins(low, step), "counts": counts}


def histogram_bins(low: float = 0.8, step: float = 0.01) -> list[str]:
    """The histogram's bin labels, lowest first."""
    return [f"<{low:.2f}"] + [f"{a:.2f}" for a in _edges(low, step)[:-1]]


def _edges(low: float, step: float) -> np.ndarray:
    return np.round(np.arange(low, 1.0 + step / 2, step), 4)
