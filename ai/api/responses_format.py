"""The OpenAI Responses API wire format (``POST /responses``): the request body, translated to
the one :class:`~ai.services.gateway.LLMCall` every surface builds, and the ``response``
object it is answered with (``ai.api.responses_stream`` writes the streamed events).

The body is validated in two steps. The Pydantic model checks the scalar fields (model,
temperature, max_output_tokens...), as the gateway's other bodies do; the typed lists (input
items and their content parts, tools, ``tool_choice``, ``text.format``) are objects told apart
by their ``type``, each checked by its own model in :meth:`ResponsesRequest.to_call`, so every
error names its path (``input[2].content[0].image_url``) and an unsupported type is named.

The gateway stores nothing: ``previous_response_id`` and ``conversation`` are refused (send the
whole conversation in ``input``), ``store`` and ``metadata`` are accepted, ``metadata`` echoed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationError, WithJsonSchema

from ai.api.bodies import MODEL_MESSAGES, MaxTokens, ModelId, Stream, Temperature
from ai.api.errors import InvalidRequest
from ai.api.model_names import routing_of, split_model
from ai.api.validation import RequestBody, Says, fail, field_errors, type_name
from ai.conf import ai_settings
from ai.providers.base import FinishReason, Message, Role
from ai.providers.parts import (
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    ChatOptions,
    ImagePart,
    Part,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from ai.services.gateway import LLMCall

#: The Responses API's roles (``developer`` is its newer name for ``system``).
ROLES = {
    "user": Role.USER,
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "assistant": Role.ASSISTANT,
}
#: What a function without ``parameters`` takes.
NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
NOT_STORED = (
    "Is not supported: this gateway does not store responses; send the whole conversation in input."
)
ONLY_DEFAULT = Says("Is not supported by this gateway (only the default value).")
#: A function name, as OpenAI allows it.
FUNCTION_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_TEXT = Field(description="The text.")
#: Why an answer is incomplete, by the gateway's finish reason.
_INCOMPLETE = {
    FinishReason.LENGTH.value: "max_output_tokens",
    FinishReason.CONTENT_FILTER.value: "content_filter",
}


# --- typed objects inside the body ----------------------------------------------------------


class InputText(RequestBody):
    type: Literal["input_text"]
    text: Annotated[str, _TEXT]

    def part(self) -> Part:
        return TextPart(self.text)


class OutputText(RequestBody):
    """An earlier answer's text, as the API returned it (annotations and logprobs ignored)."""

    type: Literal["output_text"]
    text: Annotated[str, _TEXT]
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None

    def part(self) -> Part:
        return TextPart(self.text)


class Refusal(RequestBody):
    type: Literal["refusal"]
    refusal: str

    def part(self) -> Part:
        return TextPart(self.refusal)


def _image_url(url: str) -> str:
    if not url.startswith(("https://", "data:")):
        raise fail("bad_image_url", "Must be an https URL or a data URL.")
    try:
        ImagePart.from_url(url)
    except ValueError as err:
        raise fail("bad_image_url", str(err)) from None
    return url


def _no_file(file_id: str) -> str:
    raise fail("no_files", "Is not supported: this gateway stores no files; send image_url.")


class InputImage(RequestBody):
    type: Literal["input_image"]
    image_url: Annotated[
        str | None,
        AfterValidator(lambda v: v if v is None else _image_url(v)),
        Field(description="An https URL or a data URL (`data:image/png;base64,...`)."),
    ] = None
    file_id: Annotated[str | None, AfterValidator(lambda v: v if v is None else _no_file(v))] = None
    detail: Literal["low", "high", "auto", "original"] | None = None

    def part(self) -> Part:
        if not self.image_url:
            raise InvalidRequest({"image_url": ["Give image_url."]})
        detail = None if self.detail in (None, "original") else self.detail
        return ImagePart.from_url(self.image_url, detail)


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


