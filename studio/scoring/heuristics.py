"""Cheap checks on one example, each with a value, a flag and a sentence that says why.

A flagged check costs the example a share of its quality (PENALTY): the heuristics score is the
product of (1 - penalty) over the flagged checks, so one broken thing halves it and a label
outside the task's set zeroes it. Length and ratio are judged against the task's own rows
(a robust z-score of the log, median and MAD), because "too long" means something else for a
tweet summary than for a support answer; with fewer than MIN_ROWS complete rows only the
absolute limits apply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

MIN_ROWS = 8          # rows needed before a task's own length distribution is trusted
Z_LIMIT = 3.5         # an outlier is beyond this robust z...
FACTOR = 3.0          # ... and this many times above or below the task's median
MAX_CHARS = 4000      # an output longer than this is too long whatever the task
COPY_LIMIT = 0.8      # share of the output's word trigrams found in the input
REPEAT_LIMIT = 0.25   # share of the output's word trigrams that repeat an earlier one

PENALTY = {"too_short": 0.5, "too_long": 0.3, "ratio": 0.25, "copy": 0.5, "repetition": 0.5,
           "encoding": 0.4, "markers": 0.6, "label": 1.0}

EXPLAIN = {
    "length": "output length in words, against the task's usual range",
    "ratio": "output words per input word, against the task's usual ratio",
    "copy": "share of the output's word trigrams copied from the input",
    "repetition": "share of the output's word trigrams that repeat an earlier one",
    "encoding": "broken characters (mojibake such as 'Ã©', U+FFFD, control characters)",
    "markers": "leftover prompt template or chat role markers",
    "label": "the output is one of the task's labels",
    "heuristics": "the product of (1 - penalty) over the flagged checks",
}

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.U)
_MARKERS = re.compile(
    r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|</?s>|\{\{\s*\w+\s*\}\}|\{(?:input|output|examples|"
    r"instruction)\}|^\s*(?:###\s*)?(?:user|assistant|system|human|instruction|response)\s*:|"
    r"\bas an ai(?: language)? model\b|^\s*here(?: is|'s) (?:the|a|your) (?:summary|answer|"
    r"output|label|response)\b|^\s*\{\s*\"(?:output|input)\"\s*:", re.I | re.M)
# Runs of characters that UTF-8 bytes turn into when read as Latin-1 or cp1252.
_SUSPECT = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d"
                      r"\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]+")
_BROKEN = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Check:
    name: str
    value: float | None
    flag: str | None = None    # the PENALTY key when flagged
    why: str | None = None     # what was found, when flagged


@dataclass
class TaskStats:
    """The task's usual output length and output/input ratio (median and MAD of the logs)."""
    rows: int = 0
    len_median: float = 0.0
    len_mad: float = 0.0
    ratio_median: float = 0.0
    ratio_mad: float = 0.0

    @classmethod
    def of(cls, inputs: list[str], outputs: list[str]) -> TaskStats:
        if not outputs:
            return cls()
        n_out = np.array([max(1, len(words(o))) for o in outputs], float)
        n_in = np.array([max(1, len(words(i))) for i in inputs], float)
        lens, ratios = np.log(n_out), np.log(n_out / n_in)
        return cls(len(outputs), float(np.median(lens)), _mad(lens),
                   float(np.median(ratios)), _mad(ratios))

    def z_length(self, n: int) -> float | None:
        return self._z(math.log(max(1, n)), self.len_median, self.len_mad)

    def z_ratio(self, r: float) -> float | None:
        return self._z(math.log(r), self.ratio_median, self.ratio_mad)

    def _z(self, x, median, mad):
        """The robust z-score of x, but 0 while x is within FACTOR of the median (a tight
        distribution must not make every ordinary row an outlier)."""
        if self.rows < MIN_ROWS:
            return None
        if abs(x - median) <= math.log(FACTOR):
            return 0.0
        return (x - median) / max(mad * 1.4826, 0.1)


def _mad(x: np.ndarray) -> float:
    return float(np.median(np.abs(x - np.median(x))))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def trigrams(ws: list[str]) -> list[tuple]:
    return list(zip(ws, ws[1:], ws[2:]))


