"""The project's import graph: no circles between its modules, and each room imports only the
rooms below it.

    python -m tools.import_graph          exits 1 and names every circle and forbidden import

Every `import`, module level or inside a function, counts (a lazy import is still a circle).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The project's top-level packages and modules.
PACKAGES = (
    "lambdas",
    "sandbox",
    "installer",
    "blueprints",
    "cloud_assembly",
    "bootstrap_stack",
    "app",
    "bench",
    "tools",
    "tests",
)
#: What each room may not import (by prefix): the code that runs in AWS knows nothing of the
#: operator's tools, the release content and the bootstrap stack nothing of the CLI, the local AWS
#: nothing of the CLI or the release build. No room of the product (what the package ships:
#: everything but `bench` and `tests`) imports `tests`: its fixtures, the synthetic release among
#: them, are the tests' own.
FORBIDDEN: Mapping[str, tuple[str, ...]] = {
    "lambdas": ("installer", "sandbox", "blueprints", "bootstrap_stack", "app", "bench", "tools", "tests"),
    "blueprints": ("installer", "sandbox", "bench", "app", "tests"),
    "bootstrap_stack": ("installer", "sandbox", "bench", "app", "tests"),
    "sandbox": ("installer", "blueprints", "bootstrap_stack", "app", "bench", "tests"),
    "cloud_assembly": (
        "lambdas",
        "sandbox",
        "installer",
        "blueprints",
        "bootstrap_stack",
        "app",
        "bench",
        "tools",
        "tests",
    ),
    "installer": ("bench", "app", "tests"),
    "app": ("bench", "tests"),
    "tools": ("bench", "tests"),
}


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in PACKAGES:
        single = root / f"{name}.py"
        if single.is_file():
            found[name] = single
        for file in sorted((root / name).rglob("*.py")) if (root / name).is_dir() else []:
            if "__pycache__" in file.parts or "node_modules" in file.parts:  # npm packages' templates
                continue
            parts = file.relative_to(root).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[module] = file
    return found


def _imported(module: str, file: Path, known: Mapping[str, Path]) -> set[str]:
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    targets = set()
    for name in names:
        # `import a.b.c` imports a, a.b and a.b.c: the deepest one that is ours is the edge.
        ours = name
        while ours and ours not in known:
            ours = ours.rpartition(".")[0]
        if ours and ours != module:
            targets.add(ours)
    return targets


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {module: _imported(module, file, known) for module, file in known.items()}


def circles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def forbidden(edges: Mapping[str, Iterable[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(edges.items()):
        room = module.split(".")[0]
        for target in sorted(targets):
            if target.split(".")[0] in FORBIDDEN.get(room, ()):
                problems.append(f"{module} imports {target}")
    return problems


#: Only `lambdas.data` creates AWS clients or catches botocore's errors (the others import them from it).
AWS_SDK = ("boto3", "botocore")
DATA_ACCESS = "lambdas.data"


def aws_sdk_outside_data_access(root: Path = ROOT) -> list[str]:
    """`lambdas` modules outside `lambdas.data` that import boto3 or botocore themselves."""
    problems = []
    for module, file in sorted(modules(root).items()):
        if not module.startswith("lambdas") or module == DATA_ACCESS or module.startswith(DATA_ACCESS + "."):
            continue
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            problems += [f"{module} imports {n}" for n in names if n.split(".")[0] in AWS_SDK]
    return problems


def main() -> int:
    edges = graph()
    problems = [f"import circle: {' <-> '.join(c)}" for c in circles(edges)]
    problems += [f"forbidden import: {p}" for p in forbidden(edges)]
    problems += [f"AWS SDK outside {DATA_ACCESS}: {p}" for p in aws_sdk_outside_data_access()]
    for problem in problems:
        print(problem)
    print(f"{len(edges)} modules, {sum(len(t) for t in edges.values())} imports, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