class ResponsesTextConfig(RequestBody):
    unknown_field: ClassVar[str] = "Is not supported by this gateway."

    format: dict[str, Any] | None = Field(
        None,
        description='`{"type": "text"}` (the default), `{"type": "json_object"}`, or '
        '`{"type": "json_schema", "name", "schema", "strict"}`.',
    )


class ResponsesStreamOptions(RequestBody):
    include_obfuscation: bool | None = None


# --- the request ----------------------------------------------------------------------------


def _names_a_model(model: str) -> str:
    provider, name = split_model(model)
    if provider is not None and not name:
        raise fail("no_model", "Must name a model after the provider.")
    return model


def _not_stored(value: Any) -> Any:
    if value is not None:
        raise fail("not_stored", NOT_STORED)
    return value


_INPUT_DESCRIPTION = (
    "A string (one user message), or the whole conversation as input items: messages "
    "(`role` user, system, developer or assistant; `content` a string or `input_text` / "
    "`input_image` parts), `function_call` items of earlier answers and their "
    "`function_call_output` results."
)


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    """A validated Responses request: the call, and what the ``response`` object echoes."""

    call: LLMCall
    echo: dict[str, Any] = field(default_factory=dict)


class ResponsesRequest(RequestBody):
    """A Responses API body (`POST /responses`). `model` is required; `provider/model` forces
    the provider, a route name (`simple`, `moderate`, `complex`, `search`, `auto`) routes."""

    unknown_field: ClassVar[str] = "Is not supported by this gateway."

    model: Annotated[
        ModelId,
        AfterValidator(_names_a_model),
        MODEL_MESSAGES,
        Field(description="A model id (`gpt-4o-mini`, `claude-sonnet-4-5`...), `provider/model`, "
              "or a route: `simple`, `moderate`, `complex`, `search`, `auto`."),
    ]  # fmt: skip
    input: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[dict[str, Any]], Tag("items")],
        Discriminator(lambda v: "items" if isinstance(v, list) else "string"),
        Says(
            "Must be a string or an array of input items, not {type}.",
            item="Must be an object (an input item).",
        ),
        Field(description=_INPUT_DESCRIPTION),
    ]
    instructions: Annotated[
        str | None, Field(description="A system message put before the input.")
    ] = None
    tools: Annotated[
        list[dict[str, Any]] | None,
        Says(item="Must be an object (a tool)."),
        Field(description='Function tools: `{"type": "function", "name", "description", '
              '"parameters", "strict"}`. Other tool types are refused (400).'),
    ] = None  # fmt: skip
    tool_choice: Annotated[
        Annotated[
            Annotated[str, Tag("string")] | Annotated[dict[str, Any], Tag("object")],
            Discriminator(lambda v: "object" if isinstance(v, dict) else "string"),
        ]
        | None,
        Says("Must be auto, none, required or an object, not {type}."),
        Field(description='`auto`, `none`, `required` or `{"type": "function", "name"}`.'),
    ] = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: MaxTokens = None
    temperature: Temperature = None
    top_p: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    stream: Stream = None
    text: ResponsesTextConfig | None = None
    user: str | None = None
    metadata: Annotated[
        dict[str, str] | None, Field(description="Echoed in the response (not stored).")
    ] = None
    store: Annotated[bool | None, Field(description="Accepted; nothing is stored.")] = None
    previous_response_id: Annotated[
        str | None, AfterValidator(_not_stored), Field(description="Not supported (400).")
    ] = None
    conversation: Annotated[
        Any, AfterValidator(_not_stored), Field(description="Not supported (400).")
    ] = None
    # Accepted and ignored: they do not change the answer.
    stream_options: ResponsesStreamOptions | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    # Accepted only with the value that means "the default behaviour".
    include: Annotated[Annotated[list[str], Field(max_length=0)] | None, ONLY_DEFAULT] = None
    background: Annotated[
        Literal[False] | None,
        ONLY_DEFAULT,
        WithJsonSchema({"type": "boolean", "nullable": True}),
        Field(description="Only `false`."),
    ] = None

    def to_call(self) -> ResponsesCall:
        """The call, or :class:`InvalidRequest` naming every bad input item, tool, tool choice
        or text format."""
        errors: dict[str, list[str]] = {}
        messages = _messages(self.input, errors)
        if self.instructions and self.instructions.strip():
            messages.insert(0, Message(Role.SYSTEM, self.instructions))
        tools = [tool for i, raw in enumerate(self.tools or ()) if (tool := _tool(raw, i, errors))]
        choice = _tool_choice(self.tool_choice, tools, errors)
        response_format = _response_format(self.text, errors)
        if errors:
            raise InvalidRequest(errors)
        options = ChatOptions(
            tools=tuple(t.tool() for t in tools),
            tool_choice=choice if tools else None,
            parallel_tool_calls=self.parallel_tool_calls if tools else None,
            response_format=response_format,
            top_p=self.top_p,
            user=self.user,
        )
        call = LLMCall(
            messages=tuple(messages),
            temperature=self.temperature,
            max_tokens=self.max_output_tokens,
            stream=bool(self.stream),
            options=options,
            **routing_of(self.model),
        )
        return ResponsesCall(call, self._echo(tools))

    def _echo(self, tools: list[FunctionTool]) -> dict[str, Any]:
        """The request's settings as the ``response`` object repeats them."""
        text = (self.text.format if self.text else None) or {"type": "text"}
        choice = self.tool_choice if self.tool_choice is not None else "auto"
        return {
            "instructions": self.instructions,
            "metadata": self.metadata or {},
            "parallel_tool_calls": True
            if self.parallel_tool_calls is None
            else self.parallel_tool_calls,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "tool_choice": choice,
            "tools": [t.echo() for t in tools],
            "text": {"format": text},
            "max_output_tokens": self.max_output_tokens,
            "user": self.user,
            "store": False,
            "truncation": self.truncation or "disabled",
        }


