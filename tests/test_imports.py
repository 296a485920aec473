"""The package's import graph (docs: ARCHITECTURE.md): dependencies point down and nothing
imports in a circle. Every import counts, those at module level and those inside functions
(lazy imports); the graph is read from the source with `ast`, so nothing is imported to build it.

Edges join the package's own modules only. `from . import x` names the module x where x is
one; `from .m import name` names m. Importing a.b.c also runs a/__init__.py and a/b/__init__.py,
but those implicit parent imports are not edges, as no module wrote them.
"""
import ast
import importlib.util
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Set, Tuple

PACKAGE = "spacy_window_ner"
ROOT = Path(str(importlib.util.find_spec(PACKAGE).origin)).parent  # found, not imported
Graph = Dict[str, Set[str]]

# What a module may not import, relative to the package and by prefix (a package and everything
# in it): the knowledge base knows nothing of pipes or of the command line, layers know nothing
# of pipes, and only __main__ runs the command line (whose own modules import one another).
FORBIDDEN: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("kb", ("ner", "rel", "cli")),
    ("layers", ("ner", "rel", "cli")),
    ("", ("cli",)),
)
MAY_IMPORT_CLI = ("__main__", "cli")

# Circles tolerated for now, outside kb/ only: each entry is the set of modules of one circle
# (a strongly connected component), with a comment naming the issue that breaks it. There are
# none today; kb/ may never have one.
ALLOWED_CYCLES: Set[FrozenSet[str]] = set()


def module_names(root: Path, package: str) -> Dict[str, Path]:
    """The package's modules by dotted name (a package by its own name, for its __init__.py)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported(module: str, is_package: bool, tree: ast.AST, known: Iterable[str]) -> Set[str]:
    """The known modules that `module` imports anywhere in its source (lazy imports included).

    module (str): The importing module's dotted name.
    is_package (bool): Whether it is a package's __init__.py (relative imports start there).
    tree (ast.AST): Its parsed source.
    known (Iterable[str]): The modules of the graph.
    RETURNS (Set[str]): The modules it imports.
    """
    known = set(known)
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import name`: the submodule pkg.name where it is one, else pkg itself.
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import pkg.mod.Name`-like forms: the module
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> Graph:
    """Every module of the package, with the package modules it imports."""
    names = module_names(root, package)
    return {
        name: imported(name, path.name == "__init__.py", ast.parse(path.read_text("utf8"), str(path)), names)
        for name, path in names.items()
    }


def cycles(graph: Graph) -> List[Tuple[FrozenSet[str], List[str]]]:
    """The import circles: each strongly connected component of more than one module, and the
    shortest circle through its first module, e.g. [a, b, a] for a -> b -> a."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [(frozenset(component), _circle(graph, component)) for component in components]


