"""Corruption: noise profiles (built-in, stored, fitted), previews and corrupt batches of a
task's rows. The row work is studio.corruption.rows'; built on the store, the settings and Reviews
(task lookup)."""

from __future__ import annotations

from typing import cast

from studio.errors import BadInput
from studio.records import CorruptResult
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store
from studio.vocabulary import STATUSES


class Corruption:
    """Noise profiles and the corrupter over a task's rows."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews):
        self.store, self.settings, self.reviews = store, settings, reviews

    def noise_profile(self, spec=None):
        """A NoiseProfile from a built-in name, a stored name, a TOML/JSON file, or itself."""
        from studio.corruption.rows import resolve_profile

        return resolve_profile(self.store, spec)

    def noise_profiles(self) -> list[dict]:
        """Built-in profiles, then the stored (fitted or edited) ones."""
        from generators.noise import BUILTIN_PROFILES

        return ([{"name": n, "builtin": True, "profile": p.to_dict()}
                 for n, p in BUILTIN_PROFILES.items()]
                + [{**r, "builtin": False} for r in self.store.list_noise_profiles()])

    def save_noise_profile(self, profile) -> str:
        from generators.noise import BUILTIN_PROFILES

        if profile.name in BUILTIN_PROFILES:
            raise BadInput(f"{profile.name!r} is a built-in profile; save yours under another name")
        self.store.save_noise_profile(profile.name, profile.to_dict())
        return profile.name

    def messy_sample(self, *, task: str | None = None, status: str | None = None,
                     limit: int = 500) -> list[str]:
        """The task's real messy inputs (imported as messy, labelled since or not), to fit a
        profile on or compare against."""
        return self.store.messy_texts(self.reviews.task(task).name, status, limit)

    def fit_noise(self, messy: list[str], clean: list[str] | None = None, *,
                  name: str = "fitted", save: bool = True):
        """Fit a profile to real messy texts (and their clean versions, if known); saves it in
        the store under `name` unless `save` is False."""
        from generators.noise import FitError, fit_profile

        try:
            profile = fit_profile(messy, clean, name=name)
        except FitError as e:
            raise BadInput(str(e)) from None
        if save:
            self.save_noise_profile(profile)
        return profile

    def corrupt_preview(self, *, task: str | None = None, profile=None, status: str | None = None,
                        inputs: str = "clean", seed: int = 0,
                        limit: int = 20) -> list[dict]:
        from studio.corruption.rows import preview

        return preview(self.store, self.reviews.task(task).name, self.noise_profile(profile),
                       status=status, inputs=inputs, seed=seed, limit=limit)

    def corrupt(self, *, task: str | None = None, profile=None, status: str | None = None,
                ids: list[int] | None = None, inputs: str = "clean", variants: int = 1,
                seed: int = 0, limit: int | None = None, dry_run: bool = False,
                on_progress=None, reviewer: str | None = None) -> CorruptResult:
        """Corrupt the inputs of a task's complete rows into new pending rows (source
        `corrupted`, parent = the clean row, output = its output). By default only rows whose
        input is clean; `inputs="any"` (or "messy"), or `ids`, reach the user's real messy
        inputs too. One undo removes the batch."""
        from studio.corruption.rows import INPUTS, corrupt_rows

        if status is not None and status not in STATUSES:
            raise BadInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if inputs not in INPUTS:
            raise BadInput(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        result = corrupt_rows(self.store, self.reviews.task(task).name,
                              self.noise_profile(profile), status=status, ids=ids,
                              inputs=inputs, variants=variants, seed=seed, limit=limit,
                              dry_run=dry_run, on_progress=on_progress,
                              reviewer=reviewer or self.settings.reviewer)
        return cast(CorruptResult, result)
