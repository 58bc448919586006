"""Deployment subcommands: `export-model`, `model-exports`, `serve` (arguments only)."""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

from studio.records import ModelExport, ModelExportList, Serving

TARGETS = ["merged", "gguf", "ollama"]
QUANTS = ["f32", "f16", "q8_0", "q4_k_m"]
ENGINES = ["auto", "llama.cpp", "transformers"]


def add_parsers(cmd) -> None:
    sp = cmd("export-model", "export a completed run as a model people run: merged (the base "
             "with the adapter folded in), gguf (llama.cpp, LM Studio, Ollama) or ollama (the "
             "GGUF with a Modelfile); prints the commands that serve it")
    sp.add_argument("run", type=int, metavar="RUN")
    sp.add_argument("out_dir", metavar="OUT_DIR", nargs="?", help="a new or empty folder "
                    "(default: export-TO-QUANT inside the run folder)")
    sp.add_argument("--to", choices=TARGETS, default="gguf")
    sp.add_argument("--quant", choices=QUANTS, default="f16", help="the GGUF's weights: f32, "
                    "f16, q8_0 (half the size of f16, nearly the same answers) or q4_k_m "
                    "(needs llama-cpp-python)")
    sp = cmd("model-exports", "what runs were exported to, newest first")
    sp.add_argument("--run", type=int, metavar="RUN", help="one run's only")
    sp = cmd("serve", "serve a completed run on an OpenAI-compatible endpoint on this machine "
             "(Ctrl-C stops it): llama.cpp on its newest GGUF export when llama-cpp-python is "
             "installed, else transformers with its adapter; the store is released first")
    sp.add_argument("run", type=int, metavar="RUN")
    sp.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    sp.add_argument("--engine", choices=ENGINES, default="auto")


@contextmanager
def _stages():
    """A progress bar per export stage (merge, convert, quantize) on stderr."""
    from tqdm import tqdm

    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, disable=None,
                               mininterval=0.3)
        bar = bars[stage]
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def _export_model(s, a) -> tuple[ModelExport, str]:
    with _stages() as progress:
        r = s.export_model(a.run, a.out_dir, to=a.to, quant=a.quant, on_progress=progress)
    lines = [f"run {a.run} exported as {r['to']}" + (f" ({r['quant']})" if r["quant"] else "")
             + f" to {r['out_dir']} in {r['seconds']:.1f}s ({r['bytes']:,} bytes):"]
    lines += [f"  {f}" for f in r["files"]]
    lines += ["serve it with:"] + [f"  {name}: {c}" for name, c in r["commands"].items()]
    return r, "\n".join(lines)


def _model_exports(s, a) -> tuple[ModelExportList, str]:
    rows = s.model_exports(a.run)
    return {"exports": rows}, "\n".join(
        f"#{e['id']} run {e['run']} {e['to']}" + (f" {e['quant']}" if e["quant"] else "")
        + f" -> {e['out_dir']}" for e in rows) or "no model exports yet"


@contextmanager
def _sigterm_as_interrupt():
    """`kill PID` stops the server as Ctrl-C does (it runs in a session of its own, so
    neither reaches it unless this process ends it)."""
    def stop(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _serve(s, a) -> tuple[Serving, str]:
    import json

    from studio.deploy.service import serving, start

    engine, target = s.serving_target(a.run, a.engine)
    s.close()  # the app and the CLI keep working while this serves
    with _sigterm_as_interrupt():
        served = start(target, engine, a.run, port=a.port)
        try:
            info = serving(a.run, served)
            if a.json:
                print(json.dumps(info, indent=2), flush=True)
            else:
                print(f"serving run {a.run} ({engine}, {target}) on {info['url']} as model "
                      f"{info['model']}; Ctrl-C stops it", flush=True)
            served.proc.wait()
            print(f"the {engine} server stopped by itself:\n{served.log_tail(2000)}",
                  file=sys.stderr)
        except KeyboardInterrupt:
            pass
        finally:
            served.stop()
    return info, ""


COMMANDS = {"export-model": _export_model, "model-exports": _model_exports, "serve": _serve}
PRINTS_ITSELF = {"serve"}  # prints its endpoint when ready, before blocking
