"""drf-spectacular reads the gateway's Pydantic bodies (``ai.api.bodies``) for the OpenAPI schema.

drf-spectacular's own pydantic extension emits pydantic's JSON Schema (2020-12) as is, which an
OpenAPI 3.0 document cannot hold (``const``, ``type: "null"``), and describes request bodies in
serialization mode. This one describes requests as they are validated, responses as they are
written, and, unless ``SPECTACULAR_SETTINGS["OAS_VERSION"]`` is 3.1, in OpenAPI 3.0's dialect.
Imported by ``ai.api.bodies``, so it is registered before any schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPI30Schema(GenerateJsonSchema):
    """Pydantic's JSON Schema in OpenAPI 3.0 terms: ``nullable`` instead of a ``null`` type,
    ``enum`` instead of ``const``, no per-field titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        out = super().literal_schema(schema)
        if "const" in out:
            out["enum"] = [out.pop("const")]
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


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
        for name, sub_schema in schema.pop("$defs", {}).items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub_schema
                )
            )
        return schema
