"""The HTTP API reference, ``docs/api.md``: a hand-written header (``docs/api-header.md``:
authentication, error shape, error codes, ports) followed by one section per service,
rendered from the OpenAPI document each service prints (``python -m <service> openapi``).

``python -m billing_kit.api_docs`` prints it; ``--write`` refreshes the committed copy, which
a test keeps in step with the code (``make api-docs``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "docs" / "api.md"
HEADER = ROOT / "docs" / "api-header.md"
METHODS = ("get", "post", "put", "patch", "delete")
ERROR_SCHEMAS = {"ErrorBody", "ErrorDetail", "FieldError", "HTTPValidationError", "ValidationError"}

Document = dict[str, Any]


def service_packages(root: Path = ROOT) -> list[str]:
    """Every service of the repository: ``services/<dir>/src/<package>/__main__.py``."""
    return sorted(main.parent.name for main in root.glob("services/*/src/*/__main__.py"))


def collect(packages: Iterable[str]) -> dict[str, Document]:
    """Each service's OpenAPI document, from its own process (services never share one)."""
    env = {**os.environ, "BILLING_ENV": "development"}
    documents = {}
    for package in packages:
        printed = subprocess.run(
            [sys.executable, "-m", package, "openapi"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        documents[package] = json.loads(printed)
    return documents


def render(documents: Mapping[str, Document], header: str | None = None) -> str:
    parts = [(HEADER.read_text() if header is None else header).rstrip() + "\n"]
    for document in sorted(documents.values(), key=_port):
        parts.append(_service(document))
    return "\n".join(parts)


def _port(document: Document) -> str:
    servers = document.get("servers") or [{"url": ""}]
    return str(servers[0]["url"])


def _service(document: Document) -> str:
    title = document["info"]["title"]
    lines = [f"## {title}", "", f"Served at `{_port(document)}` by default.", ""]
    operations = [
        (path, method, operation)
        for path, item in sorted(document["paths"].items())
        for method, operation in item.items()
        if method in METHODS and "operations" not in operation.get("tags", [])
    ]
    if not operations:
        return "\n".join([*lines, "No routes besides the probes and metrics yet.", ""])
    lines += ["| Method | Path | What | Answers |", "| --- | --- | --- | --- |"]
    for path, method, operation in operations:
        answers = ", ".join(sorted(operation.get("responses", {})))
        lines.append(f"| {method.upper()} | `{path}` | {_summary(operation)} | {answers} |")
    lines.append("")
    for path, method, operation in operations:
        lines += _operation(path, method, operation)
    schemas = document.get("components", {}).get("schemas", {})
    shown = {name: schema for name, schema in schemas.items() if name not in ERROR_SCHEMAS}
    if shown:
        lines += [f"### {title} schemas", ""]
        for name, schema in sorted(shown.items()):
            lines += _schema(name, schema)
    return "\n".join(lines)


def _summary(operation: Document) -> str:
    return str(operation.get("summary") or operation.get("operationId", "")).replace("|", "/")


def _operation(path: str, method: str, operation: Document) -> list[str]:
    lines = [f"### {method.upper()} `{path}`", ""]
    description = (operation.get("description") or "").strip()
    lines += [description, ""] if description else []
    if operation.get("security"):
        lines += ["Needs a gateway token (`Authorization: Bearer ...`).", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| Parameter | In | Type | Required |", "| --- | --- | --- | --- |"]
        for parameter in parameters:
            kind = _type(parameter.get("schema", {}))
            required = "yes" if parameter.get("required") else "no"
            lines.append(f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} |")
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {})
    for media_type, content in body.items():
        lines += [f"Body ({media_type}): {_type(content.get('schema', {}))}", ""]
    lines += ["| Status | Answer |", "| --- | --- |"]
    for status, response in sorted(operation.get("responses", {}).items()):
        lines.append(f"| {status} | {_answer(response)} |")
    lines.append("")
    return lines


def _answer(response: Document) -> str:
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    description = str(response.get("description", ""))
    if schema is not None and _type(schema) == "`ErrorBody`":
        codes = ", ".join(f"`{code.strip()}`" for code in description.split("/"))
        return f"error: {codes}"
    return _type(schema) if schema else description


def _schema(name: str, schema: Document) -> list[str]:
    lines = [f"#### `{name}`", ""]
    description = (schema.get("description") or "").strip()
    lines += [description, ""] if description else []
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, f"{_type(schema)}", ""]
    required = set(schema.get("required", []))
    lines += ["| Field | Type | Required | Notes |", "| --- | --- | --- | --- |"]
    for field, spec in properties.items():
        needed = "yes" if field in required else "no"
        lines.append(f"| `{field}` | {_type(spec)} | {needed} | {_notes(spec)} |")
    lines.append("")
    return lines


def _type(schema: Document) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " / ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return " or ".join(_type(option) for option in schema[combined])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        return f"map to {_type(values)}" if isinstance(values, dict) else "object"
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    return str(kind or "any")


def _notes(spec: Document) -> str:
    notes = []
    description = (spec.get("description") or "").strip()
    if description:
        notes.append(" ".join(description.split()))
    limits = {
        "minLength": "length at least {}",
        "maxLength": "length at most {}",
        "minimum": "from {}",
        "maximum": "up to {}",
    }
    for bound in (spec, *spec.get("anyOf", [])):
        for key, text in limits.items():
            if key in bound:
                value = bound[key]
                notes.append(text.format(int(value) if float(value).is_integer() else value))
    if "default" in spec and spec["default"] is not None:
        notes.append(f"default `{json.dumps(spec['default'])}`")
    return "; ".join(notes).replace("|", "/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {COMMITTED}")
    args = parser.parse_args()
    text = render(collect(service_packages()))
    if args.write:
        COMMITTED.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
