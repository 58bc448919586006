"""Dedupe: planted exact, paraphrase and unrelated pairs; the canonical rule; families; the
pair search against exact all-pairs; the CLI contract."""

import json

import numpy as np
import pytest

from helpers import BASE, PLANTED
from helpers import TWEET_TASK as TASK
from helpers import load_rows as load


@pytest.fixture
def planted(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    return load(studio, tmp_path, PLANTED)


def test_planted_exact_and_paraphrase_pairs_are_found_and_unrelated_rows_are_not(studio, planted):
    a, exact, para, snow, bakery = planted
    before = {r["id"]: r["status"] for r in studio.list(limit=100)["rows"]}
    r = studio.dedupe(task=TASK)
    assert (r["exact"], r["semantic"], r["clusters"]) == (1, 1, 1)
    got = {p["id"]: p for p in r["pairs"]}
    assert got[exact]["duplicate_of"] == a and got[exact]["kind"] == "exact"
    assert got[para]["duplicate_of"] == a and got[para]["kind"] == "semantic"
    assert 0.95 <= got[para]["similarity"] < 1
    for rid in (snow, bakery):
        row = studio.get(rid)
        assert row["duplicate_of"] is None and row["cluster_id"] is None
    canonical = studio.get(a)
    assert canonical["duplicate_of"] is None and canonical["cluster_id"] == a
    assert studio.get(para)["cluster_id"] == a and studio.get(para)["duplicate_kind"] == "semantic"
    # statuses never change, and the header's duplicate count follows
    assert {r["id"]: r["status"] for r in studio.list(limit=100)["rows"]} == before
    assert studio.stats(TASK)["duplicates"] == 2
    # a stricter threshold keeps the exact pair only, and the run replaces the old marks
    strict = studio.dedupe(task=TASK, threshold=0.999)
    assert (strict["exact"], strict["semantic"]) == (1, 0)
    assert studio.get(para)["duplicate_of"] is None
    assert studio.store.last_dedupe_run(TASK)["threshold"] == 0.999


def test_a_dry_run_counts_without_writing(studio, planted):
    r = studio.dedupe(task=TASK, dry_run=True, histogram=True)
    assert r["dry_run"] and r["exact"] + r["semantic"] == 2 and r["changed"] == 2
    assert studio.stats(TASK)["duplicates"] == 0
    assert studio.store.last_dedupe_run(TASK) is None
    # every row counted once, by its nearest other row: the three copies at 0.95 and up
    hist = r["tasks"][0]["nearest"]
    assert sum(hist["counts"]) == 5
    assert sum(c for b, c in zip(hist["bins"], hist["counts"])
               if not b.startswith("<") and float(b) >= 0.95) == 3


def test_canonical_rule_approved_then_score_then_oldest_and_a_pin_wins(studio, planted):
    a, exact, para, _, _ = planted
    assert studio.dedupe(task=TASK)["pairs"][0]["duplicate_of"] == a  # oldest by default
    studio.store.write_scores(TASK, ["quality"], [(para, "quality", 0.9, None)], ids=[para])
    r = studio.dedupe(task=TASK)
    assert {p["id"] for p in r["pairs"]} == {a, exact}  # the scored row wins
    assert all(p["duplicate_of"] == para for p in r["pairs"])
    studio.review(exact, "approve")  # a human's approval beats any score
    r = studio.dedupe(task=TASK)
    assert {p["id"]: p["duplicate_of"] for p in r["pairs"]} == {a: exact, para: exact}
    studio.review(exact, "reject")  # ... and a rejected row never stays canonical
    r = studio.dedupe(task=TASK)
    assert {p["id"] for p in r["pairs"]} == {a, exact}
    # one click picks another canonical row; the choice survives the next run
    pick = studio.choose_canonical(a)
    assert pick["canonical"] == a
    assert {m["id"]: m["duplicate_of"] for m in pick["members"]} == {a: None, exact: a, para: a}
    assert studio.get(exact)["duplicate_kind"] == "exact"
    assert studio.get(para)["duplicate_kind"] == "semantic"
    r = studio.dedupe(task=TASK)
    assert {p["id"]: p["duplicate_of"] for p in r["pairs"]} == {exact: a, para: a}
    assert studio.get(exact)["status"] == "rejected"  # untouched throughout


def test_a_family_is_not_duplicates_of_itself_and_variants_can_be_capped(studio, minilm,
                                                                       tmp_path):
    studio.use_encoder(minilm)
    (parent,) = load(studio, tmp_path, [PLANTED[0]])
    kids = [BASE.replace("Main Street", "Main St"), BASE.lower().rstrip("."),
            BASE.replace("approved", "approved the"), BASE.replace("long", "really long")]
    studio.store.insert_examples([
        {"task": TASK, "input": k, "output": PLANTED[0][1], "source": "corrupted",
         "parent_id": parent, "content_hash": f"h{i}"} for i, k in enumerate(kids)])
    # a grandchild (a corrupted copy of a teacher row made from the seed) is family too
    kid_ids = [r["id"] for r in studio.list(source="corrupted", limit=10)["rows"]]
    studio.store.insert_examples([{"task": TASK, "input": BASE + " #bikes", "output": "x",
                                   "source": "corrupted", "parent_id": kid_ids[0],
                                   "content_hash": "g"}])
    r = studio.dedupe(task=TASK)
    assert r["exact"] + r["semantic"] + r["variants"] == 0  # all one family

    capped = studio.dedupe(task=TASK, max_variants=2)
    assert capped["variants"] == 2 and capped["exact"] + capped["semantic"] == 0
    kept = [k for k in kid_ids if studio.get(k)["duplicate_of"] is None]
    assert kept == kid_ids[:2]  # the best two (here: the oldest) stay
    for k in kid_ids[2:]:
        row = studio.get(k)
        assert row["duplicate_kind"] == "variant" and row["duplicate_of"] == kid_ids[0]

    # an outsider that repeats the seed is a duplicate, of the seed
    (outsider,) = load(studio, tmp_path, [(BASE + "!", "Another summary.")], "more.jsonl")
    r = studio.dedupe(task=TASK)
    assert [(p["id"], p["duplicate_of"], p["kind"]) for p in r["pairs"]] == [
        (outsider, parent, "exact")]


def test_similar_lists_nearest_inputs_first(studio, planted):
    a, exact, para, snow, bakery = planted
    r = studio.similar(a, k=3)
    assert [n["id"] for n in r["neighbours"]][:2] in ([exact, para], [para, exact])
    sims = [n["similarity"] for n in r["neighbours"]]
    assert sims == sorted(sims, reverse=True) and sims[0] > 0.95 > sims[2]
    assert a not in [n["id"] for n in r["neighbours"]]


def test_cli_contract(cli, studio, minilm, tmp_path):
    ids = load(studio, tmp_path, PLANTED)
    studio.close()
    code, out, err = cli("dedupe", "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"threshold", "dry_run", "exact", "semantic", "clusters", "pairs"} <= set(data)
    assert data["dry_run"] is True and data["threshold"] == 0.95
    assert {tuple(sorted(p)) for p in data["pairs"]} == {
        ("duplicate_of", "id", "kind", "similarity")}
    code, out, _ = cli("stats", "--json")
    assert json.loads(out)["duplicates"] == 0

    code, out, _ = cli("dedupe", "--threshold", "0.9", "--json")
    data = json.loads(out)
    assert code == 0 and not data["dry_run"] and data["clusters"] == 1
    code, out, _ = cli("similar", ids[0], "--k", "2", "--json")
    assert code == 0 and len(json.loads(out)["neighbours"]) == 2
    code, out, _ = cli("clusters", "--json")
    assert json.loads(out)["clusters"][0]["cluster_id"] == ids[0]
    code, out, _ = cli("canonical", ids[2])
    assert code == 0 and f"#{ids[2]} is now the canonical row" in out
    code, _, err = cli("dedupe", "--threshold", "1.5")
    assert code == 1 and "threshold" in err
    code, _, err = cli("similar", "999")
    assert code == 1 and "no example with id 999" in err
    code, _, err = cli("canonical", ids[3])
    assert code == 1 and "in no duplicate cluster" in err


# -- the pair search, on synthetic vectors -----------------------------------------------------

def clustered(n, dim=64, centers=40, planted=0.03, seed=0):
    """Unit vectors around random centres, with near-copies planted at cosine ~0.95-0.995."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, centers, n)] + 0.7 * rng.standard_normal((n, dim)) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    m = int(n * planted)
    src, dst = rng.choice(n, m, replace=False), rng.choice(n, m, replace=False)
    keep = src != dst
    noise = rng.uniform(0.1, 0.3, (keep.sum(), 1)) * rng.standard_normal((keep.sum(), dim))
    x[dst[keep]] = x[src[keep]] + noise / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def pair_set(p):
    return set(zip(p.i.tolist(), p.j.tolist()))


def test_kmeans_pairs_recall_against_exact_all_pairs():
    from studio.curation.neighbours import find_pairs

    x = clustered(4000)
    exact = find_pairs(x, 0.9, method="exact")
    assert len(exact) > 100  # planted pairs, and some natural ones near the centres
    sims = x @ x.T
    truth = {(i, j) for i, j in zip(*np.nonzero(np.triu(sims >= 0.9, 1)))}
    assert pair_set(exact) == truth  # the blocked product misses nothing
    approx = find_pairs(x, 0.9, method="kmeans", cluster_size=200)
    assert approx.clusters == 20
    found = pair_set(approx)
    assert found <= truth  # never a false pair
    assert len(found & truth) / len(truth) >= 0.99
    got = dict(zip(zip(approx.i.tolist(), approx.j.tolist()), approx.sim.tolist()))
    i, j = next(iter(found))
    assert abs(got[(i, j)] - sims[i, j]) < 1e-5


def test_no_two_canonical_rows_duplicate_each_other():
    from studio.curation.dedupe import plan_dedupe

    x = clustered(1500, planted=0.1, seed=3)
    n = len(x)
    rng = np.random.default_rng(1)
    rows = {"id": np.arange(1, n + 1), "parent_id": np.full(n, -1),
            "status": rng.choice(["pending", "approved", "rejected"], n).astype(object),
            "has_output": np.ones(n, bool), "created": rng.integers(0, 10**6, n),
            "score": np.full(n, np.nan), "pinned": np.zeros(n, bool),
            "exact_key": np.array([f"k{i}" for i in range(n)], dtype=object),
            "text_hash": np.array([f"h{i}" for i in range(n)], dtype=object),
            "duplicate_of": np.full(n, -1)}
    plan = plan_dedupe(rows, x, 0.9)
    kept = plan.duplicate_of < 0
    sims = x[kept] @ x[kept].T
    assert not np.any(np.triu(sims >= 0.9, 1))  # no pair survives on both sides
    dup = ~kept
    assert dup.sum() > 50
    # every duplicate points at a canonical row at or above the threshold, never a duplicate
    target = plan.duplicate_of[dup] - 1
    assert np.all(plan.duplicate_of[target] < 0)
    assert np.all(np.einsum("ij,ij->i", x[dup], x[target]) >= 0.9 - 1e-6)
    approved = rows["status"] == "approved"
    # an approved row is only ever a duplicate of another approved row
    assert np.all(approved[target[approved[dup]]])
