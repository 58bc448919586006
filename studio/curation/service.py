"""The Studio's curation verbs: embed, dedupe, similar, choose a canonical row."""

from __future__ import annotations

import threading
from typing import cast

from studio.errors import BadInput, Conflict, NotFound
from studio.records import (
    CanonicalChoice,
    ClusterList,
    ClusterMember,
    DedupeResult,
    EmbedResult,
    Similar,
    TaskDedupe,
)
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store
from studio.vocabulary import DUPLICATE_THRESHOLD


class Curation:
    """Embeddings, dedupe and neighbours: built on the store, the settings and Reviews (task
    lookup, rows); it keeps the embedding models this process loaded."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews):
        self.store, self.settings, self.reviews = store, settings, reviews
        self._encoders: dict = {}  # embedding models loaded by this process, by name
        self._encoders_lock = threading.Lock()

    _encoders: dict
    _encoders_lock: threading.Lock

    def embedding_model(self, model: str | None = None) -> str:
        """The model to use: the one given, else $SFT_STUDIO_EMBED_MODEL, else the last one
        this store embedded with, else all-MiniLM-L6-v2."""
        from studio.curation.embed import resolve_model

        chosen = (model or self.settings.embed_model
                  or self.store.get_setting("embedding_model"))
        return resolve_model(chosen)[0]

    def encoder(self, model: str | None = None):
        """The loaded model, kept for the life of this Studio (loading takes seconds)."""
        from studio.curation.embed import Encoder

        name = self.embedding_model(model)
        with self._encoders_lock:
            if name not in self._encoders:
                self._encoders[name] = Encoder(model or name, cache_dir=self.settings.cache_dir)
            return self._encoders[name]

    def use_encoder(self, encoder) -> None:
        """Use an Encoder loaded elsewhere (one model shared by several Studios of a process)."""
        with self._encoders_lock:
            self._encoders[encoder.name] = encoder

    def embed(self, *, model: str | None = None, task: str | None = None,
              on_progress=None) -> EmbedResult:
        """Embed every input and output with no cached vector for the model (one task's, or all).
        The model becomes this store's embedding model."""
        from studio.curation.embed import embed_missing

        if task:
            self.reviews.task(task)
        name = self.embedding_model(model)
        result = embed_missing(self.store, name, lambda: self.encoder(model or name), task=task,
                               on_progress=on_progress)
        self.store.set_setting("embedding_model", name)
        result["cached"] = self.store.embedding_models()
        return cast(EmbedResult, result)

    def dedupe(self, *, task: str | None = None, threshold: float = DUPLICATE_THRESHOLD,
               max_variants: int | None = None, dry_run: bool = False, model: str | None = None,
               method: str = "auto", histogram: bool = False, on_progress=None) -> DedupeResult:
        """Mark duplicates in one task, or in every task (each on its own): embeds what is
        missing first. A dry run computes everything and writes nothing. `histogram` adds, per
        task of up to 20,000 rows, the rows counted by their nearest other-family cosine."""
        from studio.curation.dedupe import run_dedupe

        if not 0.5 <= threshold <= 1.0:
            raise BadInput(f"the threshold is a cosine between 0.5 and 1, got {threshold}")
        if max_variants is not None and max_variants < 1:
            raise BadInput(f"--max-variants must be 1 or more, got {max_variants}")
        if method not in ("auto", "exact", "kmeans"):
            raise BadInput(f"unknown method {method!r}; use auto, exact or kmeans")
        tasks = [self.reviews.task(task).name] if task else [
            t for t, n in self.store.counts()["by_task"].items() if n]
        embedded = self.embed(model=model, task=task, on_progress=on_progress)
        results = [run_dedupe(self.store, t, embedded["model"], threshold,
                              max_variants=max_variants, dry_run=dry_run, method=method,
                              histogram=histogram, on_progress=on_progress) for t in tasks]
        def total(key: str) -> int:
            return sum(r[key] for r in results)

        return DedupeResult(
            threshold=threshold, dry_run=dry_run, model=embedded["model"],
            max_variants=max_variants, embedded=embedded["embedded"], rows=total("rows"),
            exact=total("exact"), semantic=total("semantic"), variants=total("variants"),
            clusters=total("clusters"), changed=total("changed"),
            tasks=[cast(TaskDedupe, {k: v for k, v in r.items() if k != "pairs"})
                   for r in results],
            pairs=[p for r in results for p in r["pairs"]])

    def similar(self, example_id: int, *, k: int = 10, model: str | None = None,
                on_progress=None) -> Similar:
        """The k rows of the same task whose inputs are nearest to this one's (cosine); embeds
        the task's new rows first."""
        from studio.curation.neighbours import top_k

        if k < 1:
            raise BadInput(f"k must be 1 or more, got {k}")
        row = self.reviews.get(example_id)
        name = self.embed(model=model, task=row["task"], on_progress=on_progress)["model"]
        ids, vectors = self.store.example_vectors(name, row["task"])
        at = int((ids == example_id).nonzero()[0][0])
        idx, sims = top_k(vectors, vectors[at], k + 1)
        keep = [(int(ids[i]), float(s)) for i, s in zip(idx, sims) if ids[i] != example_id][:k]
        found = {r["id"]: r for r in self.store.get_examples([i for i, _ in keep])}
        return {"id": example_id, "model": name, "neighbours": [
            {"id": i, "similarity": round(s, 4), "status": found[i]["status"],
             "source": found[i]["source"], "duplicate_of": found[i]["duplicate_of"],
             "input": found[i]["input"], "output": found[i]["output"]} for i, s in keep]}

    def clusters(self, *, task: str | None = None, limit: int = 50, offset: int = 0) -> ClusterList:
        total, rows = self.store.clusters(self.reviews.task(task).name, limit, offset)
        return {"total": total, "clusters": rows, "last_run": self.store.last_dedupe_run(
            self.reviews.task(task).name)}

    def cluster(self, cluster_id: int) -> list[ClusterMember]:
        rows = self.store.cluster_rows(cluster_id)
        if not rows:
            raise NotFound(f"no duplicate cluster {cluster_id}")
        return rows

    def choose_canonical(self, example_id: int, *, reviewer: str | None = None) -> CanonicalChoice:
        """Make a row its cluster's canonical row (kept through later dedupe runs); the others
        become its duplicates. Statuses do not change."""
        import numpy as np

        from studio.curation.dedupe import duplicate_kind

        row = self.reviews.get(example_id)
        if row["cluster_id"] is None:
            raise Conflict(f"example {example_id} is in no duplicate cluster; run dedupe first")
        members = self.cluster(row["cluster_id"])
        name = self.embedding_model()
        ids, vectors = self.store.example_vectors(name, row["task"], [m["id"] for m in members])
        vec = dict(zip(ids.tolist(), vectors))
        keys = self.store.exact_keys([m["id"] for m in members])
        sims, kinds = {}, {}
        for m in members:
            if m["id"] == example_id:
                continue
            sims[m["id"]] = float(np.dot(vec[m["id"]], vec[example_id])) \
                if m["id"] in vec and example_id in vec else None
            kinds[m["id"]] = duplicate_kind(keys[m["id"]] == keys[example_id],
                                            capped=m["duplicate_kind"] == "variant")
        self.store.set_canonical(members, example_id, sims, kinds,
                                 reviewer or self.settings.reviewer)
        return {"cluster_id": example_id, "canonical": example_id,
                "members": self.cluster(example_id)}
