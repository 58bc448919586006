"""Corrupting stored rows: pick clean rows, run a noise profile over their inputs, store each messy
input as a new pending row with the parent's clean output.

A corrupted row records its parent (`parent_id`: the family), the operators applied, the seed,
the variant number and the profile: a built-in's name, or `NAME@DIGEST` for any other, saved in
the store as a frozen copy, so that name always leads back to the exact rates.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from generators.noise import BUILTIN_PROFILES, Corrupter, NoiseProfile, ProfileError, load_profile
from studio.errors import BadInput, NotFound
from studio.importing import content_hash
from studio.importing.readers import read_text

MAX_TEXT = 20_000  # characters per text read from a file; longer ones are refused by line
INPUTS = ("clean", "messy", "any")  # which rows' inputs a batch starts from (by default clean)


def resolve_profile(store, spec: str | NoiseProfile | None) -> NoiseProfile:
    """A profile from a NoiseProfile, a built-in name, a name stored in the store, or a file."""
    if isinstance(spec, NoiseProfile):
        return spec
    spec = spec or "tweet"
    if spec not in BUILTIN_PROFILES:
        stored = store.get_noise_profile(spec)
        if stored is not None:
            return NoiseProfile.from_dict(stored, f"stored profile {spec!r}")
    try:
        return load_profile(spec)
    except ProfileError as exc:
        names = [p["name"] for p in store.list_noise_profiles()]
        hint = f" (stored: {', '.join(names)})" if names else ""
        raise BadInput(f"{exc}{hint}") from None


def profile_ref(store, profile: NoiseProfile) -> str:
    """The name rows record for this profile: a built-in's own name, else `NAME@DIGEST` of its
    rates, saved in the store as a frozen copy, so a later re-fit or edit under the same name
    never changes what existing rows point to."""
    if BUILTIN_PROFILES.get(profile.name) == profile:
        return profile.name
    body = {k: v for k, v in profile.to_dict().items() if k != "name"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    ref = f"{profile.name.split('@')[0]}@{digest}"
    if store.get_noise_profile(ref) is None:
        store.save_noise_profile(ref, {**body, "name": ref})
    return ref


def read_texts(path: str | Path, name: str | None = None) -> tuple[list[str], list[str] | None]:
    """Texts (and clean counterparts when every line has one) from JSONL with a `text` or `input`
    field (and `clean` or `output`), or from plain text with one example per line. `name`: the
    file as messages call it (the app's upload is a temporary copy)."""
    path = Path(path)
    name = name or str(path)
    lines = [(n, line) for n, line in enumerate(read_text(path, name).splitlines(), 1)
             if line.strip()]
    texts, clean = [], []
    jsonl = path.suffix == ".jsonl" or lines[0][1].lstrip().startswith("{")
    for n, line in lines:
        if len(line) > MAX_TEXT:
            raise BadInput(f"{name}:{n}: line of {len(line):,} characters; "
                             f"the limit is {MAX_TEXT:,}")
        if not jsonl:
            texts.append(line.strip())
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise BadInput(f"{name}:{n}: not valid JSON ({exc.msg})") from None
        text = obj.get("text", obj.get("input")) if isinstance(obj, dict) else None
        if not isinstance(text, str):
            raise BadInput(f"{name}:{n}: needs a string field 'text' or 'input'")
        texts.append(text)
        c = obj.get("clean", obj.get("output"))
        clean.append(c if isinstance(c, str) else None)
    if not jsonl or any(c is None for c in clean):
        return texts, None
    return texts, clean


def preview(store, task: str, profile: NoiseProfile, *, status=None, ids=None,
            inputs: str = "clean", seed: int = 0, limit: int = 20) -> list[dict]:
    """What `corrupt` would make of the first rows: parent, clean and messy text, operators."""
    rows = store.clean_rows(task, status=status, ids=ids, inputs=inputs)
    if not rows:
        return []
    corrupter = Corrupter.calibrated(profile, [r["input"] for r in rows])
    out = []
    for r in rows[:limit]:
        c = corrupter(r["input"], seed)
        out.append({"parent_id": r["id"], "clean": r["input"], "messy": c.text, "ops": c.ops,
                    "output": r["output"]})
    return out


def corrupt_rows(store, task: str, profile: NoiseProfile, *, status=None, ids=None,
                 inputs: str = "clean", variants: int = 1, seed: int = 0,
                 limit: int | None = None, dry_run: bool = False, on_progress=None,
                 reviewer: str = "studio") -> dict:
    """Corrupt the inputs of the selected rows `variants` times each (variant k uses seed + k)
    and store the new rows as one audited batch (one undo deletes them). A variant that came
    out unchanged, repeats another, or is already stored is counted and skipped."""
    if variants < 1 or variants > 100:
        raise BadInput(f"variants must be between 1 and 100, got {variants}")
    rows = store.clean_rows(task, status=status, ids=ids, limit=limit, inputs=inputs)
    if not rows:
        which = {"clean": "with a clean input ", "messy": "with a messy input "}.get(
            inputs if ids is None else "", "")
        raise NotFound(f"no complete rows {which}to corrupt in task {task!r}"
                       + (f" with status {status!r}" if status else "")
                       + ": corruption needs rows with an output"
                       + ("; the user's real messy inputs are left alone unless asked for "
                          "(inputs any, or pick rows by id)" if which and inputs == "clean"
                          else ""))
    corrupter = Corrupter.calibrated(profile, [r["input"] for r in rows])
    seen = store.corrupted_children([r["id"] for r in rows])
    name = profile.name if dry_run else profile_ref(store, profile)
    new, unchanged, repeated = [], 0, 0
    for i, r in enumerate(rows):
        mine = seen.setdefault(r["id"], set())
        for k in range(variants):
            c = corrupter(r["input"], seed + k)
            if c.text == r["input"]:
                unchanged += 1
                continue
            if c.text in mine:
                repeated += 1
                continue
            mine.add(c.text)
            new.append({"task": task, "input": c.text, "output": r["output"],
                        "source": "corrupted", "parent_id": r["id"], "status": "pending",
                        "input_style": "messy",
                        "content_hash": content_hash(task, c.text, r["output"]),
                        "meta": {"profile": name, "seed": seed + k, "variant": k, "ops": c.ops}})
        if on_progress:
            on_progress(i + 1, len(rows))
    stored = store.existing_hashes([r["content_hash"] for r in new])
    fresh = [r for r in new if r["content_hash"] not in stored]
    repeated += len(new) - len(fresh)
    ids_out, batch = [], None
    if not dry_run and fresh:
        with store.transaction():
            ids_out = store.insert_examples(fresh)
            batch = store.new_batch_id()
            store.append_reviews(ids_out, reviewer, "add", [None] * len(ids_out),
                                 [{"source": "corrupted", "parent_id": r["parent_id"]}
                                  for r in fresh], batch_id=batch)
    return {"task": task, "profile": name, "parents": len(rows), "variants": variants,
            "seed": seed, "dry_run": dry_run, "created": len(fresh), "unchanged": unchanged,
            "inputs": inputs if ids is None else "picked", "batch_id": batch,
            "repeated": repeated, "ids": ids_out,
            "examples": [{"parent_id": r["parent_id"], "input": r["input"],
                          "ops": r["meta"]["ops"]} for r in fresh[:5]]}
