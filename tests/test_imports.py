"""The package's import graph: no cycles, and data flows one way between the stages.

Every ``import`` statement of every module is read with :mod:`ast`, including the imports inside
functions (a cycle hidden behind a function-level import is still a cycle: the two modules cannot be
understood, tested or moved apart). Stages (top-level folders, one import namespace ``motionlib.*``):

    motion -> sim -> policies -> tokenizer -> llm -> retarget -> pipeline,   cli composes them

with the allowed imports of each stage listed in ``ALLOWED`` (the project's design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("motion", "sim", "policies", "tokenizer", "llm", "retarget", "pipeline", "cli")
# which stages each stage may import (itself included)
ALLOWED = {
    "motionlib": set(),
    "motion": {"motion"},
    "sim": {"motion", "sim"},
    "policies": {"motion", "sim", "policies"},
    "tokenizer": {"motion", "tokenizer"},
    "llm": {"motion", "tokenizer", "policies", "llm"},
    "retarget": {"motion", "sim", "policies", "retarget"},
    # the dataset pipeline composes the stages it runs (never retarget, never the command line)
    "pipeline": {"motion", "sim", "policies", "tokenizer", "llm", "pipeline"},
    "cli": {"motionlib", *STAGES},
}


def module_files(repo: Path = REPO) -> dict[str, Path]:
    """Import name -> file of every module of the package (``motion/ingest/bvh.py`` ->
    ``motionlib.motion.ingest.bvh``; a package's ``__init__.py`` -> the package's name)."""
    out = {}
    for top in ("motionlib", *STAGES):
        for f in sorted((repo / top).rglob("*.py")):
            rel = f.relative_to(repo).with_suffix("").parts
            parts = list(rel[1:])
            if parts and parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(["motionlib"] + ([top] if top != "motionlib" else []) + parts)
            out[name] = f
    return out


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules that ``name`` (at ``path``) imports, anywhere in the file. ``from A import B``
    counts as an import of ``A.B`` when that is a module, else of ``A``."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # the longest module prefix of the dotted name
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "motionlib":
                    add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "motionlib":
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                add(sub if sub in modules else mod)
    return found


def import_graph(repo: Path = REPO) -> dict[str, set[str]]:
    files = module_files(repo)
    names = set(files)
    return {n: imports_of(n, f, names) for n, f in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                cyc = visit(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            cyc = visit(n)
            if cyc:
                return cyc
    return None


def stage_of(module: str) -> str:
    if module == "motionlib.__main__":  # ``python -m motionlib``: the command line
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "motionlib"


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_stage_imports_a_higher_one():
    bad = [f"{m} imports {t}" for m, targets in import_graph().items() for t in sorted(targets)
           if stage_of(t) not in ALLOWED[stage_of(m)]]
    assert not bad, "\n".join(bad)


def test_the_walker_sees_every_stage_and_function_level_imports():
    graph = import_graph()
    assert {stage_of(m) for m in graph} >= set(STAGES)
    assert "motionlib.motion.clip" in graph["motionlib.motion"]  # relative import in a package __init__
    assert any(graph.values())


@pytest.fixture
def toy(tmp_path):
    """A toy tree: motion/a.py imports motion/b.py at the top; b imports a inside a function."""
    for d in ("motionlib", *STAGES):
        (tmp_path / d).mkdir()
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "motion" / "a.py").write_text("from .b import g\n")
    (tmp_path / "motion" / "b.py").write_text("def g():\n    from motionlib.motion.a import f\n    return f\n")
    (tmp_path / "motion" / "c.py").write_text("def h():\n    from motionlib.sim import x\n")
    return tmp_path


def test_a_cycle_through_a_function_level_import_is_found(toy):
    graph = import_graph(toy)
    assert find_cycle(graph) == ["motionlib.motion.a", "motionlib.motion.b", "motionlib.motion.a"]
    (toy / "motion" / "b.py").write_text("def g():\n    return 1\n")
    assert find_cycle(import_graph(toy)) is None


def test_an_upward_import_is_a_stage_violation(toy):
    graph = import_graph(toy)
    assert "motionlib.sim" in graph["motionlib.motion.c"]
    assert "sim" not in ALLOWED[stage_of("motionlib.motion.c")]
