"""Compare our objects with Stripe's example objects (fixtures3.json) and the SDK's types."""

from __future__ import annotations

import importlib
import typing
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


def sdk_class(object_name: str) -> type | None:
    """The SDK's class for Stripe objects whose `object` is `object_name`."""
    entry = OBJECT_CLASSES.get(object_name)
    if entry is None:
        return None
    module_name, class_name = entry
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls


def _nullable_in_sdk(object_name: str, key: str) -> bool:
    """Whether the SDK types `key` as Optional: Stripe documents it as nullable."""
    cls = sdk_class(object_name)
    if cls is None:
        return False
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


def _is_expandable(annotation: Any) -> bool:
    """`ExpandableField[X]` (the SDK's `Union[str, X]`), also inside Optional or List; an
    open enum (`Union[Literal[...], str]`) is not one."""
    if typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        objects = [
            a for a in members if a is not str and typing.get_origin(a) is not typing.Literal
        ]
        return (str in members and bool(objects)) or any(_is_expandable(a) for a in members)
    if typing.get_origin(annotation) is list:
        return any(_is_expandable(a) for a in typing.get_args(annotation))
    return False


def expandable_paths(object_name: str) -> list[str]:
    """Every expandable field the SDK types on `object_name`, nested ones as dotted paths
    (`invoice_settings.default_payment_method`)."""
    paths: list[str] = []

    def walk(cls: type, prefix: str, depth: int) -> None:
        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            annotations.update(vars(klass).get("__annotations__", {}))
        inner: dict[str, type] = getattr(cls, "_inner_class_types", {})
        for name, annotation in annotations.items():
            if name.startswith("_") or name.isupper():
                continue
            if _is_expandable(annotation):
                paths.append(prefix + name)
            elif name in inner and depth < 6:
                walk(inner[name], f"{prefix}{name}.", depth + 1)

    cls = sdk_class(object_name)
    if cls is not None:
        walk(cls, "", 0)
    return sorted(paths)
