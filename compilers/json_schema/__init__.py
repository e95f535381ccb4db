"""JSON Schema front end: schema (dict, JSON text, file, Pydantic model, dataclass,
TypedDict) -> grammar IR."""

from compilers.json_schema.compiler import JsonSchemaOptions, Resolver, compile_json_schema_ir
from compilers.json_schema.loading import load_schema

__all__ = ["JsonSchemaOptions", "Resolver", "compile_json_schema_ir", "load_schema"]
