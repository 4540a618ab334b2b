"""``docs/api.md`` is generated from the services' OpenAPI documents and stays current; its
header documents every error code a service can answer."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from billing_kit.api_docs import COMMITTED, collect, render, service_packages
from billing_kit.errors import METHOD_NOT_ALLOWED, OTHER_HTTP_ERROR, BillingError

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # no infrastructure, but seconds each


def test_the_committed_api_reference_is_current() -> None:
    assert COMMITTED.read_text() == render(collect(service_packages())), (
        "docs/api.md is stale: run `make api-docs` and commit it"
    )


def test_every_service_has_its_section() -> None:
    sections = set(re.findall(r"^## (\S+)$", COMMITTED.read_text(), flags=re.MULTILINE))
    names = {package.replace("_", "-") for package in service_packages()}
    assert len(names) == 5
    assert names <= sections


def _error_types(cls: type[BillingError]) -> set[type[BillingError]]:
    found = {cls}
    for subclass in cls.__subclasses__():
        found |= _error_types(subclass)
    return found


def test_every_error_code_a_service_answers_is_in_the_codes_table() -> None:
    for package in service_packages():  # every module, so every error class is defined
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    codes = {error.code for error in _error_types(BillingError)}
    codes |= {METHOD_NOT_ALLOWED, OTHER_HTTP_ERROR}
    assert {"invalid_signature", "payload_too_large", "internal_error"} <= codes
    documented = set(
        re.findall(r"^\| `([a-z_]+)` \| (?:\d{3}|other) \|", COMMITTED.read_text(), re.M)
    )
    assert codes <= documented, f"add to docs/api-header.md: {sorted(codes - documented)}"
