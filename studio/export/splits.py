"""Leak-free splits: rows are joined into groups, and each group goes whole to one split.

A group is everything connected by a family (a seed and every row generated or corrupted from
it), a dedupe cluster, the same normalised input, or input vectors at cosine >= the dedupe
threshold. Each group gets a stable random key from the seed and its smallest family id, and the
splits are filled in that order up to their share of rows, so adding rows moves few others (a
new group that sorts early can push one group out of test; merging groups can move them). The
test split takes groups of real (imported) rows first, unless asked otherwise; with strata
(labels), each stratum is split on its own.
"""

from __future__ import annotations

import hashlib

import numpy as np

from studio.errors import BadInput
from studio.export import TEST_FROM

SPLITS = ("train", "validation", "test")


def parse_ratios(value) -> tuple[float, float, float]:
    """"0.8,0.1,0.1" (or three numbers) -> (train, validation, test), checked."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        ratios = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise BadInput(f"splits are three numbers train,validation,test like 0.8,0.1,0.1; "
                       f"got {value!r}") from None
    if len(ratios) != 3 or any(not 0 <= r <= 1 for r in ratios):
        raise BadInput(f"splits are three numbers between 0 and 1 (train,validation,test); "
                       f"got {value!r}")
    if abs(sum(ratios) - 1) > 1e-6:
        raise BadInput(f"the split ratios must add up to 1; {value!r} adds up to {sum(ratios):g}")
    if ratios[0] <= 0:
        raise BadInput("the train split needs a share above 0")
    return ratios


def targets(n: int, ratios: tuple[float, float, float]) -> dict[str, int]:
    """Rows per split: largest remainders, and at least one row for a split with a share once
    there are enough rows for every such split to have one."""
    exact = [n * r for r in ratios]
    counts = [int(x) for x in exact]
    for k in sorted(range(3), key=lambda k: (-(exact[k] - counts[k]), -k))[:n - sum(counts)]:
        counts[k] += 1
    if n >= sum(r > 0 for r in ratios):
        for k in (2, 1):
            if ratios[k] > 0 and counts[k] == 0 and counts[0] > 1:
                counts[k], counts[0] = 1, counts[0] - 1
    return dict(zip(SPLITS, counts))


def group_rows(family: np.ndarray, cluster: np.ndarray, exact_key: np.ndarray,
               links: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per row, its group's key: the smallest family key among the rows it is joined to."""
    n = len(family)
    parent = np.arange(n)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(pairs):
        for a, b in pairs:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

    for column in (family, cluster, exact_key):
        first: dict = {}
        join((first.setdefault(v, i), i) for i, v in enumerate(column.tolist())
             if v is not None and v == v and v != -1)  # v == v skips NaN
    join(zip(links[0].tolist(), links[1].tolist()))
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    key = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(key, roots, family.astype(np.int64))
    return key[roots]


def assign(group: np.ndarray, real: np.ndarray, ratios: tuple[float, float, float], seed: int,
           *, test_from: str = "real", strata: np.ndarray | None = None) -> np.ndarray:
    """The split of every row (an array of split names)."""
    if test_from not in TEST_FROM:
        raise BadInput(f"test_from is {' or '.join(TEST_FROM)}, got {test_from!r}")
    n = len(group)
    out = np.full(n, "train", dtype=object)
    if n == 0:
        return out
    keys, inverse = np.unique(group, return_inverse=True)
    size = np.bincount(inverse, minlength=len(keys))
    real_share = np.bincount(inverse, weights=real.astype(float), minlength=len(keys)) / size
    order_key = np.array([_unit(seed, int(k)) for k in keys])
    stratum = _majority(inverse, strata, len(keys)) if strata is not None else np.zeros(
        len(keys), dtype=object)
    split_of = np.full(len(keys), "train", dtype=object)
    for s in _unique(stratum):
        members = np.flatnonzero(stratum == s)
        want = targets(int(size[members].sum()), ratios)
        if test_from == "real":
            priority = np.where(real_share[members] == 1, 0, np.where(real_share[members] > 0,
                                                                       1, 2))
        else:
            priority = np.zeros(len(members))
        _fill(members[np.lexsort((order_key[members], priority))], size, split_of, "test",
              want["test"])
        _fill(members[np.argsort(order_key[members], kind="stable")], size, split_of,
              "validation", want["validation"])
    out[:] = split_of[inverse]
    return out


def _fill(order: np.ndarray, size: np.ndarray, split_of: np.ndarray, name: str,
          want: int) -> None:
    """Give groups (in `order`, skipping taken ones) to `name` while each brings the row count
    nearer to `want`."""
    have = 0
    for g in order:
        need = want - have
        if need <= 0:
            break
        if split_of[g] == "train" and size[g] < 2 * need:
            split_of[g] = name
            have += size[g]


def _unit(seed: int, key: int) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _majority(inverse: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Each group's most common label (ties: the first in sorted order)."""
    counts: list[dict] = [{} for _ in range(k)]
    for g, label in zip(inverse.tolist(), labels.tolist()):
        counts[g][label] = counts[g].get(label, 0) + 1
    return np.array([min(c, key=lambda lab: (-c[lab], str(lab))) for c in counts], dtype=object)


def _unique(values: np.ndarray) -> list:
    return sorted(set(values.tolist()), key=str)


def cross_split(i: np.ndarray, j: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Positions (into i, j) of the pairs whose two rows landed in different splits."""
    return np.flatnonzero(splits[i] != splits[j]) if len(i) else np.empty(0, np.int64)
