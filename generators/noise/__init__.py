"""The corrupter: make clean text look like a person's real messy inputs.

Seeded, composable operators (lexicon respellings, apostrophes, dropped g's and vowels,
stretching, keyboard typos, OCR confusions, casing, punctuation, entities, truncation), rates
gathered into a `NoiseProfile`, `fit_profile` to estimate one from real messy texts, and a
realism report that says whether the result can be told from the real thing.
"""

from generators.noise.corrupt import Corrupter, Corruption, corrupt, corrupt_many
from generators.noise.detect import align, cer, detect, highlight
from generators.noise.fit import FitError, fit_profile
from generators.noise.lexicon import Lexicon, LexiconError, load_lexicon
from generators.noise.profile import (
                                      BUILTIN_PROFILES,
                                      NoiseProfile,
                                      ProfileError,
                                      load_profile,
                                      rate_fields,
)
from generators.noise.realism import describe, format_report, realism_report, two_sample_auc

__all__ = ["BUILTIN_PROFILES", "Corrupter", "Corruption", "FitError", "Lexicon", "LexiconError",
           "NoiseProfile", "ProfileError", "align", "cer", "corrupt", "corrupt_many", "describe",
           "detect", "fit_profile", "format_report", "highlight", "load_lexicon", "load_profile",
           "rate_fields", "realism_report", "two_sample_auc"]
