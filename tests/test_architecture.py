"""The import graph of the whole repository (read statically with grimp, so imports inside
functions and under ``TYPE_CHECKING`` count too): no module cycle inside any package, and
every package imports only the layers below it — services never import each other, the
libraries never import a service or a tool."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.unit

CONTRACTS = "billing_contracts"
KIT = "billing_kit"
SERVICES = ("catalog", "subscriptions", "invoicing", "webhook_ingest", "revenue")
LIBRARIES = (CONTRACTS, KIT)

# Every first-party package, with the first-party packages it may import.
ALLOWED: dict[str, frozenset[str]] = {
    CONTRACTS: frozenset(),
    KIT: frozenset({CONTRACTS}),
    "stripe_emulator": frozenset(),  # a stand-in for Stripe knows nothing of its clients
    **{service: frozenset(LIBRARIES) for service in SERVICES},
    "billing_devstack": frozenset(LIBRARIES),  # starts services by name, never imports them
}
PACKAGES = tuple(ALLOWED)


@functools.cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> Iterator[set[str]]:
    """Tarjan's algorithm, iterative (a deep package must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    yield component


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_the_package(package: str) -> None:
    graph = _graph()
    modules = {m for m in graph.modules if _top(m) == package}
    edges = {
        m: {t for t in graph.find_modules_directly_imported_by(m) if t in modules and t != m}
        for m in modules
    }
    cycles = [sorted(c) for c in _strongly_connected(modules, edges) if len(c) > 1]
    report = [
        "\n".join(f"  {m} -> {t}" for m in cycle for t in sorted(edges[m]) if t in cycle)
        for cycle in cycles
    ]
    assert not cycles, f"{len(cycles)} import cycle(s) in {package}:\n" + "\n\n".join(report)


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
