"""JSON Schema keyword sets shared by the compiler, the merger and the negator."""

from __future__ import annotations

import json
from typing import Any

JSON_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")
ANNOTATIONS = {
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
    "writeOnly", "$schema", "$id", "id", "$anchor", "$dynamicAnchor", "$defs", "definitions",
    "$vocabulary", "contentMediaType", "contentEncoding", "contentSchema", "nullable",
    "discriminator", "xml", "externalDocs", "example",
}
STRING_KEYS = {"minLength", "maxLength", "pattern", "format"}
NUMBER_KEYS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
ARRAY_KEYS = {"items", "prefixItems", "additionalItems", "minItems", "maxItems",
              "uniqueItems", "contains", "minContains", "maxContains", "unevaluatedItems"}
OBJECT_KEYS = {"properties", "required", "additionalProperties", "patternProperties",
               "propertyNames", "minProperties", "maxProperties", "dependentRequired",
               "dependentSchemas", "dependencies", "unevaluatedProperties"}
GENERIC_KEYS = {"type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if", "then",
                "else", "$ref"}
# Keywords the compiler refuses (dynamic scopes); everything else unknown is an annotation.
UNSUPPORTED_REFS = {"$dynamicRef", "$recursiveRef", "$recursiveAnchor"}
MAX_NESTING = 200  # nested schemas compiled at once (bounds Python recursion)
CONTENT_KEYWORDS = {"contentMediaType", "contentEncoding", "contentSchema"}
LENGTH_MARK = "\x00length:"  # a length bound among string parts (not a regex)
KNOWN = ANNOTATIONS | STRING_KEYS | NUMBER_KEYS | ARRAY_KEYS | OBJECT_KEYS | GENERIC_KEYS


def is_schema(x: object) -> bool:
    return isinstance(x, (dict, bool))


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON texts (key order ignored; 1 and 1.0 differ: callers that need JSON
    Schema equality use a validator)."""
    return bool(json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True))
