"""The typed objects inside a Responses API body: input items (messages and their content
parts, function calls, function call outputs), function tools, ``tool_choice`` and
``text.format``, each told apart by its ``type``, and their translation to the core's messages
and options (``ai.providers.parts``).

Each object is checked by the model of its ``type`` (:func:`typed`), so every error names its
path (``input[2].content[0].image_url``) and an unsupported type is named with those that are.
They are not members of one Pydantic tagged union: the gateway's error paths
(``ai.api.validation``) would then carry the union's tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationError

from ai.api.validation import RequestBody, Says, fail, field_errors, type_name
from ai.conf import ai_settings
from ai.providers.base import Message, Role
from ai.providers.parts import (
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    ImagePart,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

#: The Responses API's roles (``developer`` is its newer name for ``system``).
ROLES = {
    "user": Role.USER,
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "assistant": Role.ASSISTANT,
}
#: What a function without ``parameters`` takes.
NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
#: A function name, as OpenAI allows it.
FUNCTION_NAME = r"^[A-Za-z0-9_-]{1,64}$"
#: ``{path: [messages]}``: what :class:`ai.api.errors.InvalidRequest` reports.
Errors = dict[str, list[str]]


# --- the objects, by type ---------------------------------------------------------------------


class InputText(RequestBody):
    type: Literal["input_text"]
    text: str

    def part(self) -> Part:
        return TextPart(self.text)


class OutputText(RequestBody):
    """An earlier answer's text, as the API returned it (annotations and logprobs ignored)."""

    type: Literal["output_text"]
    text: str
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None

    def part(self) -> Part:
        return TextPart(self.text)


class Refusal(RequestBody):
    type: Literal["refusal"]
    refusal: str

    def part(self) -> Part:
        return TextPart(self.refusal)


def _image_url(url: str | None) -> str | None:
    if url is None:
        return url
    if not url.startswith(("https://", "data:")):
        raise fail("bad_image_url", "Must be an https URL or a data URL.")
    try:
        ImagePart.from_url(url)
    except ValueError as err:
        raise fail("bad_image_url", str(err)) from None
    return url


def _no_file(file_id: str | None) -> str | None:
    if file_id is not None:
        raise fail("no_files", "Is not supported: this gateway stores no files; send image_url.")
    return file_id


class InputImage(RequestBody):
    """An image: ``image_url`` an https URL or a data URL (required here: no file ids)."""

    type: Literal["input_image"]
    image_url: Annotated[str | None, AfterValidator(_image_url)] = None
    file_id: Annotated[str | None, AfterValidator(_no_file)] = None
    detail: Literal["low", "high", "auto", "original"] | None = None

    def part(self) -> Part:
        # "original" (full resolution) is the Responses API's own; the core knows OpenAI's three.
        detail = None if self.detail == "original" else self.detail
        return ImagePart.from_url(self.image_url or "", detail)


PART_TYPES: dict[str, type[RequestBody]] = {
    "input_text": InputText,
    "output_text": OutputText,
    "refusal": Refusal,
    "input_image": InputImage,
}


class MessageItem(RequestBody):
    """A message: ``content`` a string, or content parts (``input_text``, ``input_image``; an
    earlier answer's ``output_text``)."""

    type: Literal["message"] | None = None
    role: Annotated[
        Literal[tuple(ROLES)],  # type: ignore[valid-type]
        Says(f"Must be one of: {', '.join(ROLES)}."),
    ]
    content: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[dict[str, Any]], Tag("parts")],
        Discriminator(lambda v: "parts" if isinstance(v, list) else "string"),
        Says(
            "Must be a string or an array of content parts, not {type}.",
            item="Must be an object with a type.",
        ),
    ]
    # Given back with an earlier answer's items; ignored.
    id: str | None = None
    status: str | None = None
    phase: str | None = None