def _typed(
    value: Any,
    models: Mapping[str, type[RequestBody]],
    path: str,
    errors: dict[str, list[str]],
    *,
    what: str,
    default: str | None = None,
) -> Any:
    """``value`` validated by the model of its ``type``; None (and ``errors`` filled in, under
    ``path``) when it is not one."""
    if not isinstance(value, dict):
        errors[path] = [f"Must be an object, not {type_name(value)}."]
        return None
    kind = value.get("type", default)
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


def _messages(given: str | list[dict[str, Any]], errors: dict[str, list[str]]) -> list[Message]:
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
        item = _typed(raw, ITEM_TYPES, path, errors, what="input item", default="message")
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


def _message(item: MessageItem, path: str, errors: dict[str, list[str]]) -> Message | None:
    role = ROLES[item.role]
    known = len(errors)
    if isinstance(item.content, str):
        parts: list[Part] = [TextPart(item.content)]
    else:
        parts = []
        for j, raw in enumerate(item.content):
            where = f"{path}.content[{j}]"
            part = _typed(raw, PART_TYPES, where, errors, what="content part")
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


def _tool(raw: Any, i: int, errors: dict[str, list[str]]) -> FunctionTool | None:
    return _typed(raw, {"function": FunctionTool}, f"tools[{i}]", errors, what="tool")


def _tool_choice(
    given: str | dict[str, Any] | None, tools: list[FunctionTool], errors: dict[str, list[str]]
) -> ToolChoice | None:
    if given is None:
        return None
    if isinstance(given, str):
        if given not in ("auto", "none", "required"):
            errors["tool_choice"] = [f"Must be auto, none or required, not {given[:40]!r}."]
            return None
        if given == "required" and not tools:
            errors["tool_choice"] = ["required needs tools."]
        return ToolChoice(given)
    choice = _typed(given, {"function": FunctionChoice}, "tool_choice", errors, what="tool choice")
    if choice is None:
        return None
    if choice.name not in {t.name for t in tools}:
        errors["tool_choice.name"] = ["Must name one of the tools."]
    return ToolChoice(FUNCTION, choice.name)


