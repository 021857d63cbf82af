"""The architecture, as tests: the import contracts in pyproject.toml hold, no two of our modules
import each other round a cycle, and nothing has grown past the size STYLE.md says to split at.

The packages are the contracts' root_packages, so there is one list to keep. Each check is a
small function of its input (a graph, a source text), tested on a made-up case first: a check
that cannot fail proves nothing.
"""

import ast
import subprocess
import sys
import tomllib
from collections import deque
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"
]

# STYLE.md: split a module into a package past ~600 lines; a function over ~30 lines deserves a
# second look, so one over 60 has been looked at twice and should have been split.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60

Graph = dict[str, set[str]]


# --- the import contracts --------------------------------------------------------------------


def test_the_import_contracts_hold():
    # The same command `make lint` runs, so the test and CI cannot disagree about the rules.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}{result.stderr}"


# --- import cycles ---------------------------------------------------------------------------


def strongly_connected_components(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep import chain must not hit the recursion limit).
    Every component of more than one module is a set of modules importing each other round."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []
    work: list[tuple[str, Iterator[str]]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        work.append((node, iter(sorted(graph.get(node, ())))))

    def close(node: str) -> None:
        component = stack[stack.index(node) :]
        del stack[stack.index(node) :]
        if len(component) > 1:
            components.append(sorted(component))

    for start in sorted(graph):
        if start not in index:
            visit(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    visit(successor)
                    break
                if successor in stack:
                    low[node] = min(low[node], index[successor])
            else:  # every successor seen: node is done
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    close(node)
    return sorted(components)


def a_cycle_through(first: str, component: list[str], graph: Graph) -> list[str]:
    """The shortest import loop from `first` back to itself inside its component."""
    members = set(component)
    came_from: dict[str, str | None] = {first: None}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node] & members):
            if successor == first:
                path = [node]
                while (previous := came_from[path[-1]]) is not None:
                    path.append(previous)
                return [*reversed(path), first]
            if successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    raise AssertionError(f"{first} is in no cycle of {component}")


def describe_cycles(graph: Graph, line_of: Callable[[str, str], str]) -> list[str]:
    """One entry per cycle: its modules, then one loop through them with each import's line."""
    described = []
    for component in strongly_connected_components(graph):
        loop = a_cycle_through(component[0], component, graph)
        steps = "".join(
            f"{importer}{line_of(importer, imported)} -> " for importer, imported in pairwise(loop)
        )
        described.append(f"{', '.join(component)}\n    e.g. {steps}{loop[-1]}")
    return described


def test_the_cycle_finder_finds_every_cycle_and_only_cycles():
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},  # a -> b -> c -> a
        "d": {"e"},
        "e": {"d"},  # d <-> e, reached from the first cycle but not part of it
        "f": {"a"},  # imports a cycle without being in one
    }
    assert strongly_connected_components(graph) == [["a", "b", "c"], ["d", "e"]]
    assert a_cycle_through("a", ["a", "b", "c"], graph) == ["a", "b", "c", "a"]
    assert strongly_connected_components({"a": {"b"}, "b": set()}) == []


def our_import_graph() -> tuple[Graph, grimp.ImportGraph]:
    imports = grimp.build_graph(*PACKAGES, cache_dir=None)
    return {m: imports.find_modules_directly_imported_by(m) for m in imports.modules}, imports


def test_no_two_of_our_modules_import_each_other_round_a_cycle():
    # Imports inside functions count: a lazy import that only hides a cycle is still one.
    graph, imports = our_import_graph()

    def line_of(importer: str, imported: str) -> str:
        details = imports.get_import_details(importer=importer, imported=imported)
        return f" (l.{details[0]['line_number']})" if details else ""

    cycles = describe_cycles(graph, line_of)
    assert not cycles, "modules importing each other round a cycle:\n" + "\n".join(cycles)


# --- sizes -----------------------------------------------------------------------------------


def our_modules() -> Iterator[Path]:
    """Our application code: the packages and manage.py, without migrations (generated)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path
    yield ROOT / "manage.py"


def long_functions(source: str, limit: int) -> list[tuple[int, str, int]]:
    """(line, name, length) of every function or method longer than `limit` lines."""
    return [
        (node.lineno, node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_the_length_check_counts_a_function_from_def_to_its_last_line():
    body = "".join(f"        x{n} = {n}\n" for n in range(4))
    source = f"def short():\n    pass\n\n\nclass C:\n    async def long(self):\n{body}"
    assert long_functions(source, limit=4) == [(6, "long", 5)]
    assert long_functions(source, limit=5) == []


def test_no_module_of_ours_is_over_600_lines():
    offenders = []
    for path in our_modules():
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines (split them):\n" + "\n".join(
        offenders
    )


def test_no_function_of_ours_is_over_60_lines():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {name}: {length} lines"
        for path in our_modules()
        for line, name, length in long_functions(path.read_text(), MAX_FUNCTION_LINES)
    ]
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(offenders)