def mojibake(text: str) -> int:
    """How many broken spots: runs that decode to something else when re-read as UTF-8, plus
    replacement and control characters."""
    bad = len(_BROKEN.findall(text))
    for run in _SUSPECT.findall(text):
        for codec in ("cp1252", "latin-1"):
            try:
                fixed = run.encode(codec).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if fixed != run:
                bad += 1
                break
    return bad


def check(input: str, output: str | None, labels: tuple[str, ...] = (),
          stats: TaskStats | None = None) -> list[Check]:
    """Every check that applies: input-only rows get the text checks on their input only;
    classification outputs get the label check instead of length, ratio, copy and repetition."""
    stats = stats or TaskStats()
    out: list[Check] = []
    texts = [("input", input)] + ([("output", output)] if output is not None else [])
    broken = {side: mojibake(t) for side, t in texts}
    n_bad = sum(broken.values())
    out.append(Check("encoding", float(n_bad), "encoding" if n_bad else None, (
        "broken characters in the " + " and ".join(s for s, n in broken.items() if n)
        + f" ({n_bad})") if n_bad else None))
    hits = [(side, m.group(0).strip()) for side, t in texts for m in [_MARKERS.search(t)] if m]
    out.append(Check("markers", float(len(hits)), "markers" if hits else None,
                     "; ".join(f"{side} has {text[:40]!r}" for side, text in hits) or None))
    if output is None:
        return out
    if labels:
        ok = output.strip() in labels
        out.append(Check("label", 1.0 if ok else 0.0, None if ok else "label",
                         None if ok else f"{output.strip()[:40]!r} is not one of "
                         f"{', '.join(labels)}"))
        return out
    w_in, w_out = words(input), words(output)
    n = len(w_out)
    z = stats.z_length(n)
    if n < 2 or (z is not None and z < -Z_LIMIT):
        out.append(Check("length", float(n), "too_short",
                         f"{n} word{'s' * (n != 1)}" + _usual(stats.len_median, z)))
    elif len(output) > MAX_CHARS or (z is not None and z > Z_LIMIT):
        out.append(Check("length", float(n), "too_long",
                         f"{n} words, {len(output)} characters" + _usual(stats.len_median, z)))
    else:
        out.append(Check("length", float(n)))
    ratio = max(1, n) / max(1, len(w_in))
    zr = stats.z_ratio(ratio)
    flagged = zr is not None and abs(zr) > Z_LIMIT
    out.append(Check("ratio", round(ratio, 4), "ratio" if flagged else None,
                     f"{ratio:.2f} output words per input word; the task's usual ratio is "
                     f"{math.exp(stats.ratio_median):.2f}" if flagged else None))
    copied = _copied(w_in, w_out, input, output)
    out.append(Check("copy", round(copied, 4), "copy" if copied >= COPY_LIMIT else None,
                     f"{copied:.0%} of the output is copied from the input"
                     if copied >= COPY_LIMIT else None))
    grams = trigrams(w_out)
    rep = 1 - len(set(grams)) / len(grams) if len(grams) >= 4 else 0.0
    out.append(Check("repetition", round(rep, 4), "repetition" if rep >= REPEAT_LIMIT else None,
                     f"{rep:.0%} of the output's word trigrams repeat" if rep >= REPEAT_LIMIT
                     else None))
    return out


def _usual(median: float, z: float | None) -> str:
    return "" if z is None else \
        f"; the task's outputs usually have about {math.exp(median):.0f} words"


def _copied(w_in, w_out, input: str, output: str) -> float:
    if " ".join(w_out) == " ".join(w_in) or output.strip() == input.strip():
        return 1.0
    grams = trigrams(w_out)
    if not grams:
        return 0.0
    have = set(trigrams(w_in))
    return sum(g in have for g in grams) / len(grams)


def heuristics_score(checks: list[Check]) -> float:
    score = 1.0
    for c in checks:
        if c.flag:
            score *= 1.0 - PENALTY[c.flag]
    return round(score, 4)
