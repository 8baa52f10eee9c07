"""Request validation: request bodies are Pydantic v2 models, checked by pydantic-core (Rust);
their errors become the gateway's 400, naming each bad field by its path (``messages[2].role``).

One definition per body (``ai.api.bodies``, ``ai.api.openai_format``) gives the validation,
the messages and the OpenAPI schema (``ai.api.openapi``). The models are strict (no ``"1"`` ->
1, no ``true`` as a number) and forbid unknown fields; every error is collected. A field's
human message is declared with it, as :class:`Says` metadata; without one, a message by
pydantic error type (:data:`BY_TYPE`) is used. ``null`` means "not given": optional fields
accept it, a required one reports it as missing.
"""

from __future__ import annotations

import reprlib
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, Union

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from ai.api.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)

#: What a message may say about the value: ``{got}`` (``missing`` or its repr, shortened),
#: ``{type}``
#: (its JSON type), and the error's own context (``{limit}``, ``{max_length}``...).
Message = str | Callable[[dict[str, Any]], str]


class Says:
    """A field's human messages: ``default`` for any failure but a missing value ("This field
    is required." unless ``missing`` is given), or one per pydantic error type (``missing``,
    ``string_type``...). ``item`` is for a failure of one element of a list field as a whole
    (``messages[3]`` is not an object). Messages are ``str.format`` templates or callables of
    the same keys."""

    __slots__ = ("by_type", "default", "item")

    def __init__(
        self, default: Message | None = None, *, item: Message | None = None, **by_type: Message
    ) -> None:
        self.default = default
        self.item = item
        self.by_type = by_type

    def message(self, kind: str, at_item: bool) -> Message | None:
        if at_item and self.item is not None:
            return self.item
        return self.by_type.get(kind, None if kind == "missing" else self.default)


def fail(code: str, message: str, **context: Any) -> PydanticCustomError:
    """An error raised by a field's own validator: ``message`` formatted with ``context``
    (``str.format``), then shown as written."""
    return PydanticCustomError(f"ai_{code}", "{message}", {"message": message.format(**context)})


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else "number"
    )


#: Messages by pydantic error type, for fields that declare none.
BY_TYPE: dict[str, Message] = {
    "missing": "This field is required.",
    "string_type": "Must be a string, not {type}.",
    "bool_type": "Must be a boolean.",
    "int_type": "Must be an integer.",
    "float_type": "Must be a number.",
    "list_type": "Must be an array, not {type}.",
    "dict_type": "Must be an object, not {type}.",
    "model_type": "Must be an object, not {type}.",
    "model_attributes_type": "Must be an object, not {type}.",
    "string_too_long": "Must be at most {max_length} characters.",
}


class RequestBody(BaseModel):
    """Base of the request bodies: strict types, unknown fields rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    #: The message for a field the body does not have; ``{allowed}`` lists the ones it has.
    unknown_field: ClassVar[str] = "Unknown field. Allowed fields: {allowed}."


def validate(model: type[M], data: Any) -> M:
    """``data`` (a parsed JSON body) as ``model``, or :class:`InvalidRequest` naming every bad
    field."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidRequest(field_errors(model, err)) from None


def field_errors(model: type[BaseModel], err: ValidationError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for error in err.errors(include_url=False):
        path, text = _describe(model, error)
        messages = out.setdefault(path or "body", [])
        if text not in messages:
            messages.append(text)
    return out


def _describe(model: type[BaseModel], error: ErrorDetails) -> tuple[str, str]:
    kind, value = error["type"], error.get("input")
    path, owner, field, at_item = _locate(model, error["loc"])
    if kind.startswith("ai_"):
        return path, error["msg"]
    if kind == "extra_forbidden":
        allowed = ", ".join(owner.model_fields) if owner is not None else ""
        unknown = (
            owner.unknown_field if owner is not None and issubclass(owner, RequestBody) else ""
        )
        return path, (unknown or RequestBody.unknown_field).format(allowed=allowed)
    if value is None and not at_item and field is not None:
        kind = "missing"  # null means "not given"; a required field reports it as missing
    if kind == "missing":
        value = None
    context = {
        **(error.get("ctx") or {}),
        "got": "missing" if kind == "missing" else reprlib.repr(value),
        "type": type_name(value),
        "input": value,
    }
    says = _says(field)
    template = says.message(kind, at_item) if says else None
    template = template or BY_TYPE.get(kind)
    if template is None:
        return path, error["msg"]
    return path, template(context) if callable(template) else template.format(**context)


def _says(field: FieldInfo | None) -> Says | None:
    if field is None:
        return None
    return next((m for m in field.metadata if isinstance(m, Says)), None)


def _locate(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[str, type[BaseModel] | None, FieldInfo | None, bool]:
    """``(path, the model owning the last field, that field, whether the error is about one
    element of it)``, following ``loc`` through nested models, lists and tagged unions (whose
    tags are not part of the path)."""
    path = ""
    owner: type[BaseModel] | None = model
    current: Any = model
    field: FieldInfo | None = None
    at_item = False
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            current = _element(current)
            at_item = True
            continue
        target = _model_in(current)
        if target is not None and part in target.model_fields:
            owner, field = target, target.model_fields[part]
            current = field.annotation
            path = f"{path}.{part}" if path else str(part)
            at_item = False
            continue
        # A union tag (of models too: the first member is not the one meant) picks the member
        # and stays out of the path; else ``part`` is an unknown field of ``target``.
        member = _tagged(current, str(part)) if current is not None else None
        if member is not None or target is None:
            current = member
            continue
        owner, field, current = target, None, None
        path = f"{path}.{part}" if path else str(part)
        at_item = False
    return path, owner, field, at_item


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation may hold: Optional and Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return tuple(m for a in typing.get_args(annotation) for m in _members(a))
    return (annotation,)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _element(annotation: Any) -> Any:
    for member in _members(annotation):
        if typing.get_origin(member) is list:
            return typing.get_args(member)[0]
    return None


def _tagged(annotation: Any, tag: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        if any(getattr(m, "tag", None) == tag for m in meta):
            return inner
        return _tagged(inner, tag)
    if origin is Union or origin is types.UnionType:
        for member in typing.get_args(annotation):
            found = _tagged(member, tag)
            if found is not None:
                return found
    return None
