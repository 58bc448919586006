"""The model card (README.md) for a trained run: YAML metadata the Hub reads, then what the model
does, how to load it, what it was trained on and how, and how it scored against its base.

Nothing in it depends on when or where it was made: no dates, no absolute paths (a local path is
cut to its folder name), and any value that looks like a token is replaced by [REDACTED].
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath, PureWindowsPath

REDACTED = "[REDACTED]"
SECRET = re.compile(r"(?<![\w-])(?:hf_|sk-)[\w-]{8,}")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?$")
ADAPTERS = ("lora", "qlora")
TRAIN_ROWS = (("steps", "Steps"), ("epochs", "Epochs"), ("train_loss", "Train loss"),
              ("eval_loss", "Eval loss"), ("runtime_s", "Runtime (s)"),
              ("tokens_per_s", "Tokens / s"))


def _is_abs(text: str) -> bool:
    return (text.startswith(("/", "~", "\\\\")) or PureWindowsPath(text).is_absolute())


def _name(path: str) -> str:
    """The last part of a path, whichever kind of separator it uses."""
    return PureWindowsPath(PurePosixPath(path.rstrip("/\\")).name).name or path


def clean(value):
    """A copy of `value` with token-looking strings redacted and absolute paths cut to names."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith(("hf_", "sk-")) and len(value) > 10:
        return REDACTED
    value = SECRET.sub(REDACTED, value)
    return _name(value) if _is_abs(value) else value


def is_adapter(info: dict) -> bool:
    return info["method"] in ADAPTERS and not info.get("merged")


def metadata(info: dict, base_on_hub: bool = True) -> dict:
    """The front matter; `base_on_hub` is False when the base model was a local folder."""
    meta = {}
    if base_on_hub and HUB_ID.match(info["base_model"]):
        meta["base_model"] = info["base_model"]
    meta["library_name"] = "peft" if is_adapter(info) else "transformers"
    meta["pipeline_tag"] = "text-generation"
    meta["tags"] = ["sft", "trl", "lora" if info["method"] in ADAPTERS else "full", "sft-studio"]
    repo = (info.get("dataset") or {}).get("repo_id")
    if repo:
        meta["datasets"] = [repo]
    if info.get("license"):
        meta["license"] = info["license"]
    return meta


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)]


def _load(info: dict) -> list[str]:
    repo = info.get("repo_id") or "OWNER/MODEL"
    if is_adapter(info):
        code = ["from peft import PeftModel",
                "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                f'base = AutoModelForCausalLM.from_pretrained("{info["base_model"]}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{info["base_model"]}")',
                f'model = PeftModel.from_pretrained(base, "{repo}")']
        what = (f"a LoRA adapter{' (trained with QLoRA)' if info['method'] == 'qlora' else ''} "
                f"for `{info['base_model']}`: load the base model, then the adapter on top")
    else:
        code = ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                f'model = AutoModelForCausalLM.from_pretrained("{repo}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{repo}")']
        kind = "LoRA adapter merged into" if info["method"] in ADAPTERS else "full fine-tune of"
        what = f"a {kind} `{info['base_model']}`: it loads like any causal language model"
    return ["## How to load it", "", f"This repo holds {what}.", "", "```python", *code, "```",
            "", "Prompt it with the tokenizer's chat template, as in training.", ""]


def _data(dataset: dict | None) -> list[str]:
    lines = ["## Training data", ""]
    dataset = dataset or {}
    if dataset.get("repo_id"):
        repo = dataset["repo_id"]
        lines.append(f"[{repo}](https://huggingface.co/datasets/{repo})")
    elif dataset.get("path") or dataset.get("fingerprint"):
        parts = [f"folder `{_name(dataset['path'])}`" if dataset.get("path") else None,
                 f"fingerprint `{dataset['fingerprint']}`" if dataset.get("fingerprint") else None]
        lines.append("A local SFT Studio export: " + ", ".join(p for p in parts if p) + ".")
    else:
        lines.append("Not recorded.")
    if dataset.get("export_id") is not None:
        lines += ["", f"SFT Studio export #{dataset['export_id']}."]
    return [*lines, ""]


