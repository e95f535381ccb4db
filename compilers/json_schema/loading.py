"""Turn what a user passes as a schema into a parsed JSON Schema.

Accepts a dict or bool, JSON text, a path to a ``.json`` file, a Pydantic model class, or
a dataclass / TypedDict (through Pydantic's ``TypeAdapter``; Pydantic is optional).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from compilers.errors import SchemaError
from compilers.json_schema.guards import check_json_text_depth, check_schema_size
from compilers.options import Limits

__all__ = ["load_schema"]


def load_schema(spec: Any, limits: Limits | None = None) -> tuple[Any, str]:
    """Return ``(schema, source name)``, checked against ``limits`` (schema size and
    nesting depth).

    Raises
    ------
    SchemaError
        The text is not JSON (or not UTF-8), the file cannot be read, or the object is not
        a schema.
    LimitExceededError
        The schema is larger or nests deeper than ``limits`` allow.
    """
    limits = limits or Limits()
    schema, source = _load(spec, limits)
    check_schema_size(schema, limits, source)
    return schema, source


def _load(spec: Any, limits: Limits) -> tuple[Any, str]:
    if isinstance(spec, (dict, bool)):
        return spec, "<schema>"
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and spec.endswith(".json")
                                         and not spec.lstrip().startswith("{")):
        path = Path(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SchemaError(f"cannot read schema file: {e}", source=str(path)) from None
        return _parse(text, str(path), limits), str(path)
    if isinstance(spec, bytes):
        try:
            spec = spec.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SchemaError(f"the schema is not UTF-8 text: {e}") from None
    if isinstance(spec, str):
        return _parse(spec, "<schema>", limits), "<schema>"
    if isinstance(spec, type) and hasattr(spec, "model_json_schema"):
        return spec.model_json_schema(), spec.__name__
    if isinstance(spec, type) and (dataclasses.is_dataclass(spec) or _is_typeddict(spec)):
        try:
            from pydantic import TypeAdapter
        except ImportError:
            raise SchemaError("dataclasses and TypedDicts need pydantic installed "
                              "(pip install pydantic)") from None
        return TypeAdapter(spec).json_schema(), spec.__name__
    raise SchemaError(f"cannot use a {type(spec).__name__} as a JSON Schema; pass a dict, "
                      "JSON text, a .json path, a Pydantic model, a dataclass or a TypedDict")


def _is_typeddict(tp: type) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") \
        and hasattr(tp, "__total__")


def _parse(text: str, source: str, limits: Limits) -> Any:
    check_json_text_depth(text, limits, source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"the schema is not valid JSON: {e.msg} (line {e.lineno}, column "
                          f"{e.colno})", pointer="#", source=source) from None
