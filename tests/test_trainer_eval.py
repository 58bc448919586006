"""Evaluation that answers "is it better?" and "how much data do I need?": eval.json's interval,
test and slices (and the card showing the same figures), the learning curve's fit and answer,
and the experiment trackers of report_to."""

import json

import pytest
from train_data import SYSTEM, make_run, write_split

WORDS = ("cat dog sun rain bus train late happy sad coffee tea good bad cold warm red blue "
         "green early night").split()


def _test_rows(n: int = 36) -> list[dict]:
    """n copy-task rows in three clear lengths (4, 8 and 14 words), every sixth from the user's
    own data (`imported`), the rest from the teacher."""
    out = []
    for k in range(n):
        size = (4, 8, 14)[k * 3 // n]
        words = [WORDS[(k * 7 + j * 3) % len(WORDS)] for j in range(size)]
        out.append({"id": 5000 + k, "source": "imported" if k % 6 == 5 else "teacher",
                    "messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": " ".join(words)},
                                 {"role": "assistant", "content": " ".join(words[:3])}]})
    return out


def _inside(value, ci):
    return ci[0] - 1e-9 <= value <= ci[1] + 1e-9


# --- the statistics on eval.json's rows, without a model -------------------------------------

def _compared(n, labels=None):
    """metrics.compare on made-up answers, ids by index as evaluate passes them."""
    from trainer import metrics

    refs = ["cat" if k % 2 else "dog" for k in range(n)] if labels else \
        [f"word{k} other{k} thing" for k in range(n)]
    base = ["dog"] * n if labels else [f"word{k}" for k in range(n)]
    tuned = [r if k % 4 else "fish" for k, r in enumerate(refs)] if labels else \
        [r if k % 3 else f"word{k} other" for k, r in enumerate(refs)]
    inputs = [("x" * (5 + k % 3 * 20)) for k in range(n)]
    result = metrics.compare(inputs, refs, base, tuned, labels, ids=list(range(n)))
    rows = [{"id": f"r{k}", "source": "imported" if k < 4 else "teacher"} for k in range(n)]
    return result, rows, inputs


def test_annotate_adds_interval_test_and_slices_that_the_rows_reproduce():
    from trainer import stats
    from trainer.eval_slices import METHOD, annotate
    from trainer.evaluate import slice_summary

    result, rows, inputs = _compared(30)
    annotate(result, rows, inputs, None)
    assert {r["id"] for r in result["rows"]} == {f"r{k}" for k in range(30)}
    assert all(r["length"] == len(r["input"]) for r in result["rows"])
    ci = result["delta_ci"]
    assert ci["level"] == 0.95 and ci["method"] == METHOD and ci["n"] == 30
    assert ci["delta"] == pytest.approx(result["delta"]) and _inside(ci["delta"], ci["ci"])
    assert result["test"]["n"] == 30 and 0 <= result["test"]["p_value"] <= 1
    assert result["slices"]["source"]["imported"] == {"n": 4, "too_few": True}
    teacher = result["slices"]["source"]["teacher"]
    assert teacher["n"] == 26 and _inside(teacher["delta"], teacher["delta_ci"])
    assert list(result["slices"]["length"]) == list(stats.TERCILES)
    assert all(g["n"] == 10 and "base" in g for g in result["slices"]["length"].values())
    # eval.json's rows give back the same figures, and slice by anything else
    again = slice_summary(result["rows"], lambda r: r["source"] or "unknown")
    assert again == result["slices"]["source"]
    odd = slice_summary(result["rows"], lambda r: "odd" if r["length"] % 2 else "even")
    assert sum(g["n"] for g in odd.values()) == 30


