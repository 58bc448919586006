"""Curation subcommands: `embed`, `dedupe`, `similar`, `clusters`, `canonical` (arguments only)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from studio.display import shorten
from studio.records import (
    CanonicalChoice,
    ClusterList,
    ClusterRows,
    DedupeResult,
    EmbedResult,
    Similar,
)
from studio.vocabulary import DUPLICATE_THRESHOLD


def add_parsers(cmd) -> None:
    sp = cmd("embed", "embed every input and output not embedded yet, in every task unless --task "
             "(cached per model and text)", task=True)
    sp.add_argument("--model", help="sentence-transformers id or folder (default: the store's "
                    "model, $SFT_STUDIO_EMBED_MODEL, or all-MiniLM-L6-v2 from its package)")

    sp = cmd("dedupe", "mark exact and near-duplicate rows in every task (each on its own) unless "
             "--task; statuses never change, export and training skip duplicates", task=True)
    sp.add_argument("--threshold", type=float, default=DUPLICATE_THRESHOLD,
                    help="cosine at or above which two inputs are duplicates "
                         f"(default {DUPLICATE_THRESHOLD})")
    sp.add_argument("--max-variants", type=int, metavar="K",
                    help="keep at most K generated or corrupted variants per parent")
    sp.add_argument("--dry-run", action="store_true", help="count and list, write nothing")
    sp.add_argument("--model", help="embedding model (default: the store's)")
    sp.add_argument("--method", choices=["auto", "exact", "kmeans"], default="auto",
                    help="all-pairs, or k-means buckets for large sets (default auto)")

    sp = cmd("similar", "the examples whose inputs are nearest to one example's")
    sp.add_argument("id", type=int)
    sp.add_argument("--k", type=int, default=10, help="how many (default 10)")
    sp.add_argument("--model", help="embedding model (default: the store's)")

    sp = cmd("clusters", "duplicate clusters, biggest first (or one cluster's rows)", task=True)
    sp.add_argument("cluster", type=int, nargs="?", help="a cluster id: list its rows")
    sp.add_argument("--limit", type=int, default=50)

    sp = cmd("canonical", "make an example its cluster's canonical row (kept by later dedupes)")
    sp.add_argument("id", type=int)


@contextmanager
def _bar(desc: str, unit: str):
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit=unit, file=sys.stderr, disable=None, mininterval=0.3)

    def update(done, total):
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _embed(s, a) -> tuple[EmbedResult, str]:
    with _bar("embedding", "text") as progress:
        r = s.embed(model=a.model, task=a.task,
                    on_progress=progress)
    how = f" ({r['device']}, {r['precision']})" if r["embedded"] else ""
    return r, (f"{r['model']}: embedded {r['embedded']} new texts in {r['seconds']:.1f}s{how}; "
               + ", ".join(f"{m['name']} holds {m['vectors']} vectors of {m['dim']}"
                           for m in r["cached"]))


def _dedupe(s, a) -> tuple[DedupeResult, str]:
    with _bar("embedding", "text") as progress:
        s.embed(model=a.model, task=a.task, on_progress=progress)
    with _bar("comparing", "block") as progress:
        r = s.dedupe(task=a.task, threshold=a.threshold,
                     max_variants=a.max_variants, dry_run=a.dry_run, model=a.model,
                     method=a.method, on_progress=progress)
    verb = "would mark" if a.dry_run else "marked"
    dups = r["exact"] + r["semantic"] + r["variants"]
    lines = [f"{verb} {dups} of {r['rows']} rows as duplicates in {r['clusters']} clusters "
             f"(cosine >= {r['threshold']}): {r['exact']} exact, {r['semantic']} semantic, "
             f"{r['variants']} variants over the cap; {r['changed']} rows change"]
    for p in r["pairs"][:20]:
        lines.append(f"  #{p['id']} duplicates #{p['duplicate_of']} ({p['kind']}, "
                     f"cosine {p['similarity']:.3f})")
    if len(r["pairs"]) > 20:
        lines.append(f"  ... and {len(r['pairs']) - 20} more (--json lists all)")
    return r, "\n".join(lines)


def _similar(s, a) -> tuple[Similar, str]:
    r = s.similar(a.id, k=a.k, model=a.model)
    lines = [f"nearest to #{a.id} ({r['model']}):"]
    for n in r["neighbours"]:
        dup = f" dup of #{n['duplicate_of']}" if n["duplicate_of"] is not None else ""
        lines.append(f"  {n['similarity']:.3f}  #{n['id']:<6} {n['status']:<8}{dup}  "
                     f"{shorten(n['input'], 70)}")
    return r, "\n".join(lines)


def _clusters(s, a) -> tuple[ClusterList | ClusterRows, str]:
    if a.cluster is not None:
        rows = s.cluster(a.cluster)
        role = ["canonical" if r["duplicate_of"] is None else r["duplicate_kind"] for r in rows]
        return {"cluster_id": a.cluster, "rows": rows}, "\n".join(
            f"  #{r['id']:<6} {k:<9} "
            f"{'' if r['similarity'] is None else format(r['similarity'], '.3f'):>5}  "
            f"{r['status']:<8} {shorten(r['input'], 70)}" for r, k in zip(rows, role))
    r = s.clusters(task=a.task, limit=a.limit)
    lines = [f"{r['total']} clusters"] + [
        f"  cluster {c['cluster_id']:<6} {c['size']} rows ({c['kinds']}), canonical: "
        f"{shorten(c['canonical_input'], 60)}" for c in r["clusters"]]
    return r, "\n".join(lines)


def _canonical(s, a) -> tuple[CanonicalChoice, str]:
    r = s.choose_canonical(a.id)
    return r, (f"#{a.id} is now the canonical row of its cluster; "
               f"{len(r['members']) - 1} rows point at it")


COMMANDS = {"embed": _embed, "dedupe": _dedupe, "similar": _similar, "clusters": _clusters,
            "canonical": _canonical}
