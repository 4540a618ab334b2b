"""The emulator's layers: each module imports only from the layers below its own."""

from __future__ import annotations

import grimp
import pytest

pytestmark = pytest.mark.unit

LAYERS = (
    "__main__",
    "app",
    "entrypoints",  # /v1 edge, /v2 accounts, /_emulator control, hosted pages
    "emulator",  # state + faults + webhook delivery, built and reset together
    "routes",  # one module per Stripe resource
    grimp.Layer("routing", "expansion"),
    grimp.Layer("rules", "delivery"),
    "shapes",
    "context",
    grimp.Layer("forms", "faults", "settings"),
    "store",
    "errors",
)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    graph = grimp.build_graph("stripe_emulator", cache_dir=None)
    illegal = graph.find_illegal_dependencies_for_layers(
        layers=LAYERS, containers={"stripe_emulator"}
    )
    found = sorted(f"{d.importer} imports {d.imported}" for d in illegal)
    assert found == []