def _results(train: dict, evaluation: dict | None) -> list[str]:
    lines = ["## Results", "",
             *_table(["", "value"], [[label, train.get(k)] for k, label in TRAIN_ROWS]), ""]
    if evaluation:
        base, tuned = evaluation.get("base_summary") or {}, evaluation.get("tuned_summary") or {}
        names = [evaluation["metric"], *(k for k in ("accuracy", "rougeL", "exact_match",
                                                     "invalid")
                                         if k in tuned and k != evaluation["metric"])]
        rows = [[f"**{evaluation['metric']}**", evaluation.get("base"),
                 evaluation.get("tuned"), evaluation.get("delta")]]
        for k in names[1:]:
            b, t = base.get(k), tuned.get(k)
            rows.append([k, b, t, None if b is None or t is None else t - b])
        lines += [f"On {evaluation.get('n')} evaluation rows, base model against tuned:", "",
                  *_table(["metric", "base", "tuned", "delta"], rows), ""]
        lines += _significance(evaluation)
        lines += _slices(evaluation.get("slices") or {})
        lines += _judge(evaluation.get("judge"))
    return lines


def _span(ci) -> str:
    lo, hi = (list(ci or []) + [None, None])[:2]
    return "—" if lo is None or hi is None else f"{_cell(lo)} to {_cell(hi)}"


def _significance(evaluation: dict) -> list[str]:
    """The delta with its interval, and the test's p-value (eval.json's delta_ci and test)."""
    ci, test = evaluation.get("delta_ci"), evaluation.get("test")
    if not ci or ci.get("delta") is None:
        return []
    level = round(100 * (ci.get("level") or 0.95))
    line = (f"Tuned minus base on {evaluation['metric']}: **{_cell(ci['delta'])}**, "
            f"{level}% interval {_span(ci.get('ci'))} by {ci.get('method')}.")
    if test and test.get("p_value") is not None:
        line += (f" Paired test of no difference, {test.get('test')}: "
                 f"p = {_cell(test['p_value'])}.")
    return [line, ""]


def _slices(slices: dict) -> list[str]:
    titles = {"source": ("By data source", "source"),
              "length": ("By input length (terciles of characters)", "length"),
              "operator": ("By corruption operator in the input", "operator"),
              "family": ("By duplicate family (families of 10 rows or more)", "family")}
    lines = []
    for key, groups in slices.items():
        if not groups:
            continue
        title, column = titles.get(key, (f"By {key}", key))
        judged = any("win_rate" in g for g in groups.values())
        rows = [[name, g.get("n"), "too few rows", None, None, "—"] if g.get("too_few")
                else [name, g.get("n"), g.get("base"), g.get("tuned"), g.get("delta"),
                      _span(g.get("delta_ci"))] for name, g in groups.items()]
        if judged:
            rows = [r + [None if g.get("too_few") else g.get("win_rate")]
                    for r, g in zip(rows, groups.values())]
        head = [column, "rows", "base", "tuned", "delta", "95% interval"] + \
            (["win rate"] if judged else [])
        lines += [f"### {title}", "", *_table(head, rows), ""]
    return lines


def _judge(judge: dict | None) -> list[str]:
    """A judge model's pairwise verdicts (the studio adds them to the evaluation)."""
    if not judge or judge.get("win_rate") is None:
        return []
    failed = f", {judge['failed']} not judged" if judge.get("failed") else ""
    model = f" (`{judge['model']}`)" if judge.get("model") else ""
    return ["### Judge", "",
            f"A judge model{model} compared the two answers on {judge.get('n')} rows: the tuned "
            f"model won {judge.get('wins')}, tied {judge.get('ties')} and lost "
            f"{judge.get('losses')}{failed}. Win rate (a tie counts half): "
            f"**{_cell(judge['win_rate'])}**, 95% interval {_span(judge.get('win_rate_ci'))}.",
            ""]


def render(info: dict) -> str:
    """The README.md text for a trained run described by `info` (see the module docstring)."""
    import yaml

    base_on_hub = not _is_abs(info["base_model"])
    info = clean(info)
    task = info.get("task") or {}
    front = yaml.safe_dump(metadata(info, base_on_hub), sort_keys=False, allow_unicode=True)
    title = f"{task.get('name') or 'SFT'} ({_name(info['base_model'])}, {info['method']})"
    body = [f"# {title}", "", "## What it does", "",
            task.get("instruction") or "(no instruction recorded)", ""]
    if task.get("labels"):
        body += ["It answers with one of: " + ", ".join(f"`{x}`" for x in task["labels"]) + ".", ""]
    body += _load(info)
    body += _data(info.get("dataset"))
    config = info.get("config") or {}
    body += ["## Training settings", "",
             *_table(["setting", "value"], [[k, config[k]] for k in sorted(config)]), ""]
    body += _results(info.get("train") or {}, info.get("eval"))
    body += [f"Trained with SFT Studio {info.get('studio_version')}."]
    return f"---\n{front}---\n\n" + "\n".join(body) + "\n"
