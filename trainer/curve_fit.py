"""How much data do I need? A saturating power law fitted to the learning curve's points.

`y(n) = a - b * n^-c`: `a` is the ceiling the metric approaches, `b > 0` how far below it the
curve starts, `c > 0` how fast it closes the gap. For fixed `c` the model is linear in `a` and
`b`, so the fit profiles `c` over a grid (refined by Brent's method between grid neighbours)
and solves `(a, b)` exactly by constrained linear least squares: no starting values to guess,
no local minima in `(a, b)`, and the bounds hold by construction.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

LAW = "a - b * n^-c"
C_MAX = 3.0
C_GRID = np.geomspace(0.01, C_MAX, 120)
FAR = 1e12  # a needed n beyond this is treated as never


def _ab(x: np.ndarray, y: np.ndarray, a_max: float):
    """Least-squares (a, b, sse) of y = a - b x per row of x (G x N) with 0 <= a <= a_max and
    b >= 0: the unconstrained solution when it is feasible, else the best edge solution (the
    problem is a convex QP on a box, so one of these is the optimum)."""
    xm, ym = x.mean(axis=1, keepdims=True), y.mean()
    sxx = ((x - xm) ** 2).sum(axis=1)
    b_free = -((x - xm) * (y - ym)).sum(axis=1) / np.where(sxx > 0, sxx, np.inf)
    cands = [(ym + b_free * xm[:, 0], b_free)]
    for a_edge in (0.0, a_max):
        b_edge = np.maximum(0.0, (x * (a_edge - y)).sum(axis=1) / (x * x).sum(axis=1))
        cands.append((np.full(len(x), a_edge), b_edge))
    cands.append((np.full(len(x), min(max(ym, 0.0), a_max)), np.zeros(len(x))))
    best_a, best_b, best_sse = None, None, np.full(len(x), np.inf)
    for i, (a, b) in enumerate(cands):
        sse = ((a[:, None] - b[:, None] * x - y) ** 2).sum(axis=1)
        if i == 0:
            sse = np.where((b >= 0) & (a >= 0) & (a <= a_max), sse, np.inf)
        take = sse < best_sse
        best_a = np.where(take, a, best_a) if best_a is not None else a
        best_b = np.where(take, b, best_b) if best_b is not None else b
        best_sse = np.where(take, sse, best_sse)
    return best_a, best_b, best_sse


def _fit(n: np.ndarray, y: np.ndarray, a_max: float) -> tuple[float, float, float, float]:
    """(a, b, c, sse): grid over c, then Brent between the best grid point's neighbours."""
    _, _, sse = _ab(n[None, :] ** -C_GRID[:, None], y, a_max)
    i = int(np.argmin(sse))

    def profile(c: float) -> float:
        return float(_ab(n[None, :] ** -c, y, a_max)[2][0])
    lo, hi = C_GRID[max(i - 1, 0)], C_GRID[min(i + 1, len(C_GRID) - 1)]
    c = float(minimize_scalar(profile, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-10}).x)
    if profile(c) > sse[i]:
        c = float(C_GRID[i])
    a, b, s = _ab(n[None, :] ** -c, y, a_max)
    return float(a[0]), float(b[0]), c, float(s[0])


def _points(points) -> tuple[np.ndarray, np.ndarray]:
    """(n, y) from (n, score) pairs or curve.json dicts (`n_train`, `value`); None scores and
    n <= 0 are dropped."""
    pairs = [(p["n_train"], p["value"]) if isinstance(p, dict) else tuple(p) for p in points]
    pairs = [(float(n), float(y)) for n, y in pairs if y is not None and n and n > 0]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def fit_curve(points, *, metric_max: float = 1.0, seed: int = 0, n_boot: int = 500,
              level: float = 0.95) -> dict:
    """Least-squares fit of the law to (n_train, score) points (several seeds per n welcome).

    Intervals come from a residual bootstrap (refit to fitted values plus resampled residuals,
    scaled by sqrt(N / (N - 3))), not a bootstrap over points: the sizes are fixed by the plan,
    and with ~5 sizes a point resample often keeps fewer than 3 distinct n and cannot be fit.
    The bootstrap fits are kept under "boot" for `needed_for` and `gain_from_doubling`.
    """
    n, y = _points(points)
    out = {"law": LAW, "params": dict.fromkeys("abc"), "params_ci": {k: [None, None] for k in
           "abc"}, "r2": None, "n_points": len(n), "metric_max": metric_max, "boot": None,
           "reason": None}
    distinct = len(set(n.tolist()))
    if distinct < 3:
        return {**out, "reason": f"needs at least 3 distinct training sizes, got {distinct}"}
    a, b, c, sse = _fit(n, y, metric_max)
    sst = float(((y - y.mean()) ** 2).sum())
    fitted = a - b * n ** -c
    resid = (y - fitted) * math.sqrt(len(n) / max(len(n) - 3, 1))
    rng = np.random.default_rng(seed)
    boot = np.array([_fit(n, fitted + rng.choice(resid, size=len(n)), metric_max)[:3]
                     for _ in range(n_boot)]).reshape(-1, 3)
    alpha = 1 - level
    ci = {k: [float(v) for v in np.quantile(boot[:, i], [alpha / 2, 1 - alpha / 2])]
          for i, k in enumerate("abc")} if n_boot else out["params_ci"]
    return {**out, "params": {"a": a, "b": b, "c": c}, "params_ci": ci,
            "r2": 1 - sse / sst if sst > 0 else None,
            "boot": {k: boot[:, i].tolist() for i, k in enumerate("abc")} if n_boot else None}


