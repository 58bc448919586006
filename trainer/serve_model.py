"""The model side of `python -m trainer.serve`: what to load, and generation with stops.

Why apart: the HTTP server (trainer/serve.py) only checks requests and writes answers; this is
the part that knows transformers and PEFT. It finds the model in a run, adapter or model folder
(an adapter on its recorded base), builds chat-template and plain prompts, fits max_tokens to
the context, and generates one request at a time (a lock), cutting at stop strings and holding
back text that may still turn into one while it streams. RequestError lives here because a
prompt the model cannot take is refused here; the server answers it as OpenAI's error body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path


class RequestError(Exception):
    """A request the server refuses, answered as OpenAI's {"error": {...}} with `status`."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.code, self.param = status, kind, code, param

    def body(self) -> dict:
        return {"error": {"message": str(self), "type": self.kind, "code": self.code,
                          "param": self.param}}


# -- what to load ---------------------------------------------------------------------------


def default_name(folder) -> str:
    """The run's name: a run folder's own, its parent's for runs/<id>/adapter|merged, and for a
    file (a .gguf) the run folder above it, if any, else the file's stem."""
    path = Path(folder).resolve()
    if path.is_file():
        runs = [p for p in (path.parent, path.parent.parent)
                if (p / "adapter").is_dir() or (p / "merged").is_dir()]
        return runs[0].name if runs else path.stem
    return path.parent.name if path.name in ("adapter", "merged") else path.name


def _is_model(path: Path) -> bool:
    return (path / "config.json").is_file() or (path / "adapter_config.json").is_file()


def model_folder(folder) -> Path:
    """FOLDER itself when it holds a model or an adapter, else a run folder's merged/ (the
    faster to serve) or its adapter/."""
    path = Path(folder)
    for candidate in (path, path / "merged", path / "adapter"):
        if _is_model(candidate):
            return candidate
    raise FileNotFoundError(f"no model in {folder}: expected a run folder (adapter/ or merged/), "
                            f"an adapter folder or a model folder")


def adapter_base(adapter: Path) -> str:
    """The base model an adapter was trained on, as its adapter_config.json names it."""
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise FileNotFoundError(f"{adapter}/adapter_config.json names no base model: give --base")
    if (Path(base).is_absolute() or base.startswith(".")) and not Path(base).exists():
        raise FileNotFoundError(f"the adapter's base model {base} is not there (moved?): "
                                f"give --base")
    return base


def resolve(folder, adapter=None, base=None) -> tuple[str, str | None]:
    """(model to load, PEFT adapter to put on it or None) for a run, adapter or model folder;
    an explicit `adapter` goes on the model in `folder` (or `base`)."""
    if adapter is not None:
        return str(base or folder), str(adapter)
    path = model_folder(folder)
    if not (path / "adapter_config.json").is_file():
        return str(path), None
    return str(base or adapter_base(path)), str(path)


# -- generation -----------------------------------------------------------------------------


@dataclass
class Params:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class Result:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class _Stopped(Exception):
    """Raised from the streamer to end generate() early: a stop string was written."""


def stop_at(text: str, stops: list[str]) -> int | None:
    """Where the first stop string starts in `text`, or None."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters to keep unsent: a possible start of a stop string, or an
    incomplete UTF-8 character (decoded as U+FFFD until its last byte comes)."""
    keep = max((n for s in stops for n in range(1, len(s)) if text.endswith(s[:n])), default=0)
    tail = len(text) - len(text.rstrip("\ufffd"))
    return max(keep, tail)


