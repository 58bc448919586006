"""Export a trained run as a model to serve: `merged` (the base with the adapter folded in, a
Hugging Face folder), `gguf` (one llama.cpp file at a quantization) or `ollama` (the GGUF plus a
Modelfile and the `ollama create` command). `plan_export` makes every check before anything is
written; `export_model` writes into a sibling `OUT_DIR.part-XXXX` folder and renames it to
OUT_DIR only when complete, so an error, a failed check or Ctrl-C leaves nothing behind.

    from trainer.export.model import export_model
    export_model("runs/run-0003", "exports/run-0003", to="ollama", quant="q4_k_m")
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from trainer.export.commands import ExportError, RunInfo, check_name, model_params, read_run

__all__ = ["QUANTS", "TARGETS", "ExportError", "export_model", "plan_export"]

TARGETS = ("merged", "gguf", "ollama")
QUANTS = ("f32", "f16", "q8_0", "q4_k_m")
# GGUF bytes per parameter (q4_k_m: about 4.9 bits, some tensors stay at 6 or 8)
GGUF_BYTES = {"f32": 4.0, "f16": 2.0, "q8_0": 34 / 32, "q4_k_m": 0.62}
MARGIN = 1.1, 64 << 20  # free disk needed: estimate x 1.1 + 64 MiB
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endofturn|>")
_PIP = {"gguf": "gguf", "llama_cpp": "llama-cpp-python", "peft": "peft"}


def _need(module: str, what: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ExportError(f"{what} needs the {_PIP[module]} package, which is not installed: "
                          f"pip install {_PIP[module]}") from e


def _model_config(run: RunInfo) -> tuple[dict, Path]:
    """config.json of what gets exported (a full fine-tune's, else the base's: local, from
    the Hugging Face cache, else fetched alone) and its folder."""
    full = run.method == "full"
    path = run.adapter_dir / "config.json" if full else run.base_file("config.json",
                                                                        download=True)
    if path is None:
        raise ExportError(f"the base model {run.base_model!r} (from {run.config_file}) is not "
                          "in the Hugging Face cache and its config.json cannot be fetched")
    try:
        return json.loads(path.read_text(encoding="utf-8")), path.parent
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: cannot read the model's config.json ({e})") from None


def _check_out(out: Path) -> None:
    if out.is_file() or out.is_symlink():
        raise ExportError(f"{out} is a file; give a new or empty folder for the export")
    if out.is_dir():
        found = sorted(p.name for p in out.iterdir())
        if found:
            shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise ExportError(f"{out} already holds files ({shown}); give a new or empty folder "
                              "(nothing there was changed)")


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def plan_export(run_dir, out_dir, *, to: str, quant: str, name: str | None = None,
                today: date | None = None) -> dict:
    """Check everything an export needs before writing anything; ExportError says what fails.
    Returns the plan: the run, the base and its architecture, the dtype the merge runs at, the
    estimated bytes (peak during the export) and the free bytes where it goes."""
    if to not in TARGETS:
        raise ExportError(f"export target {to!r}: choose one of {', '.join(TARGETS)}")
    if to != "merged" and quant not in QUANTS:
        raise ExportError(f"quantization {quant!r}: choose one of {', '.join(QUANTS)}")
    run = read_run(run_dir)
    name = check_name(name or run.name)
    run.check()
    out = Path(out_dir).expanduser().absolute()
    _check_out(out)
    if run.method != "full":
        _need("peft", "folding a LoRA adapter into its base")
    if to != "merged":
        _need("gguf", f"a {to} export")
        if quant == "q4_k_m":
            _need("llama_cpp", "q4_k_m quantization")
    config, config_dir = _model_config(run)
    arch = None
    if to != "merged":
        from trainer.export.gguf_convert import ConvertError, check_convertible

        try:
            arch = check_convertible(config_dir)
        except ConvertError as e:
            raise ExportError(f"{to} export of {run.run_dir}: {e}") from None
    template = _check_template(run, config, today) if to == "ollama" else None
    params, stored = model_params(run, config)
    dtype = stored if stored in ("bfloat16", "float16") else "float32"
    merged = int(params * (2 if dtype != "float32" else 4))
    gguf = 0 if to == "merged" else int(params * GGUF_BYTES[quant])
    f16 = int(params * 2) if quant == "q4_k_m" and to != "merged" else 0
    estimate = merged + gguf + f16
    free = shutil.disk_usage(_existing_parent(out)).free
    needed = int(estimate * MARGIN[0]) + MARGIN[1]
    if free < needed:
        raise ExportError(f"not enough free disk for the export at {_existing_parent(out)}: it "
                          f"needs about {_mb(needed)} ({_mb(estimate)} of files plus a margin), "
                          f"{_mb(free)} is free")
    return {"run_dir": str(run.run_dir), "out_dir": str(out), "to": to,
            "quant": None if to == "merged" else quant, "name": name, "method": run.method,
            "base_model": run.base_model, "model_type": config.get("model_type"), "arch": arch,
            "dtype": dtype, "params": params,
            "estimated_bytes": estimate, "final_bytes": merged if to == "merged" else gguf,
            "free_bytes": free, "chat_template": template}


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _tokenizer(run: RunInfo):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(run.tokenizer_dir)


def _check_template(run: RunInfo, config: dict, today: date | None) -> str:
    """The run's chat template, checked to translate into an Ollama TEMPLATE."""
    from trainer.export.modelfile import TemplateError, modelfile

    template = _tokenizer(run).chat_template
    try:
        modelfile("model.gguf", template or "", system=run.instruction,
                  model_type=config.get("model_type"), today=today)
    except (TemplateError, ValueError) as e:
        raise ExportError(f"ollama export of {run.run_dir}: {e}") from None
    return template