def _response_format(
    text: ResponsesTextConfig | None, errors: dict[str, list[str]]
) -> ResponseFormat | None:
    if text is None or text.format is None:
        return None
    chosen = _typed(text.format, FORMAT_TYPES, "text.format", errors, what="text format")
    if isinstance(chosen, JsonObjectFormat):
        return ResponseFormat(JSON_OBJECT)
    if isinstance(chosen, JsonSchemaFormat):
        return ResponseFormat(
            JSON_SCHEMA, chosen.schema_, chosen.name, chosen.strict, chosen.description
        )
    return None  # text: the default


# --- the response ---------------------------------------------------------------------------


def response_id(request_id: str) -> str:
    return f"resp_{request_id}"


def message_id(request_id: str, number: int = 0) -> str:
    """The id of the answer's message ``number`` (a stream may have text after a call)."""
    return f"msg_{request_id}" if not number else f"msg_{request_id}_{number}"


def incomplete_reason(finish_reason: str | None) -> str | None:
    """``incomplete_details.reason`` for an answer that ended so, else None (complete)."""
    return _INCOMPLETE.get(finish_reason or "")


def function_call_id(request_id: str, index: int) -> str:
    return f"fc_{request_id}_{index}"


def responses_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's usage dict (``Usage.as_dict``) as the Responses API's ``usage``."""
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": usage["cached_tokens"], "cache_write_tokens": 0},
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        "total_tokens": usage["total_tokens"],
    }


def message_item(
    request_id: str, text: str, status: str = "completed", *, number: int = 0
) -> dict[str, Any]:
    """A ``message`` output item (without content while in progress)."""
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "type": "message",
        "id": message_id(request_id, number),
        "status": status,
        "role": "assistant",
        "content": content if status != "in_progress" else [],
    }


def function_call_item(
    request_id: str, index: int, call: Mapping[str, str], status: str = "completed"
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": function_call_id(request_id, index),
        "call_id": call["id"] or f"call_{request_id}_{index}",
        "name": call["name"],
        "arguments": call["arguments"],
        "status": status,
    }


def response_object(
    request_id: str,
    echo: Mapping[str, Any],
    *,
    model: str,
    created_at: int,
    status: str = "in_progress",
    output: list[dict[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
    finish_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``response`` object. With a ``finish_reason`` it is finished: ``completed``, or
    ``incomplete`` with the reason (``max_output_tokens``, ``content_filter``)."""
    incomplete = incomplete_reason(finish_reason)
    if finish_reason is not None:
        status = "incomplete" if incomplete else "completed"
    body: dict[str, Any] = {
        "id": response_id(request_id),
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": model,
        "output": output or [],
        "previous_response_id": None,
        "reasoning": None,
        "usage": None if usage is None else responses_usage(usage),
        **echo,
    }
    if status == "completed":
        body["completed_at"] = int(time.time())
    return body


def output_of(request_id: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The output items of a finished answer (``gateway.complete``'s body or a stream's done
    event): the text as one message (also when empty, unless the model only called
    functions), then one ``function_call`` item per call."""
    calls = body.get("tool_calls") or []
    status = "incomplete" if body["finish_reason"] in _INCOMPLETE else "completed"
    output = []
    if body["content"] or not calls:
        output.append(message_item(request_id, body["content"], status))
    output.extend(function_call_item(request_id, i, c) for i, c in enumerate(calls))
    return output


def response_of(
    request_id: str, echo: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``response`` object answering a non-streaming request."""
    return response_object(
        request_id,
        echo,
        model=body["model"],
        created_at=int(time.time()),
        output=output_of(request_id, body),
        usage=body["usage"],
        finish_reason=body["finish_reason"],
    )
