"""Stripe's form encoding: `items[0][price]=…`, `metadata[k]=…`, `expand[]=…` → nested values."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from stripe_emulator.errors import invalid_param, missing_param

Params = dict[str, Any]

_SEGMENT = re.compile(r"\[([^\]]*)\]")
# Maps whose keys are free text even when they look like list indexes.
_FREE_KEYS = frozenset({"metadata"})


def _split_key(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    return [head, *_SEGMENT.findall(key[len(head) :])]


def parse_form(body: str) -> Params:
    """Parse a form-encoded body (or query string) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = _split_key(key)
        node: dict[str, Any] = root
        for part in parts[:-1]:
            segment = part or str(len(node))
            child = node.get(segment)
            if not isinstance(child, dict):
                child = {}
                node[segment] = child
            node = child
        last = parts[-1]
        if last == "":
            last = str(len(node))
        node[last] = value
    parsed: Params = _listify(root, None)
    return parsed


def _listify(node: dict[str, Any], parent_key: str | None) -> Any:
    for key, value in list(node.items()):
        if isinstance(value, dict):
            node[key] = _listify(value, key)
    if parent_key not in _FREE_KEYS and node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


def get_str(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise invalid_param(name, f"Invalid string: {value!r}")
    return value


def req_str(params: Params, name: str) -> str:
    value = get_str(params, name, required=True)
    assert value is not None
    return value


def get_int(params: Params, name: str, *, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    try:
        return int(str(value))
    except ValueError:
        raise invalid_param(name, f"Invalid integer: {value}") from None


def get_decimal(params: Params, name: str) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise invalid_param(name, f"Invalid decimal: {value}") from None


def get_bool(params: Params, name: str, default: bool | None = None) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid_param(name, f"Invalid boolean: {value}")


def get_dict(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if not isinstance(value, dict):
        raise invalid_param(name, f"Invalid hash: {name} must be an object")
    return value


def get_list(params: Params, name: str) -> list[Any]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: (len(k), k))]
    return [value]


def merge_metadata(current: dict[str, Any], params: Params) -> dict[str, Any]:
    """Apply Stripe's metadata update rules: empty value deletes a key, `metadata=` clears."""
    if "metadata" not in params:
        return current
    raw = params["metadata"]
    if raw == "":
        return {}
    updates = get_dict(params, "metadata")
    merged = dict(current)
    for key, value in updates.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged
