"""Print the import graph between the product's layers and any import cycles between modules.

    .venv/bin/python scripts/import_graph.py [--modules]

Reads the code statically (grimp, the engine behind import-linter), so nothing is imported or
run. The package-level edges are what docs/architecture.md draws; a cycle is listed as the
shortest loop of modules found through each strongly connected group.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["core", "lims", "demo", "synthesis", "cells", "measurements"]


def top(module: str, depth: int = 1) -> str:
    return ".".join(module.split(".")[:depth])


def strongly_connected(graph, modules) -> list[list[str]]:
    """Tarjan's algorithm over the module import graph (iterative: the graph is small, but the
    recursion limit is not a thing to rely on)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (
                            child,
                            iter(sorted(graph.find_modules_directly_imported_by(child) & modules)),
                        )
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def main() -> None:
    sys.path.insert(0, str(ROOT))
    present = [p for p in PACKAGES if (ROOT / p / "__init__.py").exists()]
    graph = grimp.build_graph(*present, include_external_packages=False, cache_dir=None)
    modules = {m for m in graph.modules if ".migrations" not in m}
    edges: Counter = Counter()
    for importer in modules:
        for imported in graph.find_modules_directly_imported_by(importer) & modules:
            a, b = top(importer), top(imported)
            if a != b:
                edges[(a, b)] += 1
    print("Imports between packages (importer -> imported: number of module imports)")
    for (a, b), n in sorted(edges.items()):
        print(f"  {a:13} -> {b:13} {n:3}")
    groups = strongly_connected(graph, modules)
    print(f"\nImport cycles between modules: {len(groups)}")
    for group in groups:
        print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
