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
        result = cast(dict, self.training.evaluate_run(run_id))
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
