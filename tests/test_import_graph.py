"""QAgent's layers only point down, and no qagent module imports itself round a cycle; and
(at the end, from the same ``ast`` view of the source) every module has a short docstring and
no overlong line.

The graph is built from the source with ``ast``: every ``import`` and ``from ... import`` at
any nesting level (module level, inside functions, methods, ``try`` blocks), except those under
``if TYPE_CHECKING:`` (annotations only; never executed). An import of ``a.b.c`` is an edge to
the module ``a.b.c``; ``from a.b import x`` is an edge to ``a.b.x`` when that is a module, else
to ``a.b`` (the package's ``__init__``).

The layers, lowest first (a module may import its own layer and those below):

0. base: ``qagent`` (the package root: loads the extension), ``_C`` (the compiled
   extension), ``_validation``, ``_cli``,
   ``_ext``, ``_ops``, ``fuels`` (the fuel-model table), ``distributed`` and ``oom``
   (torch-only utilities: process groups, out-of-memory retries), ``__main__``
   (``python -m qagent info``, reads ``_ext``)
1. landscape: rasters, LANDFIRE I/O, tiles, synthetic landscapes (a leaf above base)
2. fire: weather, fire behaviour, spread, fire scenarios
3. env: the fuel-break environment, landscape sources, the agent's observation channels
4. agent: networks, policies, replay buffers
5. baselines: ``evaluation.baselines``, fuel-break placements computed from the fire layer
   (DomiRank, burn probability, DPV); train's validation and warm start and evaluation's
   methods use them. It lives with evaluation but sits below train, so
   ``qagent/evaluation/__init__.py`` imports none of the package's modules (importing
   ``qagent.evaluation.baselines`` runs it first: see
   ``test_baselines_load_nothing_of_train``)
6. train: the DQN trainer, its config, presets, checkpoints
7. evaluation: evaluation, planning and figures (loads checkpoints through train)
8. tools: ``bench`` (``qagent-bench``)

The installed package holds the product only: nothing in it imports pyretechnics or the
oracle (benchmarks/oracle.py, the pyretechnics reference of the tests and benchmarks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "qagent"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("qagent", "qagent._C", "qagent._validation", "qagent._cli", "qagent._ext", "qagent._ops", "qagent.fuels",
              "qagent.distributed", "qagent.oom", "qagent.__main__")),
    ("landscape", ("qagent.landscape",)),
    ("fire", ("qagent.fire",)),
    ("env", ("qagent.env",)),
    ("agent", ("qagent.agent",)),
    ("baselines", ("qagent.evaluation.baselines",)),
    ("train", ("qagent.train",)),
    ("evaluation", ("qagent.evaluation",)),
    ("tools", ("qagent.bench",)),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _compiled() -> set[str]:
    """Compiled extension modules (``qagent._C``): leaves, importing nothing from qagent."""
    return {_module_name(p.with_name(p.name.split(".")[0] + ".py")) for p in ROOT.rglob("*.so")} | {
        "qagent._C"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import / ImportFrom node, at any depth, skipping ``if TYPE_CHECKING:`` bodies
    (their ``else`` branches still count)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, modules) -> set[str]:
    """The qagent modules that module ``name`` (file ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        for target in targets:
            # ``import a.b.c`` of a non-module attribute path: the longest module prefix.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.split(".")[0] == "qagent" and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules) | _compiled()
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    graph.update({name: set() for name in _compiled()})
    return graph


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "qagent.train.dqn" in graph and "qagent.agent.models" in graph["qagent.train.dqn"]
    # a function-level import (qagent/train/cli.py imports qagent.train.dqn inside main)
    assert "qagent.train.dqn" in graph["qagent.train.cli"]


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_layers_only_point_down():
    graph = import_graph()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
              for a, targets in sorted(graph.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_landscape_imports_nothing_above_base():
    graph = import_graph()
    landscape = layer_of("qagent.landscape")
    bad = [f"{a} imports {b}" for a, targets in sorted(graph.items()) if layer_of(a) == landscape
           for b in sorted(targets) if layer_of(b) > landscape]
    assert not bad, "\n".join(bad)


def test_the_evaluation_package_imports_none_of_its_modules():
    # importing any qagent.evaluation module runs the package's __init__ first: it must not
    # lift evaluation.baselines (below train) above train
    assert not import_graph()["qagent.evaluation"]


def test_baselines_load_nothing_of_train():
    import subprocess
    import sys

    code = ("import sys, qagent.evaluation.baselines; "
            "print(sorted(m for m in sys.modules if m.startswith(('qagent.train', 'qagent.agent', 'qagent.env'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout


def test_no_import_cycles():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles among qagent modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_cycle_finder(graph, expected):
    assert _cycles(graph) == expected


REFERENCE_ONLY = ("pyretechnics", "oracle")  # top-level modules of the tests and benchmarks, never the package's


def _top_level_imports(path: Path) -> set[str]:
    """The top-level names of the absolute imports of a file (``if TYPE_CHECKING:`` included:
    the package should not name them at all)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            found.add(node.args[0].value.split(".")[0])
    return found


def test_the_package_never_imports_pyretechnics_or_the_oracle():
    bad = [f"{name} imports {top}" for name, path in sorted(_modules().items())
           for top in sorted(_top_level_imports(path) & set(REFERENCE_ONLY))]
    assert not bad, "\n".join(bad)
    assert not (ROOT / "oracle.py").exists()


def test_the_reference_import_check_sees_every_form():
    import tempfile

    src = ("import pyretechnics.burn_cells\nfrom oracle import spread_level_set\n"
           "def f():\n    import importlib\n    return importlib.import_module('pyretechnics')\n")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.py"
        path.write_text(src)
        assert {"pyretechnics", "oracle"} <= _top_level_imports(path)


def test_type_checking_imports_are_skipped():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import qagent.fire\n"
                     "def f():\n    import qagent.env\n")
    names = [a.name for n in _import_nodes(tree) for a in n.names]
    assert "qagent.env" in names and "qagent.fire" not in names


# ----------------------------------------------------------------------------- code style
# A module docstring is a summary (what the module is for, its main entry points) and a pointer
# to the docs/ page that holds the rationale; longer text belongs on that page.
MAX_DOCSTRING_LINES = 40
MAX_LINE_LENGTH = 120
LINE_LENGTH_EXEMPT = ()  # modules allowed longer lines: none


def _docstring_lines(source: str) -> int | None:
    """The number of lines of a module's docstring, or None without one."""
    doc = ast.get_docstring(ast.parse(source), clean=False)
    return None if doc is None else len(doc.splitlines())


def _long_lines(source: str) -> list[int]:
    """The (1-based) numbers of the lines over ``MAX_LINE_LENGTH`` characters."""
    return [n for n, line in enumerate(source.splitlines(), 1) if len(line) > MAX_LINE_LENGTH]


def test_every_module_has_a_docstring_of_at_most_40_lines():
    bad = []
    for name, path in sorted(_modules().items()):
        lines = _docstring_lines(path.read_text(encoding="utf-8"))
        if lines is None:
            bad.append(f"{name}: no module docstring")
        elif lines > MAX_DOCSTRING_LINES:
            bad.append(f"{name}: a module docstring of {lines} lines; keep a summary of at most "
                       f"{MAX_DOCSTRING_LINES} and move the rest to a docs/ page")
    assert not bad, "\n".join(bad)


def test_no_line_is_over_120_characters():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).as_posix()
        if relative in LINE_LENGTH_EXEMPT:
            continue
        bad += [f"{relative}:{n}" for n in _long_lines(path.read_text(encoding="utf-8"))]
    assert not bad, f"lines over {MAX_LINE_LENGTH} characters:\n" + "\n".join(bad)


def test_the_style_checks_see_what_they_check():
    assert _docstring_lines('"""One line.\n\nTwo more\nlines.\n"""\nx = 1\n') == 4
    assert _docstring_lines("x = 1\n") is None
    assert _docstring_lines("# a comment\n'a docstring'\n") == 1
    assert _long_lines("a\n" + "b" * 121 + "\n" + "c" * 120 + "\n" + "\u00e9" * 120 + "\n") == [2]
