"""Corruption in the studio: stored rows and profiles, and the corrupt / fit-noise / realism CLI."""

import json
import tomllib

import pytest

from helpers import ROOT, write_jsonl
from studio.errors import BadInput, NotFound

PAIRS = ROOT / "sample_data" / "tweet_pairs.jsonl"


def j(result):
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def test_corrupted_rows_link_to_their_parent_and_repeat_nothing(studio):
    studio.import_samples()
    clean = [r for r in studio.list(task="tweet-summary", input_only=False, limit=500)["rows"]
             if r["input_style"] == "clean"]
    r = studio.corrupt(task="tweet-summary", profile="sms", variants=3, seed=5)
    assert r["created"] + r["unchanged"] + r["repeated"] == 3 * len(clean)
    assert r["created"] > len(clean)
    rows = [studio.get(i) for i in r["ids"]]
    by_id = {c["id"]: c for c in clean}
    for row in rows:
        parent = by_id[row["parent_id"]]
        assert row["source"] == "corrupted" and row["status"] == "pending"
        assert row["output"] == parent["output"] and row["input"] != parent["input"]
        assert row["meta"]["profile"] == "sms" and row["meta"]["seed"] in (5, 6, 7)
        assert row["meta"]["ops"] and all(v > 0 for v in row["meta"]["ops"].values())
    again = studio.corrupt(task="tweet-summary", profile="sms", variants=3, seed=5)
    assert again["created"] == 0 and again["repeated"] == r["created"]
    # corrupted rows are never corrupted again, and a dry run stores nothing
    dry = studio.corrupt(task="tweet-summary", profile="sms", seed=99, dry_run=True)
    assert dry["parents"] == len(clean) and dry["ids"] == []
    assert studio.stats("tweet-summary")["by_source"]["corrupted"] == r["created"]


def test_corrupt_says_what_is_wrong(studio, tmp_path):
    with pytest.raises(NotFound, match="no complete rows with a clean input to corrupt in task "
                       "'sentiment'"):
        studio.corrupt(task="sentiment")
    studio.import_samples()
    with pytest.raises(BadInput, match="neither a built-in profile"):
        studio.corrupt(task="sentiment", profile="nope")
    with pytest.raises(BadInput, match="variants must be between 1 and 100"):
        studio.corrupt(task="sentiment", variants=0)
    bad = tmp_path / "bad.toml"
    bad.write_text("typo = 7\n")
    with pytest.raises(BadInput, match="typo must be between 0 and 1"):
        studio.corrupt(task="sentiment", profile=str(bad))
    assert studio.stats()["by_source"]["corrupted"] == 0


def test_an_edited_builtin_is_stored_under_a_name_of_its_own(studio):
    studio.import_samples()
    edited = studio.noise_profile("tweet").with_rates(unchanged=0.0, typo=0.2)
    r = studio.corrupt(task="tweet-summary", profile=edited, limit=5)
    assert r["profile"].startswith("tweet@") and r["created"] == 5
    assert studio.noise_profile(r["profile"]).typo == 0.2
    assert studio.noise_profile("tweet").typo != 0.2  # the built-in is untouched
    # a profile re-fitted under the same name leaves the rows' frozen copy as it was
    studio.save_noise_profile(edited.with_rates(name="mine"))
    first = studio.corrupt(task="tweet-summary", profile="mine", limit=2, seed=1)["profile"]
    studio.save_noise_profile(edited.with_rates(name="mine", typo=0.3))
    second = studio.corrupt(task="tweet-summary", profile="mine", limit=2, seed=2)["profile"]
    assert first != second and first.startswith("mine@") and second.startswith("mine@")
    assert studio.noise_profile(first).typo == 0.2 and studio.noise_profile(second).typo == 0.3


def test_fit_noise_from_the_store_and_from_a_file(cli, tmp_path):
    j(cli("init", "--sample", "--json"))
    fitted = j(cli("fit-noise", "--from-status", "pending", "--name", "mine", "--json"))
    assert fitted["texts"] == 45 + 14 and not fitted["with_clean"]  # messy and drafts
    assert 0 < fitted["profile"]["lower"] < 1 and fitted["profile"]["fitted"]["texts"] == 59
    out = tmp_path / "p.toml"
    paired = j(cli("fit-noise", "--file", str(PAIRS), "--name", "pairs", "--out", str(out),
                   "--json"))
    assert paired["with_clean"] and paired["texts"] == 210
    assert tomllib.loads(out.read_text())["name"] == "pairs"
    made = j(cli("corrupt", "--profile", "pairs", "--variants", "2", "--json"))
    assert made["created"] > 0 and made["profile"].startswith("pairs@")
    made = j(cli("corrupt", "--profile", str(out), "--seed", "9", "--limit", "3", "--json"))
    assert made["parents"] == 3
    code, text, _ = cli("corrupt", "--profile", "mine", "--dry-run", "--limit", "4")
    assert code == 0 and "would create" in text and "from 4 clean rows" in text
    code, _, err = cli("fit-noise", "--file", str(write_jsonl(tmp_path / "few.jsonl",
                                                              [{"text": "omg"}] * 3)))
    assert code == 1 and "at least 10" in err


def test_realism_cli_table_json_and_bad_files(cli, tmp_path):
    lines = [json.loads(x) for x in PAIRS.open()]
    real = write_jsonl(tmp_path / "real.jsonl", lines[:80])
    same = write_jsonl(tmp_path / "same.jsonl", lines[:80])
    code, text, err = cli("realism", "--real", str(real), "--synthetic", str(same))
    assert code == 0, err
    assert "classifier AUC (lowercased)" in text and "mean CER" in text
    rep = j(cli("realism", "--real", str(real), "--synthetic", str(same), "--json"))
    assert rep["real"]["cer_exact"] and rep["real"]["unchanged"] == rep["synthetic"]["unchanged"]
    assert abs(rep["auc"]["cased"] - 0.5) < 0.1
    plain = tmp_path / "plain.txt"
    plain.write_text("\n".join(x["text"] for x in lines[80:160]))
    rep = j(cli("realism", "--real", str(real), "--synthetic", str(plain), "--json"))
    assert not rep["real"]["cer_exact"] and rep["synthetic"]["n"] == 80
    # what tells the samples apart, in words: here every synthetic text signs off with "fr"
    signed = tmp_path / "signed.txt"
    signed.write_text("\n".join(x["text"] + " fr" for x in lines[80:160]))
    code, text, err = cli("realism", "--real", str(real), "--synthetic", str(signed))
    assert code == 0 and "gives the corrupted texts away: 'fr'" in text, text
    rep = j(cli("realism", "--real", str(real), "--synthetic", str(signed), "--json"))
    assert rep["giveaways"]["synthetic"][0][0] == "fr"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n{"text": oops}\n')
    code, _, err = cli("realism", "--real", str(broken), "--synthetic", str(plain))
    assert code == 1 and "broken.jsonl:2: not valid JSON" in err
    broken.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    code, _, err = cli("realism", "--real", str(broken), "--synthetic", str(plain))
    assert code == 1 and "broken.jsonl:2: needs a string field 'text' or 'input'" in err
    broken.write_text('{"text": "%s"}\n' % ("x" * 30_000))
    code, _, err = cli("realism", "--real", str(broken), "--synthetic", str(plain))
    assert code == 1 and "broken.jsonl:1: line of 30,012 characters" in err
