"""The OpenAI Chat Completions request: a Pydantic model (like the gateway's own bodies in
``ai.api.bodies``) and its translation to the one :class:`~ai.services.gateway.LLMCall` every
surface builds. The answers' shapes are in ``ai.api.openai_chunks``.

Same rules and field paths as the gateway's own bodies: every error is a 400 naming the field
(``messages[2].content[1].image_url.url``). Messages take the system, developer (= system), user,
assistant and tool roles, text and image parts, assistant tool calls and tool results; tools,
``tool_choice``, ``response_format``, ``stop`` and the sampling parameters become
:class:`~ai.providers.parts.ChatOptions`, which the target provider honours or refuses (400
``unsupported_parameter`` naming it). Fields this model does not know are collected into
``ChatOptions.extra``: passed as they are to OpenAI targets, refused by the others (left out
instead with ``drop_params``: ``ChatOptions.drop_unsupported``). What cannot
work through a gateway that answers one text choice (``n`` > 1, ``logprobs``, audio) is refused.
Anthropic's prompt-cache breakpoints are taken as LiteLLM and OpenRouter take them in OpenAI
bodies (``cache_control`` on a content part, a message or a tool): a Claude target gets them.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from ai.api.anthropic_blocks import AnthropicCacheControl as CacheControl
from ai.api.bodies import (
    MODEL_MESSAGES,
    MODEL_PATTERN,
    DropParams,
    MaxTokens,
    ModelId,
    ReasoningEffort,
    Stream,
    Temperature,
    conversation_rules,
)
from ai.api.errors import InvalidRequest
from ai.api.model_names import names_a_model as names_shared
from ai.api.model_names import routing_of, split_model
from ai.api.openai_chunks import (  # noqa: F401  (the Responses API imports them from here)
    ChunkFrames,
    chat_completion,
    openai_error,
    openai_usage,
)
from ai.api.validation import RequestBody, Says, fail
from ai.providers.base import Message, Role
from ai.providers.parts import (
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    NONE,
    REQUIRED,
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

#: OpenAI's roles, ``developer`` being its newer name for ``system``.
_ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
}
#: The content part types each role may send.
_PART_TYPES = {
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}
_MODEL_RE = re.compile(MODEL_PATTERN)
FunctionName = Annotated[
    str,
    Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$"),
    Says("Must be 1 to 64 letters, digits, underscores or dashes."),
]
_INVALID_ROLE = f"Invalid role ({{got}}). Valid roles: {', '.join(_ROLES)}."
UNSUPPORTED = Says("Is not supported by this gateway.")
#: How a field that must be null (or absent) is documented (OpenAPI 3.0 has no null type).
ONLY_NULL = WithJsonSchema({"nullable": True, "description": "Not supported: null only."})
ONLY_DEFAULT = Says("Is not supported by this gateway (only the default value).")
#: Fields OpenAI knows whose value here changes nothing: not passed on.
_NO_OP_EXTRA = {"store": (False,), "service_tier": ("auto", "default")}


@dataclass(frozen=True, slots=True)
class OpenAIChat:
    """A validated Chat Completions request."""

    call: LLMCall
    include_usage: bool = False


# --- messages ---------------------------------------------------------------------------------


class ImageURL(RequestBody):
    url: Annotated[str, Field(description="An https URL, or a data URL (data:image/...;base64,).")]
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(RequestBody):
    """One part of a message's content: ``text`` (any role), ``image_url`` (user), ``refusal``
    (assistant, read as text)."""

    type: Annotated[
        Literal["text", "image_url", "refusal"],
        Says("Unsupported content part type ({got}): text and image_url parts are supported."),
    ]
    text: str | None = None
    image_url: ImageURL | None = None
    refusal: str | None = None
    cache_control: CacheControl | None = None

    @model_validator(mode="after")
    def _has_its_value(self) -> ContentPart:
        if getattr(self, self.type) is None:
            raise fail("part_value", 'A "{kind}" part needs "{kind}".', kind=self.type)
        return self


#: What the SDK's response objects carry when an application sends them back as messages
#: (``messages.append(completion.choices[0].message)``, the stream helpers' and ``parse``'s
#: messages): read-only output, ignored.
Echoed = Annotated[Any, WithJsonSchema({"description": "Output echoed back; ignored."})]


class FunctionCall(RequestBody):
    name: FunctionName
    arguments: Annotated[str, Says("Must be a string (the arguments as JSON text).")]
    parsed_arguments: Echoed = None


class ToolCallIn(RequestBody):
    id: Annotated[str, Field(min_length=1)]
    index: Echoed = None
    type: Annotated[
        Literal["function"],
        Says('Must be "function".'),
        # Without an enum: another "type" enum of the same values would collide in the schema.
        WithJsonSchema({"type": "string", "description": 'Only "function".'}),
    ] = "function"
    function: FunctionCall


Content = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[ContentPart], Tag("parts")],
    Discriminator(lambda v: "parts" if isinstance(v, list) else "string"),
    Says("Must be a string or an array of content parts, not {type}."),
]


class OpenAIMessage(RequestBody):
    role: Annotated[
        Literal[tuple(_ROLES)],  # type: ignore[valid-type]
        Says(_INVALID_ROLE, missing=_INVALID_ROLE),
    ]
    #: A string or parts; may be null on an assistant turn that calls tools.
    content: Content | None = None
    #: A participant's name: accepted, not passed on (no vendor but OpenAI has it).
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    #: What an assistant turn echoed back from a response carries.
    refusal: str | None = None
    annotations: Echoed = None
    parsed: Echoed = None
    audio: Annotated[None, UNSUPPORTED, ONLY_NULL] = None
    function_call: Annotated[None, Says("Deprecated by OpenAI: use tool_calls."), ONLY_NULL] = None
    #: A prompt-cache breakpoint after the whole message (LiteLLM's and OpenRouter's form).
    cache_control: CacheControl | None = None


# --- tools and formats ------------------------------------------------------------------------


class FunctionDef(RequestBody):
    name: FunctionName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(RequestBody):
    type: Annotated[Literal["function"], Says("Only function tools are supported.")]
    function: FunctionDef
    cache_control: CacheControl | None = None


_TOOL_CHOICE_HELP = (
    'Must be "auto", "none", "required" or {"type": "function", "function": {"name": ...}}.'
)


def _tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ("auto", NONE, REQUIRED):
        return ToolChoice(value)
    if isinstance(value, dict) and value.get("type") == FUNCTION:
        function = value.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name and set(value) <= {"type", FUNCTION}:
            return ToolChoice(FUNCTION, name)
    raise fail("tool_choice", "{help}", help=_TOOL_CHOICE_HELP)


class JSONSchemaFormat(RequestBody):
    name: FunctionName
    description: str | None = None
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    strict: bool | None = None


class ResponseFormatIn(RequestBody):
    type: Annotated[
        Literal["text", "json_object", "json_schema"],
        Says('Must be "text", "json_object" or "json_schema".'),
    ]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> ResponseFormatIn:
        if (self.type == JSON_SCHEMA) != (self.json_schema is not None):
            raise fail("json_schema", 'Give "json_schema" with type "json_schema" (only then).')
        return self

    def to_format(self) -> ResponseFormat | None:
        if self.type == JSON_OBJECT:
            return ResponseFormat(JSON_OBJECT)
        if self.json_schema is None:  # "text": the default
            return None
        spec = self.json_schema
        return ResponseFormat(JSON_SCHEMA, spec.schema_, spec.name, spec.strict, spec.description)


class StreamOptions(RequestBody):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


def names_a_model(model: str) -> str:
    """:func:`ai.api.model_names.names_a_model`, and the model after ``provider/`` must be a
    valid model name ("models/gemini-x" keeps its slash: not a provider)."""
    provider, name = split_model(names_shared(model))
    if provider is not None and not _MODEL_RE.match(name):
        raise fail("bad_model", "Is not a valid model name.")
    return model


Penalty = Annotated[
    Annotated[float, Field(ge=-2, le=2, allow_inf_nan=False)] | None,
    Says("Must be a number between -2 and 2."),
]


class OpenAIChatRequest(RequestBody):
    """A Chat Completions body. `model` is a model (`gpt-4o-mini`, `claude-sonnet-4-5`),
    `provider/model`, a route (`simple`, `moderate`, `complex`, `search`) or `auto`. Fields not
    listed here are passed as they are to OpenAI targets and refused (400) by the others."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    model: Annotated[
        ModelId,
        AfterValidator(names_a_model),
        MODEL_MESSAGES,
        Field(description="A model id (its prefix picks the provider: `gpt-`, `claude-`, "
              "`gemini-`...), `provider/model`, a route (`simple`, `moderate`, `complex`, "
              "`search`), or `auto`: the route the gateway's classifier picks."),
    ]  # fmt: skip
    messages: Annotated[
        list[OpenAIMessage],
        Field(min_length=1),
        AfterValidator(conversation_rules),
        Says(
            list_type="Must be an array of messages, not {type}.",
            too_short="Must contain at least one message.",
            item='Must be an object with "role" and "content".',
        ),
    ]
    temperature: Temperature = None
    top_p: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    max_tokens: MaxTokens = None
    max_completion_tokens: MaxTokens = None
    stop: Annotated[
        str | Annotated[list[str], Field(max_length=4)] | None,
        Says("Must be a string or an array of at most 4 strings."),
    ] = None
    seed: int | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    presence_penalty: Penalty = None
    frequency_penalty: Penalty = None
    stream: Stream = None
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Annotated[
        Any,
        AfterValidator(_tool_choice),
        WithJsonSchema({"oneOf": [{"type": "string", "enum": ["auto", "none", "required"]},
                                  {"type": "object"}], "nullable": True}),
    ] = None  # fmt: skip
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatIn | None = None
    reasoning_effort: ReasoningEffort = None
    drop_params: DropParams = None
    # Accepted only with the value that means "the default behaviour".
    n: Annotated[Literal[1] | None, ONLY_DEFAULT] = None
    logprobs: Annotated[Literal[False] | None, ONLY_DEFAULT] = None
    top_logprobs: Annotated[None, UNSUPPORTED, ONLY_NULL] = None
    # Documented without its one-value enum, which the schema would otherwise name twice.
    modalities: Annotated[
        Annotated[list[Literal["text"]], Field(min_length=1, max_length=1)] | None,
        ONLY_DEFAULT,
        WithJsonSchema({"type": "array", "items": {"type": "string"}, "nullable": True}),
        Field(description='Only `["text"]`.'),
    ] = None
    audio: Annotated[None, UNSUPPORTED, ONLY_NULL] = None
    functions: Annotated[None, Says("Deprecated by OpenAI: use tools."), ONLY_NULL] = None
    function_call: Annotated[None, Says("Deprecated by OpenAI: use tool_choice."), ONLY_NULL] = None

    def to_chat(self) -> OpenAIChat:
        errors: dict[str, list[str]] = {}
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            errors["max_tokens"] = ["Give max_tokens or max_completion_tokens, not both."]
        messages = _messages(self.messages, errors)
        options = self._options(errors)
        if errors:
            raise InvalidRequest(errors)
        call = LLMCall(
            messages=messages,
            temperature=self.temperature,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stream=bool(self.stream),
            options=options,
            **routing_of(self.model),
        )
        stream_options = self.stream_options
        return OpenAIChat(call, bool(stream_options and stream_options.include_usage))

    def _options(self, errors: dict[str, list[str]]) -> ChatOptions:
        tools = tuple(
            Tool(f.name, f.description or "", f.parameters or {}, f.strict, cache=_mark(t))
            for t in self.tools or ()
            for f in (t.function,)
        )
        names = [tool.name for tool in tools]
        for i, name in enumerate(names):
            if name in names[:i]:
                errors[f"tools[{i}].function.name"] = [f"Another tool is named {name!r}."]
        choice: ToolChoice | None = self.tool_choice
        if choice is not None and not tools:
            if choice.mode in (REQUIRED, FUNCTION):
                errors["tool_choice"] = ["Needs tools."]
            choice = None  # "auto" or "none" without tools: nothing to choose from
        elif choice is not None and choice.mode == FUNCTION and choice.name not in names:
            errors["tool_choice.function.name"] = [
                f"Names no function of tools ({', '.join(names)})."
            ]
        stop = self.stop
        return ChatOptions(
            tools=tools,
            tool_choice=choice,
            parallel_tool_calls=self.parallel_tool_calls if tools else None,
            response_format=None if self.response_format is None
            else self.response_format.to_format(),
            stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
            top_p=self.top_p,
            seed=self.seed,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            user=self.user,
            metadata=self.metadata or None,
            reasoning_effort=self.reasoning_effort,
            extra=_extra(self.model_extra or {}),
            drop_unsupported=self.drop_params,
        )  # fmt: skip


