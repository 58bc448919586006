"""The evaluation's statistics (trainer/stats.py) and the learning-curve fit
(trainer/curve_fit.py), checked on synthetic data with known answers."""

import numpy as np
import pytest

from trainer import curve_fit as cf
from trainer import stats
from trainer.metrics import INVALID, summarize


def paired_scores(rng, n, shift):
    """Row difficulty shared by both models, independent noise, a true mean shift, in [0, 1]
    (the shift is applied away from the edges so clipping does not change it)."""
    difficulty = rng.uniform(0.25, 0.65, n)
    base = difficulty + rng.uniform(-0.1, 0.1, n)
    tuned = difficulty + shift + rng.uniform(-0.1, 0.1, n)
    return base, tuned


def test_bootstrap_interval_covers_the_true_difference():
    covered = 0
    for trial in range(100):
        base, tuned = paired_scores(np.random.default_rng(trial), 40, 0.1)
        out = stats.bootstrap_delta(base, tuned, seed=trial)
        assert out["n"] == 40 and out["ci"][0] <= out["delta"] <= out["ci"][1]
        covered += out["ci"][0] <= 0.1 <= out["ci"][1]
    assert covered >= 90, covered


def test_bootstrap_is_deterministic_and_handles_empty_input():
    base, tuned = paired_scores(np.random.default_rng(0), 20, 0.05)
    assert stats.bootstrap_delta(base, tuned, seed=3) == stats.bootstrap_delta(base, tuned, seed=3)
    assert stats.bootstrap_delta([], []) == {"delta": None, "ci": [None, None], "n": 0}
    with pytest.raises(ValueError):
        stats.bootstrap_delta([1.0], [1.0, 0.0])


def test_bootstrap_of_a_corpus_statistic_macro_f1():
    rng = np.random.default_rng(7)
    labels = ["neg", "neu", "pos"]
    refs = list(rng.choice(labels, 60))
    base = [r if rng.random() < 0.5 else rng.choice(labels) for r in refs]
    tuned = [r if rng.random() < 0.8 else rng.choice(labels) for r in refs]
    tuned[0] = INVALID
    fb, ft = stats.macro_f1(refs, base), stats.macro_f1(refs, tuned)
    rows = np.arange(len(refs))
    # the closure on all rows is the project's macro-F1
    assert ft(rows) == pytest.approx(summarize(["no label here", *tuned[1:]], refs,
                                               labels)["macro_f1"])
    out = stats.bootstrap_delta(rows, rows, statistic=lambda b, t: ft(t) - fb(b), n_boot=500)
    assert out["delta"] == pytest.approx(ft(rows) - fb(rows))
    assert out["ci"][0] <= out["delta"] <= out["ci"][1] and out["delta"] > 0


def test_paired_test_is_calibrated_under_no_difference():
    rejected = 0
    for trial in range(200):
        base, tuned = paired_scores(np.random.default_rng(1000 + trial), 30, 0.0)
        rejected += stats.paired_test(base, tuned, seed=trial, n_perm=2000)["p_value"] < 0.05
    assert 2 <= rejected <= 20, rejected  # 1% to 10% of 200


def test_paired_test_has_power_against_a_clear_difference():
    rejected = 0
    for trial in range(50):
        base, tuned = paired_scores(np.random.default_rng(trial), 30, 0.08)
        rejected += stats.paired_test(base, tuned, seed=trial, n_perm=2000)["p_value"] < 0.05
    assert rejected >= 45, rejected


def test_paired_test_exact_and_monte_carlo_agree():
    base, tuned = paired_scores(np.random.default_rng(5), 12, 0.05)
    exact = stats.paired_test(base, tuned)
    mc = stats.paired_test(base, tuned, exact=False, n_perm=20000, seed=1)
    assert exact["test"].endswith("(exact)") and "Monte Carlo" in mc["test"]
    assert mc["p_value"] == pytest.approx(exact["p_value"], abs=0.01)
    # 0/1 scores: ties are ignored, four wins out of four flips give p = 2 / 16
    assert stats.paired_test([0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1])["p_value"] == 2 / 16
    assert stats.paired_test([1, 0], [1, 0])["p_value"] == 1.0
    assert stats.paired_test([], [])["p_value"] is None


def test_win_rate_counts_ties_as_half_and_narrows_with_n():
    out = stats.win_rate(6, 4, 2)
    assert out["win_rate"] == pytest.approx(8 / 12) and out["n"] == 12
    lo, hi = out["win_rate_ci"]
    assert 0 <= lo <= out["win_rate"] <= hi <= 1
    big = stats.win_rate(60, 40, 20)
    assert big["win_rate"] == out["win_rate"]
    assert big["win_rate_ci"][1] - big["win_rate_ci"][0] < hi - lo
    assert stats.win_rate(5, 0, 0)["win_rate_ci"][1] == 1.0
    assert stats.win_rate(0, 0, 5)["win_rate_ci"][0] == 0.0
    assert stats.win_rate(0, 0, 0)["win_rate"] is None
    assert stats.win_rate(0, 0, 0)["win_rate_ci"] == [None, None]


