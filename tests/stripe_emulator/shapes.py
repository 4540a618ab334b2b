"""Compare our objects with Stripe's example objects (fixtures3.json)."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

from stripe._object_classes import OBJECT_CLASSES


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | Decimal):  # the SDK parses decimal strings into Decimal
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _nullable_in_sdk(object_name: str, key: str) -> bool:
    """Whether the SDK types `key` as Optional: Stripe documents it as nullable."""
    entry = OBJECT_CLASSES.get(object_name)
    if entry is None:
        return False
    module_name, class_name = entry
    cls = getattr(importlib.import_module(module_name), class_name)
    annotation = getattr(cls, "__annotations__", {}).get(key)
    return annotation is not None and ("Optional" in str(annotation) or "None" in str(annotation))


def shape_mismatches(ours: dict[str, Any], example: dict[str, Any]) -> list[str]:
    """Every top-level key of Stripe's example must be on ours with the same JSON type;
    null is accepted where the example is null or the SDK types the field as nullable."""
    problems = []
    object_name = str(example.get("object", ""))
    for key, value in example.items():
        if key not in ours:
            problems.append(f"missing {key}")
            continue
        theirs_type, ours_type = json_type(value), json_type(ours[key])
        if theirs_type == "null" or theirs_type == ours_type:
            continue
        if ours_type == "null" and _nullable_in_sdk(object_name, key):
            continue
        problems.append(f"{key}: {ours_type} != {theirs_type}")
    return problems