def test_a_label_task_gets_a_macro_f1_interval():
    from trainer import stats
    from trainer.eval_slices import annotate

    result, rows, inputs = _compared(24, labels=["cat", "dog"])
    annotate(result, rows, inputs, ["cat", "dog"])
    ci = result["delta_ci"]
    assert result["metric"] == "macro_f1"
    assert ci["delta"] == pytest.approx(result["tuned"] - result["base"])
    assert _inside(ci["delta"], ci["ci"]) and ci["ci"][0] < ci["ci"][1]
    # the test is on 0/1 correctness per row
    correct = [r["tuned_score"] for r in result["rows"]]
    assert set(correct) <= {0.0, 1.0}
    assert result["test"] == stats.paired_test([r["base_score"] for r in result["rows"]],
                                               correct)


def test_the_card_renders_interval_slices_and_a_judge():
    from trainer.card import _cell, render

    evaluation = {"metric": "rougeL", "base": 0.2, "tuned": 0.5, "delta": 0.3, "n": 30,
                  "delta_ci": {"delta": 0.3, "ci": [0.21, 0.38], "n": 30, "level": 0.95,
                               "method": "paired bootstrap (2000 resamples of the test rows)"},
                  "test": {"test": "sign-flip permutation (exact)", "p_value": 0.0123, "n": 30},
                  "slices": {"source": {"teacher": {"n": 26, "base": 0.2, "tuned": 0.51,
                                                    "delta": 0.31, "delta_ci": [0.2, 0.4]},
                                        "imported": {"n": 4, "too_few": True}}},
                  "judge": {"win_rate": 0.65, "win_rate_ci": [0.47, 0.8], "wins": 18,
                            "ties": 3, "losses": 9, "n": 30, "failed": 1, "model": "judge-7b"}}
    card = render({"base_model": "org/base", "method": "lora", "eval": evaluation})
    assert "0.21 to 0.38" in card and f"p = {_cell(0.0123)}" in card
    assert "| teacher | 26 | 0.2 | 0.51 | 0.31 | 0.2 to 0.4 |" in card
    assert "| imported | 4 | too few rows |" in card
    assert "won 18, tied 3 and lost 9, 1 not judged" in card and "**0.65**" in card
    assert "0.47 to 0.8" in card and "judge-7b" in card
    assert "### Judge" not in render({"base_model": "org/base", "method": "lora",
                                      "eval": {**evaluation, "judge": None}})


# --- a real run on the tiny model ------------------------------------------------------------

@pytest.mark.slow
def test_eval_json_has_interval_test_slices_and_the_card_agrees(tmp_path):
    from trainer.card import _cell
    from trainer.config import TrainConfig
    from trainer.evaluate import evaluate
    from trainer.train import train

    path = make_run(tmp_path, max_steps=12)
    write_split(tmp_path, "test", _test_rows(36))
    config = TrainConfig.load(path)
    assert train(config, tmp_path)["status"] == "completed"
    evaluate(config, tmp_path)
    ev = json.loads((tmp_path / "eval.json").read_text())
    for key in ("metric", "base", "tuned", "delta", "n", "base_summary", "tuned_summary",
                "rows", "split", "base_model", "max_new_tokens"):
        assert key in ev
    ci = ev["delta_ci"]
    assert ci["n"] == ev["n"] == 36 and ci["level"] == 0.95
    assert ci["delta"] == pytest.approx(ev["delta"]) and _inside(ci["delta"], ci["ci"])
    assert 0 <= ev["test"]["p_value"] <= 1 and ev["test"]["n"] == 36
    assert ev["slices"]["source"]["imported"] == {"n": 6, "too_few": True}
    teacher = ev["slices"]["source"]["teacher"]
    assert teacher["n"] == 30 and _inside(teacher["delta"], teacher["delta_ci"])
    assert {k: g["n"] for k, g in ev["slices"]["length"].items()} == {
        "short": 12, "medium": 12, "long": 12}
    assert all("delta_ci" in g for g in ev["slices"]["length"].values())
    row = next(r for r in ev["rows"] if r["id"] == 5005)
    assert row["source"] == "imported" and row["length"] == len(row["input"])
    assert {r["source"] for r in ev["rows"]} == {"teacher", "imported"}

    card = (tmp_path / "adapter" / "README.md").read_text()
    assert f"**{_cell(ci['delta'])}**" in card
    assert f"{_cell(ci['ci'][0])} to {_cell(ci['ci'][1])}" in card
    assert f"p = {_cell(ev['test']['p_value'])}" in card
    assert (f"| teacher | 30 | {_cell(teacher['base'])} | {_cell(teacher['tuned'])} | "
            f"{_cell(teacher['delta'])} | {_cell(teacher['delta_ci'][0])} to "
            f"{_cell(teacher['delta_ci'][1])} |") in card
    assert "| imported | 6 | too few rows |" in card and "### By input length" in card

    # the studio adds a judge's verdicts later and refreshes the cards
    from trainer import outputs, stats

    judge = {**stats.win_rate(20, 4, 12), "failed": 0, "model": "judge-model"}
    outputs.refresh_cards(config, tmp_path, {**ev, "judge": judge})
    card = (tmp_path / "adapter" / "README.md").read_text()
    assert "### Judge" in card and f"**{_cell(judge['win_rate'])}**" in card