def test_terciles_and_slices():
    assert stats.terciles([5, 1, 9, 3, 7, 2]) == ["medium", "short", "long", "medium", "long",
                                                  "short"]
    assert stats.terciles(["a", "bbb", "cc"]) == ["short", "long", "medium"]
    tied = stats.terciles([4, 4, 4, 1, 9, 9])
    assert len({label for v, label in zip([4, 4, 4, 1, 9, 9], tied) if v == 4}) == 1
    assert stats.terciles([]) == []
    rows = [{"len": i, "score": i / 30} for i in range(30)] + [{"len": 99, "score": 1.0}]
    out = stats.slices(rows, lambda r: "big" if r["len"] == 99 else "small",
                       lambda g: {"mean": sum(r["score"] for r in g) / len(g)})
    assert out["small"] == {"n": 30, "mean": pytest.approx(29 / 60)}
    assert out["big"] == {"n": 1, "too_few": True}


NS = [16, 32, 64, 128, 256, 512]


def law(n, a=0.65, b=1.2, c=0.5):
    return a - b * n ** -c


def test_curve_fit_recovers_a_noise_free_power_law_and_inverts_it():
    fit = cf.fit_curve([(n, law(n)) for n in NS], n_boot=50)
    p = fit["params"]
    assert p["a"] == pytest.approx(0.65, abs=1e-3) and p["b"] == pytest.approx(1.2, abs=1e-3)
    assert p["c"] == pytest.approx(0.5, abs=1e-3) and fit["r2"] == pytest.approx(1.0)
    need = cf.needed_for(fit, 0.62)
    assert need["reachable"] and need["n"] == pytest.approx((1.2 / 0.03) ** 2, rel=1e-3)
    assert law(need["n"]) >= 0.62 > law(need["n"] - 2)
    assert cf.needed_for(fit, 0.66) == {"n": None, "ci": [None, None], "reachable": False}
    gain = cf.gain_from_doubling(fit, 100)["delta"]
    assert gain == pytest.approx(law(200) - law(100), abs=1e-6)


def test_curve_fit_with_noise_over_three_seeds():
    rng = np.random.default_rng(11)
    points = [{"n_train": n, "value": law(n) + rng.normal(0, 0.005)} for n in NS for _ in range(3)]
    fit = cf.fit_curve(points)
    assert fit["n_points"] == 18
    assert fit["params"]["a"] == pytest.approx(0.65, abs=0.03)
    assert fit["params"]["c"] == pytest.approx(0.5, rel=0.3)
    for k in "abc":
        lo, hi = fit["params_ci"][k]
        assert lo <= fit["params"][k] <= hi
    need = cf.needed_for(fit, 0.62)
    assert need["ci"][0] <= need["n"] <= need["ci"][1]
    text = cf.answer(fit, 512, 0.62, "ROUGE-L")
    assert text.startswith("About ") and "0.62 ROUGE-L" in text and "(interval " in text
    assert "doubling the set is expected to add 1." in text, text


def test_a_flat_curve_says_so():
    rng = np.random.default_rng(3)
    fit = cf.fit_curve([(n, 0.5 + rng.normal(0, 0.002)) for n in NS for _ in range(3)],
                       n_boot=100)
    assert cf.flat(fit, 512)
    assert cf.answer(fit, 512, cf.default_target(0.5), "ROUGE-L").startswith(
        "The curve is flat: doubling the set is expected to add 0.")


def test_too_few_sizes_and_unreachable_targets_give_honest_answers():
    fit = cf.fit_curve([(10, 0.3), (10, 0.32), (20, 0.4)])
    assert fit["params"] == {"a": None, "b": None, "c": None}
    assert "3 distinct" in fit["reason"] and "could not be fitted" in cf.answer(fit, 20, 0.5, "F1")
    assert cf.needed_for(fit, 0.5)["n"] is None and not cf.flat(fit, 20)
    # steep curve still climbing, ceiling 0.65 below the 0.8 target
    fit = cf.fit_curve([(n, law(n, c=0.3)) for n in NS], n_boot=50)
    text = cf.answer(fit, 512, 0.8, "macro-F1")
    assert "levels off near 0.65 macro-F1" in text and "below the target of 0.80" in text


def test_target_and_planned_sizes():
    assert cf.default_target(0.6) == pytest.approx(0.64)
    assert cf.default_target(60, metric_max=100) == pytest.approx(64)
    assert cf.plan_points(1000) == [8, 27, 89, 299, 1000]
    assert cf.plan_points(10) == [8, 9, 10]
    assert cf.plan_points(5) == [5] and cf.plan_points(0) == []
    sizes = cf.plan_points(200, k=4, min_n=16)
    assert sizes == sorted(set(sizes)) and sizes[0] == 16 and sizes[-1] == 200
