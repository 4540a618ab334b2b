"""The import graph of the whole repository, read statically with grimp.

A cycle is what a function-local import hides: two modules that need each other have no clear
room, and a lower layer ends up reaching into a higher one. grimp reads every import of every
module, local and `TYPE_CHECKING` ones included, so hiding one does not pass. The rules:

- no import cycle inside any package;
- every package imports only the layers below it: services never import each other, the
  libraries never import a service or a tool. As the allowed imports form no cycle, no cycle
  can run between packages either;
- every service has the same rooms (``ROOMS``): each of its modules is a room, or a room
  split into a package of modules by responsibility, or a domain;
- a domain inside a service (a subpackage with the same rooms: ``saas_fees`` in invoicing and
  subscriptions, ``back_office`` in revenue) is fenced: it imports only the parent modules
  ``DOMAINS`` allows (a ``saas_fees`` only its parent's ``rules``, ``repository`` and
  ``models``), and only the parent's ``app``, ``consumers`` and ``cli`` import it;
- no module of a service is over ``MODULE_LINES``.
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


SAAS_FEES_USES = frozenset({"rules", "repository", "models"})
"""The parent's modules a service's ``saas_fees`` may import: its pure rules, its queries and
its tables (the schema's base class, the kit tables, a replica the domain reads). Nothing
else of the parent: settings come in as a protocol (invoicing's ``RetrySettings``), Stripe
through the domain's own ``stripe_gateway`` (``latest_invoice`` lives in
``billing_kit.stripe_client``), errors from the domain's own ``errors``, wiring (engines,
Stripe clients, the sweeper) from the parent's ``app`` and ``cli``. The libraries are
governed by the layer rules above."""
DOMAINS: dict[tuple[str, str], frozenset[str]] = {
    ("invoicing", "saas_fees"): SAAS_FEES_USES,
    ("subscriptions", "saas_fees"): SAAS_FEES_USES,
    # the back-office reads every agency's figures as the owner's summary does (the parent's
    # rules and queries) and draws its page with the owner's pages' styles and helpers
    ("revenue", "back_office"): SAAS_FEES_USES | {"schemas", "api"},
}
"""Every domain inside a service (a subpackage with the service's rooms), with the parent's
modules it may import."""
DOMAIN_USERS = frozenset({"app", "consumers", "cli"})
"""The parent's modules that may import one of its domains: ``app`` mounts its routes, starts
its runners and joins its pending-record sweeps to the service's sweeper; ``consumers`` route
the domain's events to it; ``cli`` runs its commands alone (``python -m invoicing retries``;
``__main__`` reaches it through ``cli``)."""


def _room(service: str, module: str) -> str | None:
    """The service's room a module belongs to (``invoicing.saas_fees.api`` → ``saas_fees``),
    None for a module of another package or the service package itself."""
    head, _, rest = module.partition(".")
    return rest.split(".", 1)[0] if head == service and rest else None


def domain_violations(
    graph: grimp.ImportGraph, service: str, domain: str, uses: frozenset[str]
) -> list[str]:
    """Imports that break the fence around ``<service>.<domain>``: the domain importing a
    parent module other than ``uses``, or a parent module other than ``DOMAIN_USERS``
    importing the domain."""
    found = []
    for module in sorted(graph.modules):
        room = _room(service, module)
        if room is None and module != service:
            continue
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            target_room = _room(service, target)
            if target_room is None and target != service:
                continue  # another package: the layer rules above decide
            if room == domain and target_room != domain and target_room not in uses:
                rooms = ", ".join(sorted(uses))
                found.append(f"  {module} -> {target} (the domain may use only {rooms})")
            if room != domain and target_room == domain and room not in DOMAIN_USERS:
                users = ", ".join(sorted(DOMAIN_USERS))
                found.append(f"  {module} -> {target} (only {users} may use {domain})")
    return found


def test_the_domain_fence_catches_both_directions() -> None:
    graph = grimp.ImportGraph()
    for module in (
        "svc",
        "svc.app",
        "svc.api",
        "svc.settings",
        "svc.models",
        "svc.saas_fees",
        "svc.saas_fees.service",
        "svc.saas_fees.models",
    ):
        graph.add_module(module)
    graph.add_import(importer="svc.app", imported="svc.saas_fees.service")  # allowed
    graph.add_import(importer="svc.saas_fees.service", imported="svc.saas_fees.models")
    graph.add_import(importer="svc.saas_fees.models", imported="svc.models")  # allowed
    graph.add_import(importer="svc.saas_fees.service", imported="svc.settings")
    graph.add_import(importer="svc.api", imported="svc.saas_fees.models")
    assert domain_violations(graph, "svc", "saas_fees", SAAS_FEES_USES) == [
        "  svc.api -> svc.saas_fees.models (only app, cli, consumers may use saas_fees)",
        "  svc.saas_fees.service -> svc.settings (the domain may use only models, repository, "
        "rules)",
    ]


@pytest.mark.parametrize(("service", "domain"), list(DOMAINS), ids=[f"{s}.{d}" for s, d in DOMAINS])
def test_each_domain_is_fenced_off_from_the_rest_of_its_service(service: str, domain: str) -> None:
    """A domain inside a service is a room of its own: it uses only the parent modules it is
    allowed (``DOMAINS``), and only the parent's app, consumers and cli use it."""
    graph = _graph()
    assert f"{service}.{domain}" in graph.modules
    illegal = domain_violations(graph, service, domain, DOMAINS[service, domain])
    assert not illegal, f"{service}.{domain} is fenced off:\n" + "\n".join(illegal)


