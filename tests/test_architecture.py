"""The import graph of the whole repository, read statically with grimp.

A cycle is what a function-local import hides: two modules that need each other have no clear
room, and a lower layer ends up reaching into a higher one. grimp reads every import of every
module, local and `TYPE_CHECKING` ones included, so hiding one does not pass. Two rules:

- no import cycle inside any package;
- every package imports only the layers below it: services never import each other, the
  libraries never import a service or a tool. As the allowed imports form no cycle, no cycle
  can run between packages either.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.unit

CONTRACTS = "billing_contracts"
KIT = "billing_kit"
SERVICES = ("catalog", "subscriptions", "invoicing", "webhook_ingest", "revenue")
LIBRARIES = (CONTRACTS, KIT)

ALLOWED: dict[str, frozenset[str]] = {
    CONTRACTS: frozenset(),
    KIT: frozenset({CONTRACTS}),
    "stripe_emulator": frozenset(),  # a stand-in for Stripe knows nothing of its clients
    **{service: frozenset(LIBRARIES) for service in SERVICES},
    "billing_devstack": frozenset(LIBRARIES),  # starts services by name, never imports them
}
"""Every top-level package of the repository, with the other packages it may import."""
PACKAGES = list(ALLOWED)


@functools.cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


@functools.cache
def _cycles() -> list[list[str]]:
    return import_cycles(_graph())


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other in a circle, as sorted module names
    (Tarjan's strongly connected components with more than one module, or a self-import)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        # Iterative depth-first search: a deep import chain must not hit the recursion limit.
        work: list[tuple[str, Iterator[str]]] = []

        def enter(name: str) -> None:
            index[name] = lowest[name] = len(index)
            stack.append(name)
            on_stack.add(name)
            work.append((name, iter(sorted(graph.find_modules_directly_imported_by(name)))))

        enter(module)
        while work:
            name, imported = work[-1]
            target = next(imported, None)
            if target is not None:
                if target not in index:
                    enter(target)
                elif target in on_stack:
                    lowest[name] = min(lowest[name], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowest[parent] = min(lowest[parent], lowest[name])
            if lowest[name] == index[name]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == name:
                        break
                self_import = name in graph.find_modules_directly_imported_by(name)
                if len(component) > 1 or self_import:
                    cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(cycles)


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """One cycle as a readable chain with the line of each import, for the failure message."""
    first, rest = cycle[0], set(cycle[1:])
    chain = graph.find_shortest_chain(importer=first, imported=next(iter(sorted(rest)))) or ()
    back = graph.find_shortest_chain(importer=chain[-1], imported=first) if chain else None
    hops = [*chain, *(back or ())[1:]]
    lines = []
    for importer, imported in pairwise(hops):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}" for d in details)
        lines.append(f"  {importer} -> {imported} ({where})")
    return f"{len(cycle)} modules: {', '.join(cycle)}\n" + "\n".join(lines)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.d")
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    graph = _graph()
    cycles = [c for c in _cycles() if any(_top(module) == package for module in c)]
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_imports_only_the_layers_below_it(package: str) -> None:
    graph = _graph()
    allowed = ALLOWED[package] | {package}
    illegal = sorted(
        f"  {module} -> {target}"
        for module in graph.modules
        if _top(module) == package
        for target in graph.find_modules_directly_imported_by(module)
        if _top(target) not in allowed
    )
    assert not illegal, f"{package} may import only {sorted(allowed)}:\n" + "\n".join(illegal)


def test_every_package_of_the_repository_is_checked() -> None:
    """A package added to the workspace joins the checks above (and picks its layer)."""
    root = Path(__file__).resolve().parents[1]
    found = {
        init.parent.name
        for group in ("libs", "services", "tools")
        for init in root.glob(f"{group}/*/src/*/__init__.py")
    }
    assert found == set(PACKAGES)
