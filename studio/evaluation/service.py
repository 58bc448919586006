"""Evaluation beyond the trainer's own: the pairwise judge (base against tuned, both orders, a
win rate with its interval) and the slices only the store can draw (the corruption operators in
an input, the duplicate family or cluster), written into the run's eval.json and model cards so
both carry the same figures. The trainer computes the metric, its interval, the paired test and
the source and length slices itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from studio.errors import BadInput, TeacherFailed
from studio.records import Evaluation as EvaluationRecord
from studio.records import RunRow
from studio.reviews.service import Reviews
from studio.scoring.service import Scoring
from studio.settings import Settings
from studio.store import Store
from studio.training.service import Training


class Evaluation:
    """Built on the store (the teacher cache, the rows' facts), the settings, Reviews (task
    lookup), Training (runs and their eval.json) and Scoring (the task's rubric)."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews, training: Training,
                 scoring: Scoring):
        self.store, self.settings = store, settings
        self.reviews, self.training, self.scoring = reviews, training, scoring

    def evaluate(self, run_id: int, *, again: bool = False) -> EvaluationRecord:
        """The run's evaluation (Training.evaluate_run) with the slices only the store can
        draw: by corruption operator and by duplicate family; and, when the judge has run, the
        win rate per slice. Saved back so eval.json and the cards agree."""
        result = cast(dict, self.training.evaluate_run(run_id, again=again))
        run = self.training.run(run_id)
        read = json.dumps(result, sort_keys=True)
        if again:
            result.pop("judge", None)  # the answers changed: judge them again
        self._slice(run, result)
        if json.dumps(result, sort_keys=True) != read:  # showing it again writes nothing
            self._save(run, result)
        return cast(EvaluationRecord, result)

    def _slice(self, run: RunRow, result: dict) -> None:
        from trainer.eval_slices import compared, slice_summary
        from trainer.stats import terciles, win_rate

        rows = result["rows"]
        labels = list((run["config"] or {}).get("labels") or []) or None
        slices = result.setdefault("slices", {})
        stored = {r["id"]: r for r in self.store.get_examples(
            [r["id"] for r in rows if isinstance(r.get("id"), int)])}
        ops = {i: sorted(set((r["meta"] or {}).get("ops") or [])) for i, r in stored.items()}
        slices["operator"] = {}
        for op in sorted({o for v in ops.values() for o in v}) + ["none"]:
            group = [r for r in rows if (op in ops.get(r["id"], []))
                     or (op == "none" and not ops.get(r["id"]))]
            if group:
                slices["operator"][op] = _summary(compared, group, labels)
        family = self._families(stored)
        by_family = slice_summary(rows, lambda r: family.get(r["id"], r["id"]), labels)
        slices["family"] = {str(k): v for k, v in by_family.items() if not v.get("too_few")}
        if all(r.get("source") == "imported" for r in rows):
            result["slices_note"] = (
                "The test split holds only your real (imported) rows, the export's default "
                "(--test-from real), so the source and corruption slices have one group: "
                "train with --test-from any to see how the model does on teacher-written and "
                "corrupted inputs too.")
        else:
            result.pop("slices_note", None)
        if any(r.get("judge") for r in rows):
            def keyed(name, key_fn):
                groups: dict = {}
                for r in rows:
                    for k in key_fn(r):
                        groups.setdefault(k, []).append(r)
                for k, group in groups.items():
                    entry = slices.get(name, {}).get(str(k))
                    if entry is None or entry.get("too_few"):
                        continue
                    out = [r.get("judge") for r in group]
                    entry["win_rate"] = win_rate(out.count("win"), out.count("tie"),
                                                 out.count("loss"))["win_rate"]
            lengths = [r.get("length", len(r["input"])) for r in rows]
            tercile = dict(zip((id(r) for r in rows), terciles(lengths)))
            keyed("source", lambda r: [r.get("source") or "unknown"])
            keyed("length", lambda r: [tercile[id(r)]])
            keyed("operator", lambda r: ops.get(r["id"]) or ["none"])
            keyed("family", lambda r: [family.get(r["id"], r["id"])])

    def _families(self, stored: dict) -> dict:
        """Each row's family: its oldest known ancestor (a seed and everything generated or
        corrupted from it share one)."""
        parent = {i: r["parent_id"] for i, r in stored.items()}
        missing = {p for p in parent.values() if p is not None and p not in parent}
        while missing:
            found = self.store.get_examples(sorted(missing))
            parent.update({r["id"]: r["parent_id"] for r in found})
            missing = {p for p in parent.values() if p is not None and p not in parent} \
                - {r["id"] for r in found} - missing
        out = {}
        for i in stored:
            top, seen = i, set()
            while parent.get(top) is not None and top not in seen:
                seen.add(top)
                top = parent[top]
            out[i] = top
        return out

    def judge_run(self, run_id: int, teacher, *, refresh: bool = False,
                  on_progress=None) -> EvaluationRecord:
        """Ask the judge which answer is better on every held-out row, in both orders (a row
        whose orders disagree is a tie, half a win); answers come from the teacher cache when
        the same question was asked before. Adds `judge` to eval.json (and each row's
        `judge` outcome) and to the model cards; returns the whole evaluation."""
        from generators.pairwise import MemoryCache, hashes, judge_pairs_sync
        from generators.teacher import TeacherError
        from trainer.stats import win_rate

        if teacher is None:
            raise BadInput("the judge needs a teacher: a model and an endpoint (--model, "
                           "--base-url, or OPENAI_MODEL and OPENAI_BASE_URL)")
        result = cast(dict, self.evaluate(run_id))
        run = self.training.run(run_id)
        task = self.reviews.task(run["task"])
        rubric = self.scoring.rubric(task.name)
        rows = [{"id": r["id"], "input": r["input"], "reference": r["reference"],
                 "base": r["base"], "tuned": r["tuned"]} for r in result["rows"]]
        keys = hashes(teacher.model, rows, instruction=task.instruction, rubric=rubric,
                      structured=teacher.structured)
        cache = MemoryCache({} if refresh else self.store.cached_answers(keys))
        try:
            judged = judge_pairs_sync(teacher, rows, instruction=task.instruction,
                                      rubric=rubric, cache=cache, on_progress=on_progress)
        except TeacherError as e:
            raise TeacherFailed(str(e)) from None
        finally:
            if cache.new:
                self.store.save_teacher_calls(cache.new)
        summary = win_rate(judged["wins"], judged["ties"], judged["losses"])
        result["judge"] = {**summary, "failed": judged["failed"], "model": judged["model"],
                           "requests": judged["requests"], "cached": judged["cached"],
                           "tokens_in": judged["tokens_in"], "tokens_out": judged["tokens_out"],
                           "failures": [{"id": r["id"], "error": r["error"]}
                                        for r in judged["rows"] if r["outcome"] == "failed"][:20]}
        outcomes = {r["id"]: r["outcome"] for r in judged["rows"]}
        for row in result["rows"]:
            row["judge"] = outcomes.get(row["id"])
        self._slice(run, result)
        self._save(run, result)
        return cast(EvaluationRecord, result)

    def _save(self, run: RunRow, result: dict) -> None:
        """eval.json and the cards, with the same figures."""
        from trainer.config import TrainConfig
        from trainer.outputs import refresh_cards

        run_dir = Path(run["run_dir"])
        (run_dir / "eval.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        config = TrainConfig.load(run_dir / "config.toml")
        refresh_cards(config, config.path("output_dir", run_dir), result)


def _summary(compared, group: list[dict], labels, min_rows: int = 10) -> dict:
    """One slice's figures, or too_few under `min_rows` rows (as the trainer's slices)."""
    if len(group) < min_rows:
        return {"n": len(group), "too_few": True}
    c = compared(group, labels)
    return {"n": len(group), "base": c["base"], "tuned": c["tuned"], "delta": c["delta"],
            "delta_ci": c["ci"]}