def _json_object_text(arguments: str) -> str:
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise fail("bad_arguments", "Must be a JSON object, as text.") from None
    if not isinstance(value, dict):
        raise fail("bad_arguments", "Must be a JSON object, as text.")
    return arguments


class FunctionCallItem(RequestBody):
    """A function call of an earlier answer."""

    type: Literal["function_call"]
    call_id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    arguments: Annotated[str, AfterValidator(_json_object_text)]
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(RequestBody):
    """The result of the function call ``call_id``: a string, or ``input_text`` parts."""

    type: Literal["function_call_output"]
    call_id: Annotated[str, Field(min_length=1)]
    output: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[InputText], Tag("parts")],
        Discriminator(lambda v: "parts" if isinstance(v, list) else "string"),
        Says(
            "Must be a string or an array of input_text parts, not {type}.",
            item="Only input_text parts are supported.",
        ),
    ]
    id: str | None = None
    status: str | None = None

    @property
    def text(self) -> str:
        return self.output if isinstance(self.output, str) else "".join(p.text for p in self.output)


ITEM_TYPES: dict[str, type[RequestBody]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
}


class FunctionTool(RequestBody):
    type: Literal["function"]
    name: Annotated[
        str,
        Field(pattern=FUNCTION_NAME),
        Says("Must be 1 to 64 letters, digits, underscores or dashes."),
    ]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    def tool(self) -> Tool:
        return Tool(
            self.name, self.description or "", self.parameters or NO_PARAMETERS, self.strict
        )

    def echo(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters or dict(NO_PARAMETERS),
            "strict": self.strict,
        }


class FunctionChoice(RequestBody):
    type: Literal["function"]
    name: str


class TextFormat(RequestBody):
    type: Literal["text"]


class JsonObjectFormat(RequestBody):
    type: Literal["json_object"]


class JsonSchemaFormat(RequestBody):
    type: Literal["json_schema"]
    name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]
    description: str | None = None
    strict: bool | None = None


FORMAT_TYPES: dict[str, type[RequestBody]] = {
    "text": TextFormat,
    "json_object": JsonObjectFormat,
    "json_schema": JsonSchemaFormat,
}


# --- to the core's objects --------------------------------------------------------------------


def typed(
    value: Any,
    models: Mapping[str, type[RequestBody]],
    path: str,
    errors: Errors,
    *,
    what: str,
    default: str | None = None,
) -> Any:
    """``value`` validated by the model of its ``type``; None (and ``errors`` filled in, under
    ``path``) when it is not one."""
    if not isinstance(value, dict):
        errors[path] = [f"Must be an object, not {type_name(value)}."]
        return None
    kind = value.get("type") or default
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        supported = ", ".join(models)
        shown = "missing" if kind is None else repr(kind)[:60]
        errors[f"{path}.type"] = [f"Unsupported {what} type ({shown}). Supported: {supported}."]
        return None
    try:
        return model.model_validate(value)
    except ValidationError as err:
        for sub, messages in field_errors(model, err).items():
            errors[path if sub == "body" else f"{path}.{sub}"] = messages
        return None


