"""The layering, checked on the source itself (no imports run): SQL lives in the store, the
generators and the trainer never reach into the studio, the faces (app and CLI) go through the
Studio facade and never touch its store, and no two modules import each other, however lazily."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("studio", "generators", "trainer")
# A statement, not prose: an upper-case keyword at the start and its partner later on.
SQL = re.compile(r"^\s*(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TABLE|INDEX|SEQUENCE|VIEW)|ALTER\s+TABLE|DROP\s+TABLE|"
                 r"WITH\s+\w+\s+AS)", re.S)


def modules() -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), str(MODULES[name]))


def imported(name: str) -> set[str]:
    """The project modules `name` imports anywhere in it (function-level imports included):
    `from a.b import c` counts as a.b.c when c is a module, else as a.b."""
    out = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return {m for m in out if m in MODULES and m != name}


def test_the_checks_see_the_whole_project():
    assert {"studio.store.base", "studio.ui.app", "studio.cli", "generators.noise.corrupt",
            "trainer.callback"} <= set(MODULES)
    assert "studio.store.jobs" in imported("studio.store")
    assert "studio.store.examples" in imported("studio.store.jobs")


def test_no_sql_outside_the_store():
    found = []
    for name, path in MODULES.items():
        if name.startswith("studio.store"):
            continue
        for node in ast.walk(tree(name)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("execute", "executemany", "sql"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.func.attr}(...)")
    assert not found, "SQL outside studio/store/:\n" + "\n".join(found)


def test_the_sql_check_finds_sql():
    assert SQL.search("SELECT id, input FROM examples WHERE status = ?")
    assert SQL.search("\n  INSERT INTO runs (task) VALUES (?)")
    assert not SQL.search("Select the rows you want, from the table")


def test_generators_and_trainer_import_nothing_from_the_studio():
    found = [f"{n} imports {m}" for n in MODULES if n.split(".")[0] in ("generators", "trainer")
             for m in imported(n) if m.split(".")[0] == "studio"]
    assert not found, "\n".join(found)


def faces() -> list[str]:
    return [n for n in MODULES if n.startswith(("studio.ui", "studio.cli"))
            or n == "studio.__main__"]


def test_the_faces_never_touch_the_store():
    """The app and the CLI go through the Studio facade: no store import, no `.store`."""
    assert "studio.ui.review_tab" in faces() and "studio.cli_train" in faces()
    found = []
    for name in faces():
        path = MODULES[name].relative_to(ROOT)
        found += [f"{path} imports {m}" for m in imported(name) if m.startswith("studio.store")]
        found += [f"{path}:{node.lineno}: .store" for node in ast.walk(tree(name))
                  if isinstance(node, ast.Attribute) and node.attr == "store"]
    assert not found, "\n".join(found)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_import_each_other():
    """No module reaches back to one that imports it, however lazily (embed and onnx_encoder
    share their calibration texts through a third module). A module reading its own parent
    package (`from studio import __version__`) is left out: the package imports nothing back
    until asked for `Studio`."""
    graph = {n: {m for m in imported(n) if not n.startswith(m + ".")} for n in MODULES}
    assert not cycles(graph), cycles(graph)


def test_tests_share_helpers_through_helper_modules_only():
    """Shared test code lives in tests/helpers.py and tests/ui_helpers.py: no test module
    imports another test module or conftest (whose fixtures pytest hands out itself)."""
    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}:{node.lineno}: {n}" for n in names
                      if n == "conftest" or n.startswith("test_")]
    assert not found, "\n".join(found)


def test_the_shared_words_are_spelled_once():
    """The statuses, sources and run states are listed in studio/vocabulary.py and nowhere
    else in the library (a list of them elsewhere drifts the day one is added)."""
    from studio import vocabulary

    words = {frozenset(v) for v in (vocabulary.STATUSES, vocabulary.SOURCES,
                                   vocabulary.JOB_STATUSES, vocabulary.RUN_STATUSES,
                                   vocabulary.LIVE_RUN_STATUSES)}
    found = []
    for name in MODULES:
        if name == "studio.vocabulary":
            continue
        for node in ast.walk(tree(name)):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) > 1 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts) \
                    and frozenset(e.value for e in node.elts) in words:
                found.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno}")
    assert not found, "spelled again: " + ", ".join(found)
