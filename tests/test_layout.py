"""The tests mirror the code: test modules (``test_*.py``) beside the conftest of their folder,
every other module they use in ``tests/helpers/``, fixtures shared across folders as pytest
plugins in ``tests/plugins/`` loaded by the top conftest. No module imports a conftest or a
test module: pytest loads those itself, and a fixture imported from elsewhere is a second
copy of it with its own scope."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HELPERS = TESTS / "helpers"
PLUGINS = TESTS / "plugins"
FIXED_NAMES = {"__init__.py", "conftest.py"}
# Modules that are neither tests, conftests nor helpers, each with the reason it stays.
EXCEPTIONS: dict[str, str] = {}

pytestmark = pytest.mark.unit


def modules() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    package = dotted(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def is_test_module(name: str) -> bool:
    return name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")


def test_no_module_imports_a_conftest_or_a_test_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules()
        for name in imported(path)
        if name.rsplit(".", 1)[-1] == "conftest" or (is_test_module(name) and name != dotted(path))
    ]
    assert offenders == []


def test_every_module_is_a_test_a_conftest_a_helper_or_a_plugin() -> None:
    misplaced = [
        str(path.relative_to(ROOT))
        for path in modules()
        if path.name not in FIXED_NAMES
        and not path.name.startswith("test_")
        and HELPERS not in path.parents
        and PLUGINS not in path.parents
        and str(path.relative_to(ROOT)) not in EXCEPTIONS
    ]
    assert misplaced == []


def test_helpers_define_no_fixtures() -> None:
    """A fixture lives in the conftest of the folder that uses it, or in a plugin when more
    than one folder does."""
    with_fixtures = [
        str(path.relative_to(ROOT))
        for path in modules()
        if HELPERS in path.parents and "pytest.fixture" in path.read_text()
    ]
    assert with_fixtures == []


def test_every_plugin_is_loaded_by_the_top_conftest_and_only_there() -> None:
    def declared(conftest: Path) -> list[str]:
        for node in ast.parse(conftest.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "pytest_plugins"
                for target in node.targets
            ):
                return list(ast.literal_eval(node.value))
        return []

    plugins = {dotted(path) for path in PLUGINS.glob("*.py") if path.name != "__init__.py"}
    assert sorted(declared(TESTS / "conftest.py")) == sorted(plugins)
    elsewhere = [
        str(path.relative_to(ROOT))
        for path in modules()
        if path.name == "conftest.py" and path.parent != TESTS and declared(path)
    ]
    assert elsewhere == []