def _extra(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields this model does not know, without those that ask for nothing (null, or a
    value :data:`_NO_OP_EXTRA` lists)."""
    return {
        name: value
        for name, value in fields.items()
        if value is not None and value not in _NO_OP_EXTRA.get(name, ())
    }


def _messages(given: list[OpenAIMessage], errors: dict[str, list[str]]) -> tuple[Message, ...]:
    """The conversation as core messages. A tool result gets the name of the function it
    answers (from the earlier assistant turn's call: Gemini names it in the result)."""
    out: list[Message] = []
    calls: dict[str, str] = {}  # tool call id -> function name, so far

    def bad(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    for i, m in enumerate(given):
        at = f"messages[{i}]"
        parts = _parts(m, at, bad)
        text = "\n".join(p.text for p in parts if isinstance(p, TextPart))
        if m.tool_calls is not None and m.role != "assistant":
            bad(f"{at}.tool_calls", "Only assistant messages may have tool_calls.")
        if m.tool_call_id is not None and m.role != "tool":
            bad(f"{at}.tool_call_id", "Only tool messages may have tool_call_id.")
        # A breakpoint on the message comes after the whole turn; on a part of a user or
        # system turn it stays on the part, on a part of another it comes after the turn.
        cache = _mark(m) or (
            None if _ROLES[m.role] in _PARTS_KEPT else CacheControl.last(m.content)
        )
        if m.role == "tool":
            out.append(_tool_result(m, text, calls, at, bad, cache))
        elif m.role == "assistant":
            tool_calls = _tool_calls(m.tool_calls or (), at, bad)
            calls.update((c.id, c.name) for c in tool_calls)
            if not text.strip() and not tool_calls:
                bad(f"{at}.content", "Must not be blank (unless the message has tool_calls).")
            out.append(Message(Role.ASSISTANT, text, tool_calls=tool_calls, cache=cache))
        else:
            if m.content is None:
                bad(f"{at}.content", "This field is required.")
            elif not text.strip() and not any(isinstance(p, ImagePart) for p in parts):
                bad(f"{at}.content", "Must not be blank.")
            out.append(Message.of_parts(_ROLES[m.role], parts, cache=cache))
    return tuple(out)


#: The core's ``cache`` mark of a part, message or tool with ``cache_control``.
_mark = CacheControl.mark
#: The roles whose turns keep their parts' breakpoints where they are.
_PARTS_KEPT = (Role.USER, Role.SYSTEM)


def _parts(m: OpenAIMessage, at: str, bad: Any) -> list[Part]:
    content = m.content
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    allowed = _PART_TYPES[m.role]
    parts: list[Part] = []
    for j, part in enumerate(content):
        where = f"{at}.content[{j}]"
        if part.type not in allowed:
            kinds = " and ".join(allowed)
            bad(f"{where}.type", f"A {m.role} message may only have {kinds} parts.")
        elif part.image_url is not None:
            image = _image(part.image_url, f"{where}.image_url.url", bad, _mark(part))
            if image is not None:
                parts.append(image)
        else:
            text = part.text if part.text is not None else part.refusal or ""
            parts.append(TextPart(text, cache=_mark(part)))
    return parts


def _image(spec: ImageURL, at: str, bad: Any, cache: str | None) -> ImagePart | None:
    if not spec.url.startswith(("https://", "data:")):
        bad(at, "Must be an https URL or a data URL (data:image/png;base64,...).")
        return None
    try:
        return dataclasses.replace(ImagePart.from_url(spec.url, spec.detail), cache=cache)
    except ValueError as err:
        bad(at, str(err))
        return None


def _tool_calls(given: Any, at: str, bad: Any) -> tuple[ToolCall, ...]:
    calls = []
    for k, call in enumerate(given):
        arguments = call.function.arguments.strip() or "{}"  # some clients send "" for none
        try:
            valid = isinstance(orjson.loads(arguments), dict)
        except orjson.JSONDecodeError:
            valid = False
        if not valid:
            bad(f"{at}.tool_calls[{k}].function.arguments", "Must be a JSON object, as text.")
        calls.append(ToolCall(call.id, call.function.name, arguments))
    return tuple(calls)


def _tool_result(
    m: OpenAIMessage, text: str, calls: dict[str, str], at: str, bad: Any, cache: str | None
) -> Message:
    if m.content is None:
        bad(f"{at}.content", "This field is required.")
    call_id = m.tool_call_id
    if not call_id:
        bad(f"{at}.tool_call_id", "This field is required.")
    name = calls.get(call_id or "") or m.name
    if call_id and name is None:
        bad(f"{at}.tool_call_id", "Answers no tool call of an earlier assistant message.")
    return Message(Role.TOOL, text, tool_call_id=call_id or "", name=name, cache=cache)