@pytest.mark.slow
def test_learning_curve_with_seeds_fits_and_answers(tmp_path):
    from trainer.config import TrainConfig
    from trainer.curve import learning_curve

    path = make_run(tmp_path, max_steps=3, eval_steps=1000, curve_points=3, curve_seeds=2,
                    evaluate=False)
    result = learning_curve(TrainConfig.load(path), tmp_path)
    assert result["status"] == "completed"
    curve = json.loads((tmp_path / "curve.json").read_text())
    assert curve["complete"] is True and curve["metric"] == "rougeL" and curve["n"] == 8
    points = curve["points"]
    assert [(p["n_train"], p["seed"]) for p in points] == [
        (8, 0), (20, 0), (48, 0), (8, 1), (20, 1), (48, 1)]
    assert all(p["value"] is not None and p["steps"] == 3 for p in points)
    assert {p["fraction"] for p in points if p["n_train"] == 48} == {1.0}
    fit = curve["fit"]
    assert "boot" not in fit and fit["n_points"] == 6
    assert fit["reason"] is None or fit["params"]["a"] is None
    top = [p["value"] for p in points if p["n_train"] == 48]
    assert curve["target"] == pytest.approx(sum(top) / 2 + 0.1 * (1 - sum(top) / 2))
    assert set(curve["needed_for_target"]) == {"n", "ci", "reachable"}
    assert set(curve["doubling"]) == {"delta", "ci"} and isinstance(curve["flat"], bool)
    assert isinstance(curve["answer"], str) and curve["answer"].endswith(".")
    # every part trained in its own folder, the two seeds on different subsets
    assert (tmp_path / "curve" / "n0008-s1" / "adapter").is_dir()
    assert result["answer"] == curve["answer"]


@pytest.mark.slow
def test_stopping_mid_curve_keeps_the_points_so_far(tmp_path):
    from trainer.config import TrainConfig
    from trainer.curve import learning_curve
    from trainer.progress import StopFlag

    stop = StopFlag()

    class StopAfterTwo:  # the second point's evaluation ends, then a SIGTERM arrives
        evals = 0

        def write(self, event, **data):
            if event == "eval":
                self.evals += 1
                if self.evals == 2:
                    stop.signal = "SIGTERM"

    path = make_run(tmp_path, max_steps=2, eval_steps=1000, curve_points=4, curve_seeds=1,
                    curve_target=0.9, evaluate=False)
    result = learning_curve(TrainConfig.load(path), tmp_path, log=StopAfterTwo(), stop=stop)
    assert result["status"] == "stopped" and result["signal"] == "SIGTERM"
    curve = json.loads((tmp_path / "curve.json").read_text())
    assert curve["complete"] is False and len(curve["points"]) == 2
    assert curve["target"] == 0.9 and "could not be fitted" in curve["answer"]
    assert "3 distinct" in curve["fit"]["reason"]