def test_every_domain_inside_a_service_is_fenced() -> None:
    """A service that grows a subpackage other than a room (a domain) joins the fence test."""
    graph = _graph()
    found = {
        (service, module.split(".")[1])
        for service in SERVICES
        for module in graph.modules
        if module.startswith(f"{service}.")
        and module.count(".") >= 2
        and module.split(".")[1] not in ROOMS
    }
    assert found == set(DOMAINS)


ROOMS = frozenset(
    {
        "app",  # builds the FastAPI app and the broker; the one place objects are wired
        "settings",  # one BaseSettings with the service's env prefix
        "api",  # routes (and the pages people read): parse, authorize, call, shape
        "schemas",  # request and response models
        "consumers",  # the table of event type -> handler
        "service",  # the rules behind the API and the consumers; never commits
        "rules",  # pure functions of the domain
        "errors",  # the errors this service raises
        "repository",  # every query, and only queries
        "models",  # the tables of the service's schema
        "replicas",  # what it keeps of other services' data, fed by their events
        "stripe_gateway",  # every Stripe call
        "cli",  # its commands (``python -m <package> ...``)
    }
)
"""The rooms of every service and of every domain inside one. A room is a module, or a package
when it outgrows one (its modules split it by responsibility: ``invoicing/service/mirror.py``)."""
SERVICE_ROOMS = frozenset(
    {"app", "settings", "api", "schemas", "consumers", "service", "repository", "models"}
)
"""The rooms every service has; the others where it needs them (``stripe_gateway`` where it
calls Stripe, ``replicas`` where it keeps another service's data, ...)."""
DOMAIN_ROOMS = frozenset({"api", "schemas", "service", "repository", "models"})
"""The rooms every domain inside a service has."""
ENTRY_FILES = frozenset({"__init__.py", "__main__.py", "py.typed"})


def _is_package(path: Path) -> bool:
    return path.is_dir() and (path / "__init__.py").exists()


def room_plan_violations(
    package: Path, domains: frozenset[str], required: frozenset[str]
) -> list[str]:
    """Where the package at ``package`` leaves the room plan: a module that is no room, a
    subpackage that is neither a room nor one of ``domains`` (whose own plan is checked the
    same way, with no domains of their own), a package inside a room, a required room missing."""
    found: list[str] = []
    rooms: set[str] = set()
    for entry in sorted(package.iterdir()):
        name = f"{package.name}/{entry.name}"
        if entry.name in ENTRY_FILES or entry.name == "__pycache__":
            continue
        if entry.is_dir() and not _is_package(entry):
            continue  # data beside the code (templates)
        if entry.suffix == ".py" and entry.stem in ROOMS:
            rooms.add(entry.stem)
        elif _is_package(entry) and entry.name in ROOMS:
            rooms.add(entry.name)
            found += [
                f"{name}/{inner.name}: a room's package holds modules, not packages"
                for inner in sorted(entry.iterdir())
                if _is_package(inner)
            ]
        elif _is_package(entry) and entry.name in domains:
            found += [
                f"{package.name}/{line}"
                for line in room_plan_violations(entry, frozenset(), DOMAIN_ROOMS)
            ]
        else:
            found.append(f"{name}: not a room")
    found += [f"{package.name}: no {room}" for room in sorted(required - rooms)]
    return found


def _service_package(service: str) -> Path:
    root = Path(__file__).resolve().parents[1]
    (package,) = root.glob(f"services/*/src/{service}")
    return package


def test_the_room_plan_check_finds_what_breaks_it(tmp_path: Path) -> None:
    package = tmp_path / "svc"
    for module in ("__init__", "__main__", "app", "settings", "api", "schemas", "consumers"):
        (package / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (package / f"{module}.py").write_text("")
    for module in ("__init__", "mirror"):  # a room split by responsibility
        (package / "service" / f"{module}.py").parent.mkdir(exist_ok=True)
        (package / "service" / f"{module}.py").write_text("")
    (package / "models.py").write_text("")
    (package / "fee_api.py").write_text("")  # a domain kept flat by a prefix
    (package / "templates").mkdir()
    (package / "templates" / "page.html").write_text("")
    domain = package / "saas_fees"
    for module in ("__init__", "api", "schemas", "service", "models", "helpers"):
        (domain / f"{module}.py").parent.mkdir(exist_ok=True)
        (domain / f"{module}.py").write_text("")
    (package / "api.py").unlink()
    (package / "api" / "nested").mkdir(parents=True)
    for path in (package / "api" / "__init__.py", package / "api" / "nested" / "__init__.py"):
        path.write_text("")
    assert room_plan_violations(package, frozenset({"saas_fees"}), SERVICE_ROOMS) == [
        "svc/api/nested: a room's package holds modules, not packages",
        "svc/fee_api.py: not a room",
        "svc/saas_fees/helpers.py: not a room",
        "svc/saas_fees: no repository",
        "svc: no repository",
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service: str) -> None:
    """A reader who knows one service knows all five: the same rooms in each (``ROOMS``), a
    domain inside one as a subpackage with the same rooms."""
    domains = frozenset(domain for owner, domain in DOMAINS if owner == service)
    package = _service_package(service)
    assert room_plan_violations(package, domains, SERVICE_ROOMS) == []


MODULE_LINES = 400
"""A module of a service stays readable in one sitting; past this, split it by responsibility
(a room becomes a package)."""


@pytest.mark.parametrize("service", SERVICES)
def test_no_module_of_a_service_outgrows_its_room(service: str) -> None:
    package = _service_package(service)
    too_long = [
        f"{path.relative_to(package.parent)}: {lines} lines"
        for path in sorted(package.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES
    ]
    assert too_long == []
