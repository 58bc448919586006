"""Task metrics on hand-made predictions (ROUGE-L, labels, macro-F1 against sklearn), the
base-against-tuned comparison, and the model card."""

import pytest
import yaml

from trainer.card import render
from trainer.metrics import compare, normalize_label, score_rows, summarize

LABELS = ["positive", "negative", "neutral"]


def test_rouge_l_on_hand_made_pairs():
    refs = ["the cat sat on the mat", "sunny skies all week", "the cat sat on the mat"]
    preds = ["the cat sat on the mat", "heavy rain expected", "the cat lay on a mat"]
    scores = score_rows(preds, refs, None)
    # the third: LCS "the cat on mat" = 4 of 6 tokens either side, so P = R = F = 2/3
    assert scores == pytest.approx([1.0, 0.0, 2 / 3])
    s = summarize(preds, refs, [])
    assert s["metric"] == "rougeL" and s["n"] == 3
    assert s["value"] == s["rougeL"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert s["exact_match"] == pytest.approx(1 / 3)
    assert summarize(["  The CAT sat\non the mat "], ["the cat sat on the mat"],
                     None)["exact_match"] == 1.0


def test_labels_are_read_leniently_but_never_invented():
    assert normalize_label("Positive.", LABELS) == "positive"
    assert normalize_label("  NEG", ["pos", "neg"]) == "neg"
    assert normalize_label("negative\nbecause the tone is sour", LABELS) == "negative"
    assert normalize_label("Neutral, mostly", LABELS) == "neutral"
    assert normalize_label("Positivity", LABELS) is None
    assert normalize_label("I cannot tell", LABELS) is None
    assert normalize_label("", LABELS) is None
    assert normalize_label("pos", ["POS", "NEG"]) == "POS"  # the canonical spelling
    assert score_rows(["Positive!", "meh", "negative"], ["positive", "neutral", "positive"],
                      LABELS) == [1.0, 0.0, 0.0]


CASES = [
    # refs, preds (one invalid)
    (["positive", "negative", "positive", "negative"], ["Positive.", "negative", "negative",
                                                        "no idea"]),
    # a label predicted that never occurs in the references; one never predicted
    (["positive", "positive", "neutral", "negative", "neutral"],
     ["positive", "neutral", "neutral", "positive", "whatever"]),
    (["neutral", "negative", "negative"], ["neutral", "negative", "negative"]),
]


@pytest.mark.parametrize("refs,preds", CASES)
def test_accuracy_and_macro_f1_match_sklearn(refs, preds):
    from sklearn.metrics import accuracy_score, f1_score

    s = summarize(preds, refs, LABELS)
    y_pred = [normalize_label(p, LABELS) or "<invalid>" for p in preds]
    labels = sorted(set(refs) | {p for p in y_pred if p != "<invalid>"})
    assert s["metric"] == "macro_f1" and s["n"] == len(refs)
    assert s["value"] == s["macro_f1"] == pytest.approx(
        f1_score(refs, y_pred, labels=labels, average="macro", zero_division=0))
    assert s["accuracy"] == pytest.approx(accuracy_score(refs, y_pred))
    assert s["invalid"] == y_pred.count("<invalid>")
    per = f1_score(refs, y_pred, labels=labels, average=None, zero_division=0)
    assert [s["per_label"][x]["f1"] for x in labels] == pytest.approx(list(per))
    assert set(s["per_label"]) == set(LABELS)
    assert sum(v["support"] for v in s["per_label"].values()) == len(refs)


def test_exact_match_for_labels_is_the_raw_string():
    s = summarize(["positive", "Positive.", " negative "], ["positive", "positive", "negative"],
                  LABELS)
    assert s["accuracy"] == 1.0 and s["exact_match"] == pytest.approx(2 / 3)


def test_no_rows_gives_no_value_and_no_crash():
    for labels in (None, LABELS):
        s = summarize([], [], labels)
        assert s["n"] == 0 and s["value"] is None
    c = compare([], [], [], [], None)
    assert c["n"] == 0 and c["base"] is None and c["delta"] is None and c["rows"] == []
    with pytest.raises(ValueError):
        summarize(["a"], [], None)


def test_compare_puts_the_worst_rows_first():
    refs = ["positive", "negative", "neutral", "positive"]
    base = ["positive", "negative", "neutral", "negative"]
    tuned = ["positive", "positive", "neutral", "negative"]
    c = compare(["a", "b", "c", "d"], refs, base, tuned, LABELS, ids=[10, 11, 12, 13])
    # wrong after tuning: 11 (was right, delta -1) before 13 (wrong both times, delta 0)
    assert [r["id"] for r in c["rows"]] == [11, 13, 10, 12]
    worst = c["rows"][0]
    assert worst == {"id": 11, "input": "b", "reference": "negative", "base": "negative",
                     "tuned": "positive", "base_score": 1.0, "tuned_score": 0.0, "delta": -1.0}
    assert c["metric"] == "macro_f1" and c["n"] == 4
    assert c["base"] == c["base_summary"]["value"] and c["tuned"] == c["tuned_summary"]["value"]
    assert c["delta"] == pytest.approx(c["tuned"] - c["base"])
    assert c["base_summary"]["accuracy"] == 0.75 and c["tuned_summary"]["accuracy"] == 0.5
    free = compare(["x", "y"], ["the cat sat", "dogs run fast"], ["the cat sat", "no"],
                   ["a cat sat", "dogs run fast"], None)
    assert [r["id"] for r in free["rows"]] == [0, 1] and free["metric"] == "rougeL"
    assert free["rows"][0]["delta"] == pytest.approx(-1 / 3)
    assert free["delta"] == pytest.approx((2 / 3 + 1) / 2 - 1 / 2)


def _info(**over):
    info = {
        "base_model": "Qwen/Qwen2.5-0.5B-Instruct", "method": "lora", "merged": False,
        "dataset": {"repo_id": "alice/tweets", "path": "/home/alice/exports/tweets-v1",
                    "fingerprint": "ab12cd34ef56", "export_id": 3},
        "task": {"name": "tweet-sentiment", "instruction": "Label the tweet's sentiment.",
                 "labels": LABELS},
        "config": {"learning_rate": 2e-4, "lora_r": 16, "epochs": 2,
                   "output_dir": "/home/alice/runs/run-7"},
        "train": {"steps": 40, "epochs": 2, "train_loss": 0.81, "eval_loss": 0.92,
                  "runtime_s": 63.5, "tokens_per_s": None},
        "eval": None, "studio_version": "0.1.0",
    }
    return {**info, **over}


def _front(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_for_an_adapter_links_its_dataset_and_loads_with_peft():
    text = render(_info())
    meta = _front(text)
    assert meta["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert meta["library_name"] == "peft" and meta["pipeline_tag"] == "text-generation"
    assert meta["tags"] == ["sft", "trl", "lora", "sft-studio"]
    assert meta["datasets"] == ["alice/tweets"] and "license" not in meta
    assert "https://huggingface.co/datasets/alice/tweets" in text
    assert "PeftModel.from_pretrained" in text and "Label the tweet's sentiment." in text
    assert "| learning_rate | 0.0002 |" in text and "Trained with SFT Studio 0.1.0" in text
    assert "/home/" not in text


def test_card_for_a_merged_model_from_a_local_export():
    c = compare(["a", "b"], ["positive", "negative"], ["negative", "negative"],
                ["positive", "negative"], LABELS)
    c.pop("rows")
    info = _info(merged=True, license="apache-2.0", eval=c,
                 dataset={"repo_id": None, "path": "/srv/data/exports/tweets-v2",
                          "fingerprint": "ffee0011", "export_id": None})
    text = render(info)
    meta = _front(text)
    assert meta["library_name"] == "transformers" and "datasets" not in meta
    assert meta["license"] == "apache-2.0"
    assert "AutoModelForCausalLM.from_pretrained" in text and "PeftModel" not in text
    assert "tweets-v2" in text and "ffee0011" in text and "/srv/" not in text
    assert "| **macro_f1** |" in text and "| accuracy | 0.5 | 1 | 0.5 |" in text
    assert _front(render(_info(method="full")))["tags"][2] == "full"


def test_card_never_carries_a_token():
    token = "hf_abcdefghijklmnop1234"
    info = _info(config={"hub_token": token, "note": f"pushed with {token}",
                         "teacher_key": "sk-proj-0123456789abcdef", "short": "hf_x"})
    text = render(info)
    assert token not in text and "sk-proj" not in text and "[REDACTED]" in text
    assert "| short | hf_x |" in text
    assert "| note | pushed with [REDACTED] |" in text