def test_old_configs_keep_their_curve_fractions(tmp_path):
    from trainer.config import ConfigError, TrainConfig
    from trainer.curve import plan

    old = TrainConfig.from_dict({"curve_fractions": [0.5, 0.25, 1.0]})
    assert [(p["part"], p["fraction"], p["seed"]) for p in plan(old, 48)] == [
        ("p025", 0.25, 0), ("p050", 0.5, 0), ("p100", 1.0, 0)]
    new = TrainConfig()
    assert new.curve_points == 5 and new.curve_fractions == [] and new.curve_seeds == "auto"
    assert [p["part"] for p in plan(new, 300)] == [
        "n0008-s0", "n0020-s0", "n0049-s0", "n0121-s0", "n0300-s0"]
    assert len(plan(new, 150)) == 15  # "auto": 3 seeds under 200 rows
    assert TrainConfig.load(new.save(tmp_path / "c.toml")) == new
    for bad, match in (({"curve_seeds": 0}, "curve_seeds"), ({"curve_target": 2}, "curve_target"),
                       ({"curve_points": 0}, "curve_points"),
                       ({"curve_fractions": [0.5], "curve_points": 3}, "not both"),
                       ({"report_to": ["neptune"]}, "unknown tracker")):
        with pytest.raises(ConfigError, match=match):
            TrainConfig.from_dict(bad)


# --- experiment trackers ---------------------------------------------------------------------

def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_a_tracker_that_is_not_installed_is_a_config_error_naming_its_package(tmp_path):
    from trainer.config import ConfigError, TrainConfig, check_trackers

    missing = [n for n, m in (("wandb", "wandb"), ("mlflow", "mlflow"), ("trackio", "trackio"))
               if not _installed(m)]
    if not _installed("tensorboard") and not _installed("tensorboardX"):
        missing.append("tensorboard")
    if not missing:
        pytest.skip("every tracker is installed here")
    name = missing[0]
    with pytest.raises(ConfigError, match=f"pip install {name}"):
        check_trackers([name])
    # a run asking for it fails before any model loads, with the same message
    from trainer.train import train

    config = TrainConfig(base_model=str(tmp_path / "no-model"), data_dir=str(tmp_path),
                         report_to=[name])
    with pytest.raises(ConfigError, match=f"pip install {name}"):
        train(config, tmp_path)
    assert TrainConfig.from_dict({"report_to": "TensorBoard, wandb"}).report_to == [
        "tensorboard", "wandb"]


def test_wandb_needs_a_login_or_offline_mode(monkeypatch, tmp_path):
    import importlib.util

    from trainer.config import ConfigError, check_trackers

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "wandb" else real(name, *a))
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="WANDB_API_KEY.*WANDB_MODE=offline"):
        check_trackers(["wandb"], env={})
    assert "offline" in check_trackers(["wandb"], env={"WANDB_MODE": "offline"})["wandb"]
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "mlflow" else real(name, *a))
    assert "logs/mlruns" in check_trackers(["mlflow"], env={})["mlflow"]


@pytest.mark.slow
def test_tensorboard_writes_event_files_into_the_run_folder(tmp_path):
    pytest.importorskip("tensorboard")
    from trainer.config import TrainConfig
    from trainer.train import train

    path = make_run(tmp_path, max_steps=2, report_to=["tensorboard"], evaluate=False)
    assert train(TrainConfig.load(path), tmp_path)["status"] == "completed"
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))
    assert "TensorBoard" in (tmp_path / "resolved.toml").read_text()


@pytest.mark.slow
def test_trackio_logs_into_the_run_folder(tmp_path):
    if not _installed("trackio"):  # not importorskip: Trackio reads its folder when imported
        pytest.skip("trackio is not installed")
    from trainer.config import TrainConfig
    from trainer.train import train

    path = make_run(tmp_path, max_steps=2, report_to=["trackio"], evaluate=False)
    assert train(TrainConfig.load(path), tmp_path)["status"] == "completed"
    assert any((tmp_path / "logs").iterdir())