class Watcher:
    """A generate() streamer (put/end): collects the new tokens, sends the text that is final
    to `emit` as it comes, and stops generation at a stop string."""

    def __init__(self, tokenizer, stops: list[str], emit=None):
        self.tokenizer, self.stops, self.emit = tokenizer, stops, emit
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False
        self.stopped = False

    def text(self) -> str:
        return self.tokenizer.decode(self.ids, skip_special_tokens=True,
                                     clean_up_tokenization_spaces=False)

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() hands the prompt over first
            self.prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.text()
        cut = stop_at(text, self.stops)
        if cut is not None:
            self.stopped = True
            self._send(text[:cut])
            raise _Stopped
        self._send(text[:len(text) - held_back(text, self.stops)])

    def end(self) -> None:
        pass

    def finish(self) -> str:
        """The whole answer (cut at a stop string), its unsent rest sent."""
        text = self.text()
        cut = stop_at(text, self.stops)
        text = text if cut is None else text[:cut]
        self._send(text)
        return text

    def _send(self, upto: str) -> None:
        if len(upto) > self.sent and self.emit is not None:
            self.emit(upto[self.sent:])
        self.sent = max(self.sent, len(upto))


class Engine:
    """One transformers model (with its PEFT adapter) and its tokenizer; generate() is
    serialized by a lock, since one model runs one generation at a time."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.lock = threading.Lock()
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") \
            else model.config
        self.context = getattr(config, "max_position_embeddings", None) or 0
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
            eos.append(tokenizer.eos_token_id)
        self.eos = eos

    @classmethod
    def load(cls, folder, *, adapter=None, base=None, device: str = "auto") -> Engine:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_path, adapter_path = resolve(folder, adapter, base)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype="auto")
        if adapter_path is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_path)
        model = model.to(device)
        has_tokenizer = adapter_path and (Path(adapter_path) / "tokenizer_config.json").is_file()
        tokenizer = AutoTokenizer.from_pretrained(adapter_path if has_tokenizer else model_path)
        return cls(model.eval(), tokenizer)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def chat_prompt(self, messages: list[dict]) -> list[int]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise RequestError("this model has no chat template: use /v1/completions")
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        except Exception as e:  # the template's own checks (roles, order) raise anything
            raise RequestError(f"the chat template refused the messages: {e}",
                               param="messages") from None
        with self.lock:  # a fast tokenizer used from two threads at once can raise
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def text_prompt(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, list):
            if not all(0 <= t < len(self.tokenizer) for t in prompt):
                raise RequestError(f"token ids must be below {len(self.tokenizer)}",
                                   param="prompt")
            return prompt
        with self.lock:
            return self.tokenizer(prompt)["input_ids"]

    def fit(self, prompt: list[int], max_tokens: int, param: str) -> int:
        """max_tokens cut to the room the context leaves (400 when the prompt alone fills it)."""
        if not prompt:
            raise RequestError("the prompt is empty", param=param)
        if self.context and len(prompt) >= self.context:
            raise RequestError(f"This model's maximum context length is {self.context} tokens; "
                               f"the prompt has {len(prompt)}", code="context_length_exceeded",
                               param=param)
        return min(max_tokens, self.context - len(prompt)) if self.context else max_tokens

    def generate(self, prompt: list[int], params: Params, emit=None) -> Result:
        """Greedy at temperature 0, else sampling; `emit(text)` gets the answer as it comes."""
        import torch

        watcher = Watcher(self.tokenizer, params.stop, emit)
        config = self._config(params)
        ids = torch.tensor([prompt], device=self.device)
        with self.lock, torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            try:
                self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                    generation_config=config, streamer=watcher)
            except _Stopped:
                pass
            text = watcher.finish()
        if watcher.stopped or (watcher.ids and watcher.ids[-1] in self.eos):
            reason = "stop"
        else:
            reason = "length" if len(watcher.ids) >= params.max_tokens else "stop"
        return Result(text, reason, len(prompt), len(watcher.ids))

    def _config(self, params: Params):
        import copy

        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens, config.max_length = params.max_tokens, None
        config.eos_token_id = self.eos
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id or self.eos[0]
        if params.temperature == 0 or params.top_p == 0:  # OpenAI's way of asking for greedy
            config.do_sample, config.temperature, config.top_p, config.top_k = (
                False, None, None, None)
        else:
            config.do_sample, config.temperature, config.top_p = (
                True, params.temperature, params.top_p)
        return config
