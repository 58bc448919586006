"""The dataset card: YAML metadata the Hub reads, and a body that says how the set was made.

Everything in it comes from the store and the export's own checks; nothing in it changes from one
export to the next unless the data or the options do (no dates), so re-exports are identical.
"""

from __future__ import annotations

from studio.export.pii import describe, outcome

SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


def size_category(n: int) -> str:
    return next((name for limit, name in SIZES if n < limit), "10M<n<100M")


def creators(sources: dict[str, int], edited: int) -> tuple[list[str], list[str]]:
    """(annotations_creators, language_creators) from where the rows came from: the teacher's
    outputs are machine-generated, imported ones found, edited ones expert-generated."""
    language, annotations = set(), set()
    if sources.get("imported"):
        language.add("found")
        annotations.add("found")
    if sources.get("teacher") or sources.get("corrupted"):
        language.add("machine-generated")
    if sources.get("teacher"):
        annotations.add("machine-generated")
    if edited:
        annotations.add("expert-generated")
    return sorted(annotations) or ["no-annotation"], sorted(language) or ["other"]


def metadata(info: dict) -> dict:
    task = info["task"]
    categories = ["text-classification"] if task["labels"] else ["text-generation"]
    if "summar" in (task["name"] + " " + task["instruction"]).lower():
        categories.append("summarization")
    annotations, language = creators(info["sources"], info["edited"])
    total = sum(info["splits"].values())
    return {
        "license": info["license"],
        "language": info["language"],
        "task_categories": categories,
        "tags": ["synthetic", "sft", "sft-studio", task["name"]],
        "size_categories": [size_category(total)],
        "annotations_creators": annotations,
        "language_creators": language,
        "pretty_name": f"{task['name']} (SFT Studio)",
        **_dataset_info(info),
        "configs": [{"config_name": "default", "data_files": [
            {"split": s, "path": info["globs"][s]} for s, n in info["splits"].items() if n]}],
    }


def _dataset_info(info: dict) -> dict:
    """Features and split sizes (skipped for CSV, where nested fields are JSON text). They
    also keep `datasets` from reusing a cached copy of another export with the same folder name:
    its cache key hashes this block and the configs, not the data files."""
    if info["features"] is None:
        return {}
    sizes = info["sizes"]
    splits = [{"name": s, "num_bytes": v["num_bytes"], "num_examples": v["num_examples"]}
              for s, v in sizes["splits"].items()]
    return {"dataset_info": {"features": info["features"], "splits": splits,
                             "download_size": sizes["download_size"],
                             "dataset_size": sum(v["num_bytes"] for v in sizes["splits"].values())}}


def render(info: dict) -> str:
    import yaml

    head = yaml.safe_dump(metadata(info), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n" + "\n".join(_body(info)) + "\n"


def _body(info: dict) -> list[str]:
    task, splits = info["task"], info["splits"]
    total = sum(splits.values())
    lines = [f"# {task['name']}", "",
             f"A supervised fine-tuning set of {total} examples for one task, curated with "
             f"SFT Studio {info['version']}.", "",
             f"**Task.** {task['instruction']}", ""]
    if task["labels"]:
        lines += [f"**Labels.** {', '.join(task['labels'])}", ""]
    lines += ["## Splits", "", "| split | rows |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in splits.items()]
    lines += ["", f"Schema `{info['schema']}` ({_schema_words(info['schema'])}); every row "
              "also has `id` (its id in the studio) and `source` (imported, teacher or "
              "corrupted).", "",
              f"Splits are drawn with seed {info['seed']} at ratios "
              f"{' / '.join(f'{r:g}' for r in info['ratios'])}, group by group: a family (a seed "
              "and every row generated or corrupted from it), a duplicate cluster and inputs "
              "that are near-duplicates always land in one split."
              + (" The test split takes real (imported) rows first." if
                 info["test_from"] == "real" else "")
              + (" Each label is split on its own (stratified)." if info["stratified"] else ""),
              "", "## How it was made", ""]
    lines += ["| source | rows |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in info["sources"].items() if n]
    lines.append("")
    for key, title in (("teachers", "Teacher models"), ("recipes", "Recipes"),
                       ("profiles", "Corruption profiles (messy inputs made from clean ones)")):
        if info[key]:
            lines += [f"**{title}.** " + ", ".join(f"`{k}` ({n} rows)"
                                                   for k, n in info[key].items()), ""]
    lines += ["", "## Curation", ""]
    left = info["left_out"]
    lines.append(f"Only rows a person approved (or an audited auto-review batch approved) leave "
                 f"the studio. Left out: {left['pending']} pending, {left['rejected']} rejected, "
                 f"{left['duplicate']} duplicates and {left['input_only']} inputs without an "
                 f"output.")
    dedupe = info["dedupe"]
    lines.append("" if not dedupe else
                 f"\n**Deduplication.** Exact (normalised text) and semantic, inputs at cosine >= "
                 f"{dedupe['threshold']:g} with `{dedupe['model']}`; {left['duplicate']} rows "
                 f"marked as duplicates of a kept row.")
    reviews = info["reviews"]
    acts = reviews["actions"]
    people = reviews["reviewers"]
    lines.append(f"\n**Review.** {people} {'person' if people == 1 else 'people'} and "
                 f"{reviews['auto_batches']} auto-review batch"
                 f"{'' if reviews['auto_batches'] == 1 else 'es'} made "
                 f"{acts.get('approve', 0)} approvals, {acts.get('reject', 0)} rejections, "
                 f"{acts.get('edit', 0)} edits and {acts.get('undo', 0)} undos; "
                 f"{info['edited']} of the exported rows were edited by a person.")
    if info["quality"] is not None:
        lines.append(f"\n**Quality score** (heuristics, faithfulness and the judge combined, "
                     f"0-1): mean {info['quality']:.3f} over the exported rows that have one.")
    judge = info["agreement"]
    if judge and judge.get("kappa") is not None:
        lines.append(f"\n**LLM judge agreement** with people's decisions: Cohen's kappa "
                     f"{judge['kappa']:.2f} ({judge['verdict']}) on {judge['n']} rows, counting "
                     f"ratings >= {judge['cut']} as approve.")
    lines += ["", "## Checks", ""] + _checks(info["leakage"], info["pii"])
    lines += ["", "## Use", "", "```python", "from datasets import load_dataset", "",
              'ds = load_dataset("<this repo or folder>")', "```", ""]
    if info["schema"] != "alpaca":
        lines += ["The rows feed `trl.SFTTrainer` as they are (conversational format)."]
    return lines


def _checks(leakage: dict, pii: dict) -> list[str]:
    leak = (f"- **Leakage:** {leakage['cross_split']} pairs of inputs in different splits at "
            f"cosine >= {leakage['threshold']:g} ({leakage['model']}).")
    return [leak, f"- **Personal data** (e-mails, phone numbers, @handles, URLs with secrets): "
            f"{describe(pii['found'])}; {outcome(pii)}."]


def _schema_words(schema: str) -> str:
    return {"messages": "a `messages` list of system, user and assistant turns",
            "prompt-completion": "a `prompt` list of system and user turns and a `completion` "
                                 "list with the assistant's turn",
            "alpaca": "`instruction`, `input` and `output` strings"}[schema]