def _circle(graph: Graph, component: Set[str]) -> List[str]:
    """One circle through a strongly connected component, from its first module back to it."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:  # breadth first, inside the component: the shortest way back to start
        node = todo.pop(0)
        for other in sorted(graph[node] & component):
            if other == start:
                return paths[node] + [start]
            if other not in paths:
                paths[other] = paths[node] + [other]
                todo.append(other)
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def forbidden_imports(graph: Graph, package: str = PACKAGE) -> List[str]:
    """The imports FORBIDDEN rules out, as "importer -> imported"."""
    def within(module: str, scope: str) -> bool:
        name = f"{package}.{scope}" if scope else package
        return module == name or module.startswith(name + ".")

    found = []
    for module, targets in sorted(graph.items()):
        runs_cli = any(within(module, runner) for runner in MAY_IMPORT_CLI)
        for target in sorted(targets):
            for scope, banned in FORBIDDEN:
                if within(module, scope) and any(within(target, b) for b in banned if not (b == "cli" and runs_cli)):
                    found.append(f"{module} -> {target}")
                    break
    return found


def describe_cycles(found: List[Tuple[FrozenSet[str], List[str]]]) -> str:
    """The circles, one a line: the circle, and every module of its component where there are more."""
    lines = []
    for members, circle in found:
        rest = sorted(members - set(circle))
        lines.append(" -> ".join(circle) + (f" (with {', '.join(rest)})" if rest else ""))
    return "\n".join(lines)


def test_imports_no_cycles():
    graph = import_graph()
    assert f"{PACKAGE}.kb.store" in graph[f"{PACKAGE}.kb.build"]  # the graph is read at all
    assert not any(module.startswith(f"{PACKAGE}.kb.") for circle in ALLOWED_CYCLES for module in circle)
    found = [(members, circle) for members, circle in cycles(graph) if members not in ALLOWED_CYCLES]
    assert not found, "import circles:\n" + describe_cycles(found)


def test_imports_point_down():
    found = forbidden_imports(import_graph())
    assert not found, "imports of a module above the importer:\n" + "\n".join(found)


def test_imports_checker_finds_planted_cycle(tmp_path):
    """The checker sees a circle closed by a lazy import inside a function, three modules long,
    relative and absolute imports, and a forbidden import; and no circle where there is none."""
    root = tmp_path / "pkg"
    (root / "kb").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "cli.py").write_text("from .kb import store\n")
    (root / "kb" / "__init__.py").write_text("from .build import run\n")
    (root / "kb" / "store.py").write_text("import pkg.kb.rows\n")
    (root / "kb" / "rows.py").write_text("from . import build\n")
    (root / "kb" / "build.py").write_text("def run():\n    from .store import X\n    from .. import cli\n")
    graph = import_graph(root, "pkg")
    assert graph["pkg.kb.build"] == {"pkg.kb.store", "pkg.cli"}
    assert graph["pkg"] == set()
    found = cycles(graph)
    circle = ["pkg.cli", "pkg.kb.store", "pkg.kb.rows", "pkg.kb.build", "pkg.cli"]
    assert found == [(frozenset(circle), circle)]
    assert describe_cycles(found) == " -> ".join(circle)
    assert "pkg.kb.build -> pkg.cli" in forbidden_imports(graph, "pkg")
    (root / "kb" / "rows.py").write_text("X = 1\n")  # the circle broken
    assert cycles(import_graph(root, "pkg")) == []
    # A component larger than the circle shown is named whole.
    three = {"a": {"b"}, "b": {"a", "c"}, "c": {"b"}, "d": {"a"}}
    assert describe_cycles(cycles(three)) == "a -> b -> a (with c)"


# What the test modules may import of the test tree: the shared helpers (util.py, as spaCy's
# tests keep theirs) and what tests and benchmarks share (data, mirrors, the PostgreSQL harness).
# A test module never imports another test module, and nothing in tests/ imports `benchmarks`:
# the suite stands alone; the benchmarks' own tests live beside them, in benchmarks/tests/.
TEST_HELPERS = ("util", "data", "mirrors", "postgres_server")


def stray_test_imports(tests_dir: Path) -> List[str]:
    """The imports in tests_dir that break the rule above, as "file: imported"."""
    found = []
    for path in sorted(tests_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = "tests." if node.level else ""
                names = [base + (node.module or "")] if node.module else [f"tests.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "benchmarks" or (parts[0] == "tests" and parts[1:2] and parts[1] not in TEST_HELPERS):
                    found.append(f"{path.relative_to(tests_dir)}: {name}")
    return found


def test_imports_tests_stand_alone():
    tests_dir = Path(__file__).parent
    assert (tests_dir / "conftest.py").is_file()  # the tree is read at all
    found = stray_test_imports(tests_dir)
    assert not found, "test modules that import benchmarks or another test module:\n" + "\n".join(found)


def test_imports_tests_checker_finds_planted_imports(tmp_path):
    (tmp_path / "test_a.py").write_text("from .util import x\nfrom tests.data import data_dir\n")
    assert stray_test_imports(tmp_path) == []
    (tmp_path / "test_b.py").write_text("from .test_a import x\nimport benchmarks.kb\nfrom benchmarks.resolution.score import pairwise\n")
    (tmp_path / "conftest.py").write_text("from . import test_a\n")
    assert stray_test_imports(tmp_path) == [
        "conftest.py: tests.test_a",
        "test_b.py: tests.test_a",
        "test_b.py: benchmarks.kb",
        "test_b.py: benchmarks.resolution.score",
    ]