# -- the export ---------------------------------------------------------------------------------


def export_model(run_dir, out_dir, *, to: str = "gguf", quant: str = "f16",
                 name: str | None = None, on_progress: Callable[[str, int, int], object] | None
                 = None, today: date | None = None) -> dict:
    """Export the run (see the module docstring). on_progress(stage, done, total) is called
    through "merge", "convert", "quantize", "modelfile" and "card"; an exception from it (or
    anywhere) aborts the export and removes everything written. Returns {"run_dir", "to",
    "quant", "out_dir", "name", "files" (relative paths), "gguf", "modelfile", "merged"
    (absolute paths or None), "commands" (serving_commands), "bytes", "seconds", "timings"
    (seconds per stage: plan, merge, convert, quantize, modelfile, card)}."""
    started = time.monotonic()
    plan = plan_export(run_dir, out_dir, to=to, quant=quant, name=name, today=today)
    run, out = read_run(run_dir), Path(plan["out_dir"])
    progress = on_progress or (lambda stage, done, total: None)
    timings = {"plan": round(time.monotonic() - started, 3)}
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f"{out.name}.part-", dir=out.parent))
    try:
        result = _write(run, plan, part, out, progress, timings, today)
        if out.exists():
            out.rmdir()  # empty: checked in the plan
        os.rename(part, out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        for p in created:
            try:
                p.rmdir()
            except OSError:
                pass
        raise
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    result.update(files=files, bytes=sum((out / f).stat().st_size for f in files),
                  seconds=round(time.monotonic() - started, 3), timings=timings)
    return result


def _write(run: RunInfo, plan: dict, part: Path, out: Path, progress, timings: dict,
           today: date | None) -> dict:
    to, quant, name = plan["to"], plan["quant"], plan["name"]
    result = {"run_dir": plan["run_dir"], "to": to, "quant": quant, "out_dir": str(out),
              "name": name, "gguf": None, "modelfile": None, "merged": None}
    merged = part if to == "merged" else part / name  # its name becomes the GGUF's general.name
    with _timed(timings, "merge"):
        tokenizer = _merge(run, plan, merged, progress)
    if to == "merged":
        result["merged"] = str(out)
    else:
        gguf_name = f"{name}-{quant}.gguf"
        _gguf(merged, part / gguf_name, quant, progress, timings)
        shutil.rmtree(merged)
        result["gguf"] = str(out / gguf_name)
        if to == "ollama":
            with _timed(timings, "modelfile"):
                _modelfile(run, plan, tokenizer, part / gguf_name, today)
                progress("modelfile", 1, 1)
            result["modelfile"] = str(out / "Modelfile")
    from trainer.export.commands import serving_commands
    from trainer.export.model_card import write_card

    result["commands"] = serving_commands(run.run_dir, result)
    with _timed(timings, "card"):
        write_card(part, run, result)
        progress("card", 1, 1)
    return result


def _merge(run: RunInfo, plan: dict, dest: Path, progress):
    """Save the merged model (safetensors), the run's tokenizer and a generation config that
    stops at eos and the end-of-turn token into `dest`; returns the tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, plan["dtype"])
    progress("merge", 0, 3)
    if run.method == "full":
        model = AutoModelForCausalLM.from_pretrained(run.adapter_dir, dtype=dtype)
    else:
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(run.base_path, dtype=dtype)
        progress("merge", 1, 3)
        model = PeftModel.from_pretrained(base, run.adapter_dir).merge_and_unload()
    progress("merge", 2, 3)
    tokenizer = _tokenizer(run)
    gen = model.generation_config
    vocab, template = tokenizer.get_vocab(), tokenizer.chat_template or ""
    old = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    eos = [tokenizer.eos_token_id, *(vocab[t] for t in END_OF_TURN if t in template
                                     and t in vocab), *old]
    eos = list(dict.fromkeys(i for i in eos if isinstance(i, int)))
    gen.eos_token_id = eos[0] if len(eos) == 1 else eos
    if tokenizer.pad_token_id is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    progress("merge", 3, 3)
    return tokenizer


@contextmanager
def _timed(timings: dict, stage: str):
    clock = time.monotonic()
    yield
    timings[stage] = round(time.monotonic() - clock, 3)


def _gguf(merged: Path, out: Path, quant: str, progress, timings: dict) -> None:
    """Convert (at f16 first for q4_k_m, then quantized by llama.cpp) into `out`."""
    from trainer.export.gguf_convert import ConvertError, convert, quantize

    first = out.with_name(out.stem + ".f16.tmp") if quant == "q4_k_m" else out
    try:
        with _timed(timings, "convert"):
            convert(merged, first, outtype="f16" if quant == "q4_k_m" else quant,
                    on_progress=lambda done, total: progress("convert", done, total))
        if first != out:
            with _timed(timings, "quantize"):
                progress("quantize", 0, 1)
                quantize(first, out, quant)
                first.unlink()
                progress("quantize", 1, 1)
    except ConvertError as e:
        raise ExportError(f"GGUF conversion of {merged.name}: {e}") from None


def _modelfile(run: RunInfo, plan: dict, tokenizer, gguf_file: Path,
               today: date | None) -> None:
    import gguf

    from trainer.export.modelfile import TemplateError, check, modelfile

    reader = gguf.GGUFReader(gguf_file)
    field = reader.fields.get("tokenizer.ggml.add_bos_token")
    add_bos = bool(field.contents()) if field is not None else False
    del reader
    template = plan["chat_template"]
    extras = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    try:
        made = modelfile(gguf_file.name, template, system=run.instruction,
                         model_type=plan["model_type"], today=today)
        check(made["template"], template, tokenizer_extras={**extras, "add_bos_token": add_bos},
              system=run.instruction, today=today)
    except (TemplateError, ValueError) as e:
        raise ExportError(f"Modelfile for {gguf_file.name}: {e}") from None
    (gguf_file.parent / "Modelfile").write_text(made["text"], encoding="utf-8")
