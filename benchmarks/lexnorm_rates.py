"""How often real tweets respell the lexicon's words, measured on the lexicon half of LexNorm 1.2
(the tweets `lexnorm.half` puts in half 0; the realism benchmark scores only half 1). Prints each
lexicon word seen at least MIN times there: its rate, its forms, and the shipped p beside it. The
shipped `lexicon.toml` takes these rates for its commonest words; the tweets stay out of the
repository."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lexnorm import half, load  # noqa: E402

from generators.noise.lexicon import shipped  # noqa: E402

MIN = 8


def main():
    tweets = [t for t in load() if half(t) == 0]
    lex = shipped()
    occ, forms = Counter(), {}
    for t in tweets:
        for raw, gold in zip(t.raw, t.gold):
            occ[gold] += 1
            if raw != gold:
                forms.setdefault(gold, Counter())[raw] += 1
    print(f"{len(tweets)} tweets in the lexicon half")
    for word, n in occ.most_common():
        entries = lex.lookup(word)
        if n < MIN or not entries or word not in forms:
            continue
        changed = sum(forms[word].values())
        shown = ", ".join(f"{f} {k}" for f, k in forms[word].most_common(4))
        print(f"{word:12} n={n:4}  rate {changed / n:.2f}  shipped p {entries[0].p:.2f} "
              f"({entries[0].section})  forms: {shown}")


if __name__ == "__main__":
    main()
