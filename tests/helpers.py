"""Helpers shared by test modules (not a test module: nothing here is collected).

Test modules import these instead of importing from one another (a test module imported by
another is collected twice over and couples unrelated tests).
"""

import ast
import json
import pathlib
import threading
import time

from django.db import connection

ROOT = pathlib.Path(__file__).resolve().parents[1]


def commit() -> None:
    """Run (and drop) the test transaction's after-commit hooks, as a real commit would."""
    hooks, connection.run_on_commit[:] = list(connection.run_on_commit), []
    for _, hook, _ in hooks:
        hook()


def run_in_threads(count: int, work, timeout: float = 120.0) -> list:
    """Run work(i) in `count` threads released together; return their results or exceptions.

    Each thread closes its database connection when done (integration tests on PostgreSQL).
    """
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy (tests with real workers); return its value or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def openapi_schema() -> dict:
    """The schema /api/schema/ serves, as JSON (what a client generator or fuzzer reads)."""
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


# --- the import graph of a package (architecture tests) --------------------------------------------
def _module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: pathlib.Path, path: pathlib.Path) -> set[str]:
    """Every module `path` imports, wherever the import statement is (in functions too)."""
    name = _module_name(root, path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """{module: the package's modules it imports} for every module of `package` (migrations aside).

    An import of a package counts as an import of its `__init__`, and `from a import b` of both
    `a` and `a.b`.
    """
    root = ROOT
    directory = root / package.replace(".", "/")
    modules = {_module_name(root, p): p for p in directory.rglob("*.py") if "migrations" not in p.parts}
    return {name: {m for m in imports_of(root, path) if m in modules and m != name} for name, path in modules.items()}


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found
