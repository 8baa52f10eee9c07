"""drf-spectacular reads the gateway's Pydantic bodies (``ai.api.bodies``) for the OpenAPI schema.

drf-spectacular's own pydantic extension emits pydantic's JSON Schema (2020-12) as is, which an
OpenAPI 3.0 document cannot hold (``const``, ``type: "null"``), and describes request bodies in
serialization mode. This one describes requests as they are validated, responses as they are
written, and, unless ``SPECTACULAR_SETTINGS["OAS_VERSION"]`` is 3.1, in OpenAPI 3.0's dialect.
Imported by ``ai.api.bodies``, so it is registered before any schema is generated.
"""

from __future__ import annotations

import typing
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPI30Schema(GenerateJsonSchema):
    """Pydantic's JSON Schema in OpenAPI 3.0 terms: ``nullable`` instead of a ``null`` type,
    ``enum`` instead of ``const``, boolean ``exclusiveMinimum``/``exclusiveMaximum``, no
    per-field titles."""

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        return _oas30(super().generate(schema, mode=mode))

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}

    def none_schema(self, schema: core_schema.NoneSchema) -> JsonSchemaValue:
        # A field that may only be null (what an SDK echoes back): 3.0 has no "null" type.
        # (An enum of only null is emptied by spectacular's post-processing, so it is said.)
        return {"nullable": True, "description": "Only null."}

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


#: Keywords whose value maps names to schemas (a property may be called "const").
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def _oas30(node: Any) -> Any:
    """Rewrite what JSON Schema 2020-12 says differently from OpenAPI 3.0, everywhere."""
    if isinstance(node, list):
        return [_oas30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: {k: _oas30(v) for k, v in value.items()}
        if key in _SCHEMA_MAPS and isinstance(value, dict)
        else _oas30(value)
        for key, value in node.items()
    }
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound], out[exclusive] = value, True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


class GatewayBodyExtension(OpenApiSerializerExtension):
    """Any ``pydantic.BaseModel`` given to ``extend_schema`` (ahead of spectacular's own)."""

    target_class = "pydantic.BaseModel"
    match_subclasses = True
    priority = 1

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return self.target.__name__

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        oas31 = str(spectacular_settings.OAS_VERSION).startswith("3.1")
        schema = self.target.model_json_schema(
            ref_template=REF_TEMPLATE,
            mode="validation" if direction == "request" else "serialization",
            schema_generator=GenerateJsonSchema if oas31 else OpenAPI30Schema,
        )
        nested = _nested_models(self.target)
        for name, sub_schema in schema.pop("$defs", {}).items():
            # The model itself as the component's identity, as when spectacular registers it
            # directly (a model both nested and used alone is then one component, no warning).
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name,
                    type=ResolvedComponent.SCHEMA,
                    object=nested.get(name, name),
                    schema=sub_schema,
                )
            )
        return schema


def _nested_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The models ``model``'s fields use, at any depth, by class name."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    for field in model.model_fields.values():
        visit(field.annotation)
    return found
