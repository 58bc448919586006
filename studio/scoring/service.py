"""The Studio's scoring verbs: score, judge, agreement, auto-review and its undo, the review
order by uncertainty, histograms and the 2D map."""

from __future__ import annotations

import time

from studio.curation.service import Curation
from studio.errors import BadInput, Conflict, TeacherFailed
from studio.records import Agreement, AutoResult, AutoUndone, ScoreLine, ScoreResult, ScoreSummary
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store

FLUSH_EVERY = 100  # judgements made durable in batches of this many


class Scoring:
    """Scores, the judge, agreement and auto-review: built on the store, the settings, Reviews
    (task lookup, rows, counts, undo) and Curation (embeddings)."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews, curation: Curation):
        self.store, self.settings = store, settings
        self.reviews, self.curation = reviews, curation

    # -- scores ----------------------------------------------------------------------------

    def score(self, *, task: str | None = None, model: str | None = None, judge: bool = False,
              teacher=None, rubric: str | None = None, on_progress=None,
              refresh: bool = False) -> ScoreResult:
        """Compute the task's heuristics, faithfulness and novelty (embedding what is missing),
        optionally ask the judge, and recombine quality. Every run replaces the computed scores;
        judge ratings stay until the judge is asked again."""
        from studio.curation.neighbours import nearest_other
        from studio.scoring.scores import COMPUTED, compute

        t = self.reviews.task(task)
        start = time.perf_counter()
        name = self.curation.embed(model=model, task=t.name, on_progress=on_progress)["model"]
        rows = self.store.score_inputs(t.name)
        computed = compute(rows, t.labels,
                           self.store.example_vectors(name, t.name, column="input"),
                           self.store.example_vectors(name, t.name, column="output"),
                           nearest_other)
        with self.store.transaction():
            self.store.write_scores(t.name, list(COMPUTED), computed)
            self._recombine(t.name)
        judged = self.judge(teacher, task=t.name, rubric=rubric, on_progress=on_progress,
                            refresh=refresh) if judge else None
        return ScoreResult(**self.score_summary(t.name), model=name, judge=judged,
                           seconds=round(time.perf_counter() - start, 3))

    def _recombine(self, task: str, ids: list[int] | None = None) -> None:
        from studio.scoring.scores import combine

        parts = self.store.task_scores(task, ["heuristics", "faithfulness", "judge"])
        if ids is not None:
            parts = {i: parts[i] for i in ids if i in parts}
        self.store.write_scores(task, ["quality"], combine(parts), ids=ids)

    def score_summary(self, task: str | None = None) -> ScoreSummary:
        """Counts of scored and flagged rows, means, and each score's histogram."""
        from studio.scoring.scores import CHECKS

        t = self.reviews.task(task)
        counts = self.store.score_counts(t.name)
        flagged = self.store.flag_counts(t.name, list(CHECKS))
        out = ScoreSummary(task=t.name, rows=self.reviews.stats(t.name)["total"],
                           scored=counts.get("heuristics", 0), flagged=flagged, means={},
                           histograms={}, judged=counts.get("judge", 0),
                           judge_failures=self.store.judge_failures(t.name))
        for name in ("quality", "heuristics", "faithfulness", "novelty", "judge"):
            values = self.store.score_values(t.name, name)
            if len(values):
                out["means"][name] = round(float(values.mean()), 4)
                out["histograms"][name] = _histogram(name, values)
        return out

    def score_histogram(self, task: str, name: str) -> dict | None:
        """One score's histogram over the task's non-duplicate rows (None if none has it)."""
        values = self.store.score_values(self.reviews.task(task).name, name)
        return _histogram(name, values) if len(values) else None

    def explain_scores(self, example_id: int) -> list[ScoreLine]:
        from studio.scoring.scores import explain

        self.reviews.get(example_id)
        return explain(self.store.score_details(example_id))

    # -- the judge -------------------------------------------------------------------------

    def rubric(self, task: str | None = None) -> str:
        from generators.judge import rubric_for

        name = self.reviews.task(task).name
        return self.store.get_setting("judge_rubrics", {}).get(name) or rubric_for(name)

    def set_rubric(self, task: str, text: str | None) -> str:
        """Keep the task's rubric (None or blank: back to the built-in one)."""
        from generators.judge import rubric_for

        name = self.reviews.task(task).name
        rubrics = self.store.get_setting("judge_rubrics", {})
        if text and text.strip() and text.strip() != rubric_for(name).strip():
            if len(text) > 8000:
                raise BadInput(f"the rubric is {len(text)} characters; keep it under 8,000")
            rubrics[name] = text.strip()
        else:
            rubrics.pop(name, None)
        self.store.set_setting("judge_rubrics", rubrics)
        return self.rubric(name)

    def judge(self, teacher, *, task: str | None = None, rubric: str | None = None,
              ids: list[int] | None = None, on_progress=None, refresh: bool = False) -> dict:
        """Ask the teacher to rate each complete, non-duplicate row 1-5 against the rubric.
        Answers come from the cache when the same question was asked before; an unreadable
        answer is recorded as a failure (no rating). Quality is recombined as ratings land."""
        from generators import judge as J
        from generators.teacher import Teacher, TeacherError, run_sync

        if teacher is None:
            raise BadInput("the judge needs a teacher: a model and an endpoint (--model, "
                           "--base-url, or OPENAI_MODEL and OPENAI_BASE_URL)")
        t = self.reviews.task(task)
        if rubric is not None:
            self.set_rubric(t.name, rubric)
        text = self.rubric(t.name)
        asks = [(r["id"], J.messages(t, text, r["input"], r["output"]))
                for r in self.store.judge_rows(t.name, ids)]
        hashes = [J.judge_hash(teacher.model, m, teacher.structured) for _, m in asks]
        cache = {} if refresh else self.store.cached_answers(hashes)
        tally = {"judged": 0, "cached": 0, "failed": 0, "requests": 0, "tokens_in": 0,
                 "tokens_out": 0}
        pending: list = []

        def flush():
            done = pending[:]
            pending.clear()
            with self.store.transaction():
                self.store.save_teacher_calls([v.call for v in done if v.call])
                self.store.write_scores(t.name, ["judge"], [
                    (v.idx, "judge", v.rating, v.reason) for v in done],
                    ids=[v.idx for v in done])
                self._recombine(t.name, [v.idx for v in done])

        reasons: list = []

        def on_verdict(v):
            pending.append(v)
            if v.rating is None and not reasons:
                reasons.append(v)
            tally["cached"] += v.cached
            tally["requests"] += v.sent
            tally["judged" if v.rating is not None else "failed"] += 1
            tally["tokens_in"] += v.tokens[0]
            tally["tokens_out"] += v.tokens[1]
            if len(pending) >= FLUSH_EVERY:
                flush()
            if on_progress:
                on_progress(tally["judged"] + tally["failed"], len(asks))

        seen: dict = {}

        async def go():
            async with Teacher(teacher) as client:
                try:
                    await J.judge_all(client, asks, cache=cache, concurrency=teacher.concurrency,
                                      on_verdict=on_verdict, refresh=refresh)
                finally:
                    seen.update(structured=client.formats(), dropped=client.dropped())
        error = None
        try:
            run_sync(go())
        except TeacherError as e:
            error = e.reason
        finally:
            flush()
        if error:
            raise TeacherFailed(f"the judge stopped: {error} ({tally['judged']} rated, "
                                f"{tally['failed']} failed before it stopped; they are kept)")
        failures = self.store.judge_failures(t.name, 5)
        if asks and not tally["judged"]:
            first = next((v.reason for v in reasons if v.rating is None), "no reason recorded")
            raise TeacherFailed(f"the judge rated none of {len(asks)} rows; the first reason: "
                                f"{first}")
        return dict(tally, rows=len(asks), model=teacher.model,
                    cost_usd=round(teacher.cost(tally["tokens_in"], tally["tokens_out"]), 6),
                    failures=failures, **seen)

    def agreement(self, *, task: str | None = None, cut: int = 4) -> Agreement:
        """How the judge's ratings (and the quality score at the current thresholds) agree with
        the decisions people made: Cohen's kappa, the confusion table."""
        from studio.scoring.agreement import agreement

        if cut not in range(2, 6):
            raise BadInput(f"the cut is the lowest rating that counts as approve: 2-5, got {cut}")
        t = self.reviews.task(task)
        decided = self.store.human_decisions(t.name)
        scores: dict = self.store.task_scores(t.name, ["judge", "quality"])
        judged = [(int(scores[i]["judge"]), d) for i, d in decided.items()
                  if scores.get(i, {}).get("judge") is not None]
        lo, hi = self.thresholds(t.name)
        scored = [(5 if scores[i]["quality"] >= hi else 1, d) for i, d in decided.items()
                  if scores.get(i, {}).get("quality") is not None]
        q = agreement(scored, 5)
        quality = {k: q[k] for k in ("n", "kappa", "agreement", "verdict", "table")}
        return Agreement(task=t.name, decided=len(decided), judge=agreement(judged, cut),
                         quality={**quality, "approve_above": hi})

    # -- auto-review -----------------------------------------------------------------------

    def thresholds(self, task: str | None = None) -> tuple[float, float]:
        from studio.scoring.scores import DEFAULT_THRESHOLDS

        saved = self.store.get_setting("auto_thresholds", {}).get(self.reviews.task(task).name)
        return tuple(saved) if saved else DEFAULT_THRESHOLDS

    def set_thresholds(self, task: str, reject_below: float, approve_above: float) -> None:
        _check_thresholds(reject_below, approve_above)
        saved = self.store.get_setting("auto_thresholds", {})
        saved[self.reviews.task(task).name] = [float(reject_below), float(approve_above)]
        self.store.set_setting("auto_thresholds", saved)

    def auto(self, *, task: str | None = None, approve_above: float | None = None,
             reject_below: float | None = None, dry_run: bool = False,
             reviewer: str | None = None) -> AutoResult:
        """Approve pending rows with quality >= approve_above and reject those below
        reject_below, as one batch that undo_auto reverts. Only pending, complete,
        non-duplicate, scored rows are touched; a dry run counts and writes nothing."""
        from studio.store import AUTO_PREFIX

        if approve_above is None and reject_below is None:
            raise BadInput("say what to decide: --approve-above X and/or --reject-below Y")
        t = self.reviews.task(task)
        _check_thresholds(reject_below if reject_below is not None else 0.0,
                          approve_above if approve_above is not None else 1.0)
        c = self.store.auto_candidates(t.name)
        approve: list = (c["id"][c["quality"] >= approve_above].tolist()
                         if approve_above is not None else [])
        reject: list = (c["id"][c["quality"] < reject_below].tolist()
                        if reject_below is not None else [])
        out = AutoResult(task=t.name, dry_run=dry_run, approve_above=approve_above,
                         reject_below=reject_below, approve=len(approve), reject=len(reject),
                         left_for_review=len(c["id"]) - len(approve) - len(reject),
                         unscored_pending=self.store.pending_unscored(t.name), batch_id=None,
                         approve_ids=[int(i) for i in approve],
                         reject_ids=[int(i) for i in reject])
        if dry_run or not (len(approve) or len(reject)):
            return out
        who = AUTO_PREFIX + (reviewer or self.settings.reviewer)
        self.set_thresholds(t.name, reject_below if reject_below is not None else 0.0,
                            approve_above if approve_above is not None else 1.0)
        out["batch_id"] = self.store.set_statuses(
            [(int(i), "pending", "approved") for i in approve]
            + [(int(i), "pending", "rejected") for i in reject], who)
        return out

    def undo_auto(self, *, task: str | None = None, reviewer: str | None = None) -> AutoUndone:
        """Revert the task's newest auto-review batch, whole."""
        t = self.reviews.task(task)
        with self.store.transaction():
            actions = self.store.last_auto_batch(t.name)
            if not actions:
                raise Conflict(f"no auto-review batch of task {t.name} to undo")
            self.reviews.revert(actions, reviewer or self.settings.reviewer)
        return {"undone": "auto", "batch_id": actions[0]["batch_id"],
                "example_ids": sorted(a["example_id"] for a in actions)}

    # -- the review order and the map ------------------------------------------------------

    def map_points(self, *, task: str | None = None, limit: int = 2000,
                   model: str | None = None) -> dict:
        """A 2D map of the task's inputs (PCA of their vectors), at most `limit` points (a
        seeded sample beyond that), with what the map can be coloured by."""
        import numpy as np

        t = self.reviews.task(task)
        name = self.curation.embedding_model(model)
        ids, x = self.store.example_vectors(name, t.name)
        total = len(ids)
        if total > limit:
            keep = np.sort(np.random.default_rng(0).choice(total, limit, replace=False))
            ids, x = ids[keep], x[keep]
        if len(ids) < 2:
            return {"task": t.name, "model": name, "total": total, "points": []}
        centred = x - x.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ vt[:2].T
        explained = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-12))
        rows = {r["id"]: r for r in self.store.map_rows(t.name, ids.tolist())}
        points = [dict(rows[int(i)], x=round(float(a), 5), y=round(float(b), 5))
                  for i, (a, b) in zip(ids, xy) if int(i) in rows]
        return {"task": t.name, "model": name, "total": total, "points": points,
                "explained": round(explained, 4)}


def _histogram(name: str, values) -> dict:
    from studio.scoring.scores import histogram

    if name == "judge":
        return histogram(values, 0.5, 5.5, 5)
    return histogram(values, -0.2 if name == "faithfulness" else 0.0)


def _check_thresholds(reject_below: float, approve_above: float) -> None:
    for v in (reject_below, approve_above):
        if not 0.0 <= v <= 1.0:
            raise BadInput(f"thresholds are quality scores between 0 and 1, got {v}")
    if reject_below > approve_above:
        raise BadInput(f"reject below ({reject_below}) must not be above approve above "
                       f"({approve_above})")
