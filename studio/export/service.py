"""The Studio's export verbs: plan (the preview), export (write exactly the plan), push.

The preview is the export: `export_plan` decides every row's split and record, the checks and the
card; `export` writes that plan, and refuses when the data changed since a preview it was given
(`expect=plan.fingerprint`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from studio.curation.service import Curation
from studio.errors import BadInput, Conflict
from studio.export import FORMATS, LICENSES, PII_MODES, SCHEMAS, TEST_FROM
from studio.export import card as cards
from studio.export import pii as pii_scan
from studio.export.records import canonical, features, record, record_hash
from studio.export.splits import SPLITS, assign, cross_split, group_rows, parse_ratios
from studio.export.writer import render, sha256, split_glob, write
from studio.records import ExportRecord, ExportSummary, PushResult
from studio.reviews.service import Reviews
from studio.scoring.service import Scoring
from studio.settings import Settings
from studio.store import Store


@dataclass
class ExportPlan:
    """Everything an export writes, decided: options, each row's split and record, checks."""

    task: str
    options: dict
    ids: list[int]
    splits: list[str]
    records: list[dict]
    hashes: list[str]
    checks: dict
    counts: dict
    moved: list[dict]
    card: str
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes, README too
    fingerprint: str = field(default="")

    def by_split(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {s: [] for s in SPLITS}
        for split, rec in zip(self.splits, self.records):
            out[split].append(rec)
        return out

    def manifest(self) -> list[tuple[int, str, str]]:
        return list(zip(self.ids, self.splits, self.hashes))

    def summary(self) -> dict:
        return {"task": self.task, "options": self.options, "counts": self.counts,
                "checks": self.checks, "moved": self.moved, "fingerprint": self.fingerprint}


def check_options(o: dict) -> dict:
    if o["schema"] not in SCHEMAS:
        raise BadInput(f"unknown schema {o['schema']!r}; use {', '.join(SCHEMAS)}")
    if o["format"] not in FORMATS:
        raise BadInput(f"unknown format {o['format']!r}; use {', '.join(FORMATS)}")
    if o["pii"] not in PII_MODES:
        raise BadInput(f"unknown personal-data mode {o['pii']!r}; use mask, drop or keep")
    if o["test_from"] not in TEST_FROM:
        raise BadInput(f"test rows come from 'real' (imported rows first) or 'any', "
                       f"got {o['test_from']!r}")
    if o["license"] not in LICENSES:
        raise BadInput(f"unknown license {o['license']!r}; use one of "
                       f"{', '.join(LICENSES)}")
    langs = [x.strip().lower() for x in str(o["language"]).split(",") if x.strip()]
    if not langs or any(not x.replace("-", "").isalpha() or len(x) > 12 for x in langs):
        raise BadInput(f"language is one or more codes like en or en,fr; got {o['language']!r}")
    return dict(o, splits=list(parse_ratios(o["splits"])), seed=int(o["seed"]), language=langs)


class Exports:
    """Export plans, exports and pushes: built on the store, the settings, Reviews (task
    lookup), Curation (vectors for the leakage check) and Scoring (agreement, for the card)."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews, curation: Curation,
                 scoring: Scoring):
        self.store, self.settings = store, settings
        self.reviews, self.curation, self.scoring = reviews, curation, scoring

    def export_plan(self, *, task: str | None = None, splits="0.8,0.1,0.1", seed: int = 0,
                    schema: str = "messages", fmt: str = "hf", pii: str = "mask",
                    license: str = "apache-2.0", language: str = "en", test_from: str = "real",
                    stratify: bool | None = None, link_similar: bool = True,
                    on_progress=None) -> ExportPlan:
        """Decide an export without writing anything: the rows that leave, their splits and
        records, the leakage and personal-data checks, and the card."""
        import numpy as np

        from studio.curation.dedupe import families

        t = self.reviews.task(task)
        stratify = bool(t.labels) if stratify is None else stratify
        if stratify and not t.labels:
            raise BadInput(f"task {t.name!r} has no labels to stratify by")
        opts = check_options({"splits": splits, "seed": seed, "schema": schema, "format": fmt,
                              "pii": pii, "license": license, "language": language,
                              "test_from": test_from, "stratify": stratify})
        rows, pii_report = pii_scan.apply(self.store.export_rows(t.name), opts["pii"])
        ids = np.array([r["id"] for r in rows], np.int64)
        all_ids, parents = self.store.lineage(t.name)
        family_of = dict(zip(all_ids.tolist(), families(all_ids, parents).tolist()))
        family = np.array([family_of[i] for i in ids.tolist()], np.int64)
        cluster = np.array([r["cluster_id"] if r["cluster_id"] is not None else -1
                            for r in rows], np.int64)
        exact = np.array([r["exact_key"] for r in rows], dtype=object)
        pairs, leakage = self._similar_pairs(t.name, ids, on_progress)
        links = (pairs[0], pairs[1]) if link_similar else (pairs[0][:0], pairs[1][:0])
        group = group_rows(family, cluster, exact, links)
        real = np.array([r["source"] == "imported" for r in rows], bool)
        strata = np.array([r["output"] for r in rows], dtype=object) if stratify else None
        split = assign(group, real, tuple(opts["splits"]), opts["seed"],
                       test_from=opts["test_from"], strata=strata)
        cross = cross_split(pairs[0], pairs[1], split)
        leakage["cross_split"] = int(len(cross))
        leakage["pairs"] = [{"a": int(ids[pairs[0][k]]), "b": int(ids[pairs[1][k]]),
                             "similarity": round(float(pairs[2][k]), 4)} for k in cross[:20]]
        order = sorted(range(len(rows)), key=lambda k: (SPLITS.index(split[k]), ids[k]))
        records = [record(opts["schema"], t.instruction, rows[k]) for k in order]
        counts = {"splits": {s: int((split == s).sum()) for s in SPLITS},
                  "left_out": self.store.left_out(t.name),
                  "sources": dict(Counter(r["source"] for r in rows)),
                  "groups": int(len(np.unique(group)))}
        moved = [{"id": int(ids[k]), "from": rows[k]["split"], "to": split[k]}
                 for k in range(len(rows)) if rows[k]["split"] not in (None, split[k])]
        plan = ExportPlan(t.name, opts, [int(ids[k]) for k in order], [split[k] for k in order],
                          records, [record_hash(r) for r in records],
                          {"leakage": leakage, "pii": pii_report}, counts, moved, "")
        plan.files, sizes = render(opts["format"], opts["schema"], plan.by_split())
        plan.card = cards.render(self._card_info(t, plan, rows) | {"sizes": sizes})
        plan.files["README.md"] = plan.card.encode()
        plan.fingerprint = hashlib.sha256(canonical(
            {"options": opts, "manifest": plan.manifest(), "card": plan.card}).encode()
        ).hexdigest()
        return plan

    def _similar_pairs(self, task: str, ids, on_progress):
        """Pairs of exported rows whose inputs are at cosine >= the dedupe threshold (the last
        dedupe run's, else the default), as (i, j, similarity) positions into `ids`."""
        import numpy as np

        from studio.curation.neighbours import find_pairs
        from studio.vocabulary import DUPLICATE_THRESHOLD

        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        run = self.store.last_dedupe_run(task)
        threshold = run["threshold"] if run else DUPLICATE_THRESHOLD
        if len(ids) < 2:
            return empty, {"checked": True, "threshold": threshold, "cross_split": 0,
                           "model": self.curation.embedding_model(), "pairs": []}
        model = self.curation.embed(task=task, on_progress=on_progress)["model"]
        have, vectors = self.store.example_vectors(model, task, ids.tolist())
        pos = np.searchsorted(ids, have)
        found = find_pairs(vectors, threshold, on_progress=on_progress)
        pairs = (pos[found.i], pos[found.j], found.sim)
        return pairs, {"checked": True, "threshold": threshold, "model": model,
                       "cross_split": 0, "pairs": [], "rows_without_vectors":
                       int(len(ids) - len(have))}

    def _card_info(self, t, plan: ExportPlan, rows: list[dict]) -> dict:
        from studio import __version__

        teachers: Counter = Counter()
        recipes: Counter = Counter()
        profiles: Counter = Counter()
        for r in rows:
            m = r["meta"]
            by = m.get("output_by") or (m if r["source"] == "teacher" else {})
            if by.get("model"):
                teachers[by["model"]] += 1
            if by.get("recipe"):
                recipes[by["recipe"]] += 1
            if r["source"] == "corrupted" and m.get("profile"):
                profiles[m["profile"]] += 1
        quality = [r["quality"] for r in rows if r["quality"] is not None]
        o = plan.options
        return {"task": t.to_dict(), "license": o["license"], "language": o["language"],
                "schema": o["schema"], "seed": o["seed"], "ratios": o["splits"],
                "test_from": o["test_from"], "stratified": o["stratify"],
                "splits": plan.counts["splits"], "sources": plan.counts["sources"],
                "globs": {s: split_glob(o["format"], s) for s in SPLITS},
                "features": None if o["format"] == "csv" else features(o["schema"]),
                "teachers": dict(sorted(teachers.items())),
                "recipes": dict(sorted(recipes.items())),
                "profiles": dict(sorted(profiles.items())),
                "left_out": plan.counts["left_out"], "dedupe": self.store.last_dedupe_run(t.name),
                "reviews": self.store.review_stats(t.name),
                "edited": len(self.store.edited_ids(plan.ids)) if plan.ids else 0,
                "quality": sum(quality) / len(quality) if quality else None,
                "agreement": self.scoring.agreement(task=t.name)["judge"],
                "leakage": plan.checks["leakage"], "pii": plan.checks["pii"],
                "version": __version__}

    def export(self, out_dir: str | Path, *, expect: str | None = None, dry_run: bool = False,
               **options) -> ExportSummary:
        """Write the plan to `out_dir` (unless a dry run) and record it with its manifest."""
        plan = self.export_plan(**options)
        if expect is not None and plan.fingerprint != expect:
            raise Conflict("the rows or options changed since the preview; preview again and "
                           "check it before exporting")
        out_dir = Path(out_dir).resolve()
        result = plan.summary() | {"out_dir": str(out_dir), "dry_run": dry_run}
        fmt, schema = plan.options["format"], plan.options["schema"]
        if sum(plan.counts["splits"].values()) == 0:
            raise Conflict(f"nothing to export: task {plan.task!r} has no approved rows with an "
                           f"output that are not duplicates ({plan.counts['left_out']})")
        files = plan.files
        hashes = {path: sha256(data) for path, data in sorted(files.items())}
        result["files"] = {p: {"bytes": len(files[p]), "sha256": h} for p, h in hashes.items()}
        if dry_run:
            return cast(ExportSummary, result)
        previous = self.store.last_export_to(str(out_dir))
        write(out_dir, files)
        export_id = self.store.record_export(
            {"task": plan.task, "out_dir": str(out_dir), "format": fmt, "schema": schema,
             "options": plan.options, "counts": plan.counts, "checks": plan.checks,
             "files": hashes, "fingerprint": plan.fingerprint, "card": plan.card},
            plan.manifest())
        self.store.set_splits(dict(zip(plan.ids, plan.splits)))
        result.update(export_id=export_id,
                      unchanged=bool(previous and previous["files"] == hashes))
        return cast(ExportSummary, result)

    def exports(self, task: str | None = None, limit: int = 50) -> list[ExportRecord]:
        if task:
            self.reviews.task(task)
        return self.store.exports(task, limit)

    def push(self, repo_id: str, *, folder: str | Path | None = None, token: str | None = None,
             private: bool = True, dry_run: bool = False) -> PushResult:
        """Push an export folder (default: the newest export) to a Hub dataset repo. The token
        is the one given (the app's session) or $HF_TOKEN; it is never stored."""
        from studio.export import hub

        repo_id = hub.check_repo_id(repo_id)
        if folder is None:
            newest = self.store.exports(limit=1)
            if not newest:
                raise BadInput("nothing exported yet: run export first or give the folder")
            folder = newest[0]["out_dir"]
        folder = Path(folder).resolve()
        if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
            raise BadInput(f"{folder} is not an export folder (README.md and data/ expected)")
        export = self.store.last_export_to(str(folder))
        files = hub.folder_files(folder)
        recorded = export["files"] if export else {}
        changed = sorted(p for p, h in recorded.items()
                         if not (folder / p).is_file() or sha256((folder / p).read_bytes()) != h)
        out = PushResult(repo_id=repo_id, folder=str(folder), private=private, dry_run=dry_run,
                         export_id=export["id"] if export else None, files=files,
                         delete_patterns=hub.DELETE_PATTERNS, changed_since_export=changed,
                         url=None, commit_url=None)
        if dry_run:
            return out
        token = token or os.environ.get("HF_TOKEN")
        if not token:
            raise BadInput("no Hugging Face token: set HF_TOKEN (or type one in the Export tab)")
        sent = hub.push(folder, repo_id, token, private=private,
                        endpoint=self.settings.hub_endpoint)
        self.store.record_push(export["id"] if export else None, str(folder), repo_id, private,
                               sent["url"],
                               sent["commit_url"])
        return {**out, "url": sent["url"], "commit_url": sent["commit_url"]}