def messages_of(given: str | list[dict[str, Any]], errors: Errors) -> list[Message]:
    """The conversation: a string is one user message. Function calls join the assistant turn
    they follow (or make one); a function call output must answer an earlier call."""
    if isinstance(given, str):
        if not given.strip():
            errors["input"] = ["Must not be blank."]
        return [Message(Role.USER, given)]
    if not given:
        errors["input"] = ["Must contain at least one input item."]
        return []
    limit = int(ai_settings.AI_MAX_MESSAGES)
    if len(given) > limit:
        errors["input"] = [f"Must contain at most {limit} items."]
        return []
    messages: list[Message] = []
    calls: dict[str, str] = {}  # call id -> function name
    for i, raw in enumerate(given):
        path = f"input[{i}]"
        item = typed(raw, ITEM_TYPES, path, errors, what="input item", default="message")
        if isinstance(item, MessageItem):
            message = _message(item, path, errors)
            if message is not None:
                messages.append(message)
        elif isinstance(item, FunctionCallItem):
            call = ToolCall(item.call_id, item.name, item.arguments)
            calls[item.call_id] = item.name
            last = messages[-1] if messages else None
            if last is not None and last.role is Role.ASSISTANT:
                messages[-1] = Message(
                    Role.ASSISTANT, last.content, last.parts, (*last.tool_calls, call)
                )
            else:
                messages.append(Message(Role.ASSISTANT, "", tool_calls=(call,)))
        elif isinstance(item, FunctionCallOutputItem):
            if item.call_id not in calls:
                errors[f"{path}.call_id"] = [
                    "Must answer a function_call item earlier in input (the gateway stores "
                    "no earlier responses)."
                ]
                continue
            messages.append(
                Message(Role.TOOL, item.text, tool_call_id=item.call_id, name=calls[item.call_id])
            )
    if not errors and not any(m.role is Role.USER for m in messages):
        errors["input"] = ["Must contain at least one user message."]
    return messages


def _message(item: MessageItem, path: str, errors: Errors) -> Message | None:
    role = ROLES[item.role]
    known = len(errors)
    if isinstance(item.content, str):
        parts: list[Part] = [TextPart(item.content)]
    else:
        parts = []
        for j, raw in enumerate(item.content):
            where = f"{path}.content[{j}]"
            part = typed(raw, PART_TYPES, where, errors, what="content part")
            if isinstance(part, InputImage):
                if role is not Role.USER:
                    errors[where] = ["Images are only supported in user messages."]
                    continue
                if not part.image_url:
                    errors[f"{where}.image_url"] = ["This field is required."]
                    continue
            if part is not None:
                parts.append(part.part())
    message = Message.of_parts(role, parts)
    if role is Role.ASSISTANT:
        # An empty earlier answer (it only called functions) carries nothing.
        return message if message.content or message.parts else None
    if not message.content.strip() and not message.parts and len(errors) == known:
        errors[f"{path}.content"] = ["Must not be blank."]
    return message


def tool_of(raw: Any, i: int, errors: Errors) -> FunctionTool | None:
    """``tools[i]``: a function tool (no other type is supported)."""
    return typed(raw, {"function": FunctionTool}, f"tools[{i}]", errors, what="tool")


def tool_choice_of(
    given: str | dict[str, Any] | None, tools: list[FunctionTool], errors: Errors
) -> ToolChoice | None:
    """``tool_choice`` (a mode, or one of ``tools`` by name) as the core's tool choice."""
    if given is None:
        return None
    if isinstance(given, str):
        if given not in ("auto", "none", "required"):
            errors["tool_choice"] = [f"Must be auto, none or required, not {given[:40]!r}."]
            return None
        if given == "required" and not tools:
            errors["tool_choice"] = ["Cannot be required without tools."]
        return ToolChoice(given)
    choice = typed(given, {"function": FunctionChoice}, "tool_choice", errors, what="tool choice")
    if choice is None:
        return None
    if choice.name not in {t.name for t in tools}:
        errors["tool_choice.name"] = ["Must name one of the tools."]
    return ToolChoice(FUNCTION, choice.name)


def response_format_of(given: dict[str, Any] | None, errors: Errors) -> ResponseFormat | None:
    """``text.format`` as the core's response format (None for text, the default)."""
    if given is None:
        return None
    chosen = typed(given, FORMAT_TYPES, "text.format", errors, what="text format")
    if isinstance(chosen, JsonObjectFormat):
        return ResponseFormat(JSON_OBJECT)
    if isinstance(chosen, JsonSchemaFormat):
        return ResponseFormat(
            JSON_SCHEMA, chosen.schema_, chosen.name, chosen.strict, chosen.description
        )
    return None  # text: the default
