"""Task metrics on predictions: ROUGE-L for free text, accuracy and macro-F1 for labels.

Pure Python apart from `rouge_score` (imported when free text is scored). A label prediction is
read leniently ("Positive." names `positive`), but one that names no label stays wrong: it is
counted as `invalid`, never swapped for a valid label.
"""

from __future__ import annotations

INVALID = "<invalid>"
_EDGE = " \t\r\n.,;:!?\"'`*()[]{}<>"


def _clean(text: str) -> str:
    return text.strip(_EDGE).casefold()


def normalize_label(text: str, labels: list[str]) -> str | None:
    """The label, in its canonical spelling, that `text` names; None if it names none.

    Tried in turn: the whole text, its first non-empty line, the first word of that line; each
    stripped of surrounding whitespace and punctuation and compared without case.
    """
    canon = {_clean(label): label for label in labels}
    text = text or ""
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    words = first.split()
    for candidate in (text, first, words[0] if words else ""):
        hit = canon.get(_clean(candidate))
        if hit is not None:
            return hit
    return None


def _check(predictions: list[str], references: list[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")


def _reference_labels(references: list[str], labels: list[str]) -> list[str]:
    """References in canonical spelling (kept as written, stripped, if they name no label)."""
    return [normalize_label(r, labels) or (r or "").strip() for r in references]


def _rouge_l(predictions: list[str], references: list[str]) -> list[float]:
    if not predictions:
        return []
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(ref, pred)["rougeL"].fmeasure
            for pred, ref in zip(predictions, references)]


def score_rows(predictions: list[str], references: list[str],
               labels: list[str] | None) -> list[float]:
    """One score per row: ROUGE-L F for free text, 1.0 / 0.0 for a right / wrong label."""
    _check(predictions, references)
    if not labels:
        return _rouge_l(predictions, references)
    truth = _reference_labels(references, labels)
    return [1.0 if normalize_label(p, labels) == t else 0.0 for p, t in zip(predictions, truth)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _squash(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def per_label(truth: list[str], predicted: list[str], labels: list[str]) -> dict:
    """Precision, recall, F1 and support per label (0.0 where undefined, as sklearn does)."""
    out = {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        out[label] = {"precision": tp / (tp + fp) if tp + fp else 0.0,
                      "recall": tp / (tp + fn) if tp + fn else 0.0,
                      "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
                      "support": tp + fn}
    return out


def summarize(predictions: list[str], references: list[str], labels: list[str] | None) -> dict:
    """The task's headline metric (`value`) and its companions; values are None when n is 0."""
    _check(predictions, references)
    n = len(predictions)
    if not labels:
        rouge = _mean(_rouge_l(predictions, references))
        exact = _mean([float(_squash(p) == _squash(r)) for p, r in zip(predictions, references)])
        return {"metric": "rougeL", "value": rouge, "n": n, "rougeL": rouge, "exact_match": exact}
    truth = _reference_labels(references, labels)
    predicted = [normalize_label(p, labels) or INVALID for p in predictions]
    scored = sorted(set(truth) | (set(predicted) - {INVALID}))
    table = per_label(truth, predicted, scored)
    macro = _mean([table[label]["f1"] for label in scored])
    extra = [label for label in scored if label not in labels]
    shown = per_label(truth, predicted, [*labels, *extra])
    return {"metric": "macro_f1", "value": macro, "n": n,
            "accuracy": _mean([float(p == t) for p, t in zip(predicted, truth)]),
            "exact_match": _mean([float((p or "").strip() == (r or "").strip())
                                  for p, r in zip(predictions, references)]),
            "macro_f1": macro, "invalid": predicted.count(INVALID),
            "per_label": shown if n else {}}


def compare(inputs: list[str], references: list[str], base_preds: list[str],
            tuned_preds: list[str], labels: list[str] | None, ids: list | None = None) -> dict:
    """Base model against tuned model on the same rows; rows come worst first (lowest tuned
    score, then the largest drop from base, then original order)."""
    n = len(references)
    if not (len(inputs) == len(base_preds) == len(tuned_preds) == n):
        raise ValueError("inputs, references and both prediction lists must be the same length")
    if ids is not None and len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} rows")
    base, tuned = summarize(base_preds, references, labels), summarize(tuned_preds, references,
                                                                       labels)
    base_scores = score_rows(base_preds, references, labels)
    tuned_scores = score_rows(tuned_preds, references, labels)
    rows = [{"id": ids[i] if ids is not None else i, "input": inputs[i],
             "reference": references[i], "base": base_preds[i], "tuned": tuned_preds[i],
             "base_score": base_scores[i], "tuned_score": tuned_scores[i],
             "delta": tuned_scores[i] - base_scores[i]} for i in range(n)]
    order = sorted(range(n), key=lambda i: (rows[i]["tuned_score"], rows[i]["delta"], i))
    delta = (None if base["value"] is None or tuned["value"] is None
             else tuned["value"] - base["value"])
    return {"metric": tuned["metric"], "base": base["value"], "tuned": tuned["value"],
            "delta": delta, "n": n, "base_summary": base, "tuned_summary": tuned,
            "rows": [rows[i] for i in order]}