def _ok(fit: dict) -> bool:
    return fit.get("params", {}).get("a") is not None


def _needed(a, b, c, target):
    """n where a - b n^-c reaches target (at least 1); inf where it never does."""
    a, b, c = np.asarray(a, float), np.asarray(b, float), np.asarray(c, float)
    gap = a - target
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        n = np.where(gap > 0, np.maximum(1.0, (b / np.where(gap > 0, gap, 1.0)) ** (1 / c)),
                     np.inf)
    return np.where(n > FAR, np.inf, n)


def _interval(values: np.ndarray, level: float = 0.95) -> list:
    alpha = 1 - level
    lo = np.quantile(values, alpha / 2, method="lower")
    hi = np.quantile(values, 1 - alpha / 2, method="higher")
    return [float(lo), float(hi)]


def needed_for(fit: dict, target: float) -> dict:
    """The training size at which the fitted curve reaches `target` (n = (b / (a - target))^(1/c),
    rounded up), with the bootstrap fits' interval; an end is None where some fits never get
    there. Unreachable when target >= a."""
    if not _ok(fit):
        return {"n": None, "ci": [None, None], "reachable": False}
    p = fit["params"]
    n = float(_needed(p["a"], p["b"], p["c"], target))
    ci = [None, None]
    if fit.get("boot"):
        boot = fit["boot"]
        ci = [None if not math.isfinite(v) else math.ceil(v)
              for v in _interval(_needed(boot["a"], boot["b"], boot["c"], target))]
    reachable = math.isfinite(n)
    return {"n": math.ceil(n) if reachable else None, "ci": ci, "reachable": reachable}


def _gain(a, b, c, n):
    b, c = np.asarray(b, float), np.asarray(c, float)
    return b * float(n) ** -c * (1 - 2.0 ** -c)


def gain_from_doubling(fit: dict, n: float) -> dict:
    """y(2n) - y(n) = b n^-c (1 - 2^-c), with the bootstrap fits' interval."""
    if not _ok(fit):
        return {"delta": None, "ci": [None, None]}
    p, boot = fit["params"], fit.get("boot")
    ci = _interval(_gain(boot["a"], boot["b"], boot["c"], n)) if boot else [None, None]
    return {"delta": float(_gain(p["a"], p["b"], p["c"], n)), "ci": ci}


def flat(fit: dict, n: float, *, points_scale: float = 100, min_points: float = 1.0) -> bool:
    """True when doubling the set from n is expected to add less than `min_points` points; one
    point is 1 / `points_scale` of the metric (0.01 on a 0-1 metric, so 100). A failed fit is
    not called flat: nothing is known."""
    gain = gain_from_doubling(fit, n)["delta"]
    return gain is not None and gain * points_scale < min_points


def _count(n: float) -> str:
    """A count rounded to two significant figures, with thousands separators."""
    n = max(1, int(n))
    digits = len(str(n))
    return f"{round(n, 2 - digits) if digits > 2 else n:,}"


def answer(fit: dict, n_now: int, target: float, metric_name: str, *,
           points_scale: float = 100) -> str:
    """One plain sentence answering "how much data do I need?"."""
    if not _ok(fit):
        return (f"The learning curve could not be fitted ({fit.get('reason') or 'no fit'}), "
                "so there is no estimate of how much data is needed.")
    gain = gain_from_doubling(fit, n_now)["delta"] * points_scale
    doubling = f"doubling the set is expected to add {gain:.1f} points"
    need = needed_for(fit, target)
    if need["reachable"] and need["n"] <= n_now:
        return (f"The current {n_now:,} examples already reach {target:.2f} {metric_name} "
                f"on the fitted curve; {doubling}.")
    if flat(fit, n_now, points_scale=points_scale):
        return f"The curve is flat: {doubling}, so more data of this kind is unlikely to help."
    if not need["reachable"]:
        return (f"The curve levels off near {fit['params']['a']:.2f} {metric_name}, below the "
                f"target of {target:.2f}, so more data of this kind is unlikely to reach it; "
                f"{doubling}.")
    lo, hi = need["ci"]
    span = "" if lo is None else f" (interval {_count(lo)}-{_count(hi)})" if hi is not None \
        else f" (interval {_count(lo)} to no upper bound)"
    return (f"About {_count(need['n'])} examples to reach {target:.2f} {metric_name}{span}; "
            f"{doubling}.")


def default_target(tuned: float, metric_max: float = 1.0) -> float:
    """A tenth of the remaining way to the metric's maximum: a next step, not a wish."""
    return tuned + 0.1 * (metric_max - tuned)


def plan_points(n_train: int, k: int = 5, *, min_n: int = 8) -> list[int]:
    """K nested training sizes spaced geometrically from min_n up to n_train (ascending,
    deduplicated; just [n_train] when it is no more than min_n)."""
    if n_train < 1:
        return []
    if n_train <= min_n or k <= 1:
        return [n_train]
    sizes = np.round(np.geomspace(min_n, n_train, k)).astype(int).tolist()
    return sorted(set(sizes) | {n_train})
