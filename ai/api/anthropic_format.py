"""The Anthropic Messages API request, translated to the gateway's translation core
(``ai.providers.parts``), for the Anthropic-compatible endpoints (``ai.api.anthropic_compat``).
Answers, stream events and errors in Anthropic's shape: ``ai.api.anthropic_wire``.

The body is a Pydantic model with the rules of the gateway's own (``ai.api.validation``):
strict types, every bad field named by its path (``messages[1].content[0].source.data``),
unknown fields refused. What the core cannot carry and that would change the answer
(extended thinking, server tools, documents) is refused with a 400 naming it; what only
changes cost or bookkeeping (``cache_control``) is accepted and not forwarded.

Block by block:

* ``system``: a string or text blocks -> one system turn;
* ``text`` / ``image`` (base64 or url source) in a user turn -> its parts;
* ``tool_use`` in an assistant turn -> :class:`ToolCall` (``input`` as JSON text);
* ``tool_result`` in a user turn -> one ``TOOL`` turn per result, before the turn's other
  blocks, naming the function of the earlier ``tool_use`` it answers; ``is_error`` results
  start with ``"Error: "`` (no vendor but Anthropic has a flag for it);
* ``tool_choice`` auto / any / tool / none -> auto / required / function / none, and
  ``disable_parallel_tool_use`` -> ``parallel_tool_calls=False``;
* ``metadata.user_id`` -> ``ChatOptions.user``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

import orjson
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from ai.api.bodies import MODEL_MESSAGES, ModelId, Stream, conversation_rules
from ai.api.errors import InvalidRequest
from ai.api.model_names import routing_of, split_model
from ai.api.validation import RequestBody, Says, fail, field_errors, type_name
from ai.conf import ai_settings
from ai.providers.base import Message, Role
from ai.providers.parts import (
    AUTO,
    FUNCTION,
    NONE,
    REQUIRED,
    ChatOptions,
    ImagePart,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from ai.services.gateway import LLMCall

M = TypeVar("M", bound=RequestBody)

UNSUPPORTED = "Is not supported by this gateway. Allowed fields: {allowed}."
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,128}$"
#: What ``tool_result.is_error`` adds in front of the result's text.
ERROR_PREFIX = "Error: "


def _type_of(value: Any) -> str | None:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


def _one_of(what: str, allowed: tuple[str, ...], refused: dict[str, str] | None = None) -> Any:
    """A check run before a tagged union: ``value`` is an object whose ``type`` is one of
    ``allowed`` (``refused`` says why a known Anthropic type is not)."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise fail("not_object", "Must be an object, not {type}.", type=type_name(value))
        kind = value.get("type")
        if kind in allowed:
            return value
        if refused and kind in refused:
            raise fail("unsupported_block", refused[kind])
        if kind is None:
            raise fail("no_type", 'Needs a "type": {allowed}.', allowed=", ".join(allowed))
        raise fail(
            "unknown_type",
            "Unsupported {what} type {kind!r}. Supported: {allowed}.",
            what=what,
            kind=str(kind)[:40],
            allowed=", ".join(allowed),
        )

    return BeforeValidator(check)


#: Tag -> model, for the tagged unions of models below (see :func:`validate_body`).
_MEMBERS: dict[str, type[RequestBody]] = {}


def _union(what: str, members: dict[str, type[RequestBody]], refused: Any = None) -> Any:
    """A union of block models chosen by their ``type`` (``members``: type -> model). Its tags
    start with ``~`` so that :func:`validate_body` can tell them from field names."""
    tags = {kind: f"~{model.__name__}" for kind, model in members.items()}
    _MEMBERS.update({tags[kind]: model for kind, model in members.items()})
    choices = tuple(Annotated[model, Tag(tags[kind])] for kind, model in members.items())
    return Annotated[
        Union[choices],  # type: ignore[valid-type]  # noqa: UP007
        Discriminator(lambda v: tags.get(_type_of(v) or "")),
        _one_of(what, tuple(members), refused),
    ]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise fail("blank", "Must not be blank.")
    return text


NonBlank = Annotated[str, AfterValidator(_not_blank)]


def _blocks_or_string(value: Any) -> str:
    return "blocks" if isinstance(value, list) else "string"


def _string_or(blocks: Any) -> Any:
    """A string, or ``blocks`` (an array): Anthropic's two spellings of content."""
    return Annotated[
        Annotated[str, Tag("string")] | Annotated[blocks, Tag("blocks")],
        Discriminator(_blocks_or_string),
    ]


# --- blocks -----------------------------------------------------------------------------------


class AnthropicCacheControl(RequestBody):
    """Accepted and not forwarded: prompt caching changes cost, never the answer."""

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class AnthropicTextBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["text"]
    text: NonBlank
    cache_control: AnthropicCacheControl | None = None


def _base64(data: str) -> str:
    try:
        base64.b64decode(data, validate=True)
    except binascii.Error:
        raise fail("bad_base64", "Is not valid base64.") from None
    return data


def _https(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise fail("bad_url", "Must be an http(s) URL.")
    return url


class AnthropicBase64Source(RequestBody):
    type: Literal["base64"]
    media_type: Annotated[
        Literal[IMAGE_TYPES],  # type: ignore[valid-type]
        Says(f"Must be one of {', '.join(IMAGE_TYPES)}."),
    ]
    data: Annotated[str, Field(min_length=1), AfterValidator(_base64)]


class AnthropicURLSource(RequestBody):
    type: Literal["url"]
    url: Annotated[str, AfterValidator(_https)]


ImageSource = _union(
    "image source",
    {"base64": AnthropicBase64Source, "url": AnthropicURLSource},
    {"file": "File sources are not supported by this gateway: send base64 data or a URL."},
)


class AnthropicImageBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["image"]
    source: ImageSource
    cache_control: AnthropicCacheControl | None = None


class AnthropicToolUseBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["tool_use"]
    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(pattern=TOOL_NAME)]
    input: dict[str, Any]
    cache_control: AnthropicCacheControl | None = None


ResultText = Annotated[
    AnthropicTextBlock,
    _one_of(
        "tool_result content block",
        ("text",),
        {"image": "Images in a tool_result are not supported by this gateway: text only."},
    ),
]


class AnthropicToolResultBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["tool_result"]
    tool_use_id: Annotated[str, Field(min_length=1)]
    content: Annotated[
        _string_or(list[ResultText]) | None,
        Says("Must be a string or an array of text blocks, not {type}."),
    ] = None
    is_error: bool | None = None
    cache_control: AnthropicCacheControl | None = None

    @property
    def text(self) -> str:
        content = self.content or ""
        text = content if isinstance(content, str) else "\n".join(b.text for b in content)
        return ERROR_PREFIX + text if self.is_error else text


_REFUSED_BLOCKS = {
    "thinking": "Thinking blocks are not supported by this gateway (nor is extended thinking).",
    "redacted_thinking": "Thinking blocks are not supported by this gateway (nor is extended "
    "thinking).",
    "document": "Document blocks are not supported by this gateway.",
    "search_result": "Search result blocks are not supported by this gateway.",
    "server_tool_use": "Server tools are not supported by this gateway.",
    "web_search_tool_result": "Server tools are not supported by this gateway.",
}
Block = _union(
    "content block",
    {
        "text": AnthropicTextBlock,
        "image": AnthropicImageBlock,
        "tool_use": AnthropicToolUseBlock,
        "tool_result": AnthropicToolResultBlock,
    },
    _REFUSED_BLOCKS,
)
#: The blocks each role may send (Anthropic's own rule).
ROLE_BLOCKS = {"user": ("text", "image", "tool_result"), "assistant": ("text", "tool_use")}


class AnthropicMessage(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    role: Annotated[
        Literal["user", "assistant"],
        Says("Must be 'user' or 'assistant'.", missing="Must be 'user' or 'assistant'."),
    ]
    content: Annotated[
        _string_or(Annotated[list[Block], Field(min_length=1)]),
        Says(
            "Must be a string or an array of content blocks, not {type}.",
            too_short="Must contain at least one content block.",
        ),
    ]


# --- tools ------------------------------------------------------------------------------------


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.get("type") != "object":
        raise fail("not_object_schema", 'Must be a JSON Schema with "type": "object".')
    return schema


class AnthropicToolDefinition(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    name: Annotated[str, Field(pattern=TOOL_NAME), Says("Must match ^[a-zA-Z0-9_-]{{1,128}}$.")]
    description: str | None = None
    input_schema: Annotated[dict[str, Any], AfterValidator(_object_schema)]
    type: Literal["custom"] | None = None
    strict: bool | None = None
    cache_control: AnthropicCacheControl | None = None

    @model_validator(mode="before")
    @classmethod
    def _custom_only(cls, data: Any) -> Any:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in (None, "custom"):
            raise fail(
                "server_tool",
                "Server tools ({kind!r}) are not supported by this gateway: only custom tools "
                "(name, description, input_schema).",
                kind=str(kind)[:60],
            )
        return data


class _AnthropicChoice(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED
    disable_parallel_tool_use: bool | None = None


class AnthropicAutoChoice(_AnthropicChoice):
    type: Literal["auto"]


class AnthropicAnyChoice(_AnthropicChoice):
    type: Literal["any"]


class AnthropicNamedChoice(_AnthropicChoice):
    type: Literal["tool"]
    name: Annotated[str, Field(pattern=TOOL_NAME)]


class AnthropicNoneChoice(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED
    type: Literal["none"]


ToolChoiceBody = _union(
    "tool_choice",
    {
        "auto": AnthropicAutoChoice,
        "any": AnthropicAnyChoice,
        "tool": AnthropicNamedChoice,
        "none": AnthropicNoneChoice,
    },
)
_CHOICE_MODES = {"auto": AUTO, "any": REQUIRED, "tool": FUNCTION, "none": NONE}


class AnthropicMetadata(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED
    user_id: Annotated[str, Field(max_length=256)] | None = None


class AnthropicThinkingDisabled(RequestBody):
    type: Literal["disabled"]


def _no_thinking(value: Any) -> Any:
    if value is not None and value != {"type": "disabled"}:
        raise fail(
            "thinking",
            'Extended thinking is not supported by this gateway (only {{"type": "disabled"}}).',
        )
    return value


_THINKING = BeforeValidator(_no_thinking)


# --- the bodies -------------------------------------------------------------------------------


def _names_a_model(model: str) -> str:
    provider, name = split_model(model)
    if provider is not None and not name:
        raise fail("no_model", "Must name a model after the provider.")
    return model


def _system_text(system: str | list[AnthropicTextBlock] | None) -> str | None:
    if system is None:
        return None
    text = system if isinstance(system, str) else "\n".join(b.text for b in system)
    return text if text.strip() else None


class _AnthropicConversation(RequestBody):
    """What both endpoints take: model, system, messages, tools."""

    unknown_field: ClassVar[str] = UNSUPPORTED

    model: Annotated[
        ModelId,
        AfterValidator(_names_a_model),
        MODEL_MESSAGES,
        Field(description="A Claude model goes to Anthropic; any other model (`gpt-4o-mini`, "
              "`gemini-2.5-flash`, `provider/model`) or route (`simple`, `moderate`, "
              "`complex`, `search`, `auto`) is translated."),
    ]  # fmt: skip
    messages: Annotated[
        list[AnthropicMessage],
        Field(min_length=1),
        AfterValidator(conversation_rules),
        Says(
            list_type="Must be an array of messages, not {type}.",
            too_short="Must contain at least one message.",
            item='Must be an object with "role" and "content".',
        ),
    ]
    system: Annotated[
        _string_or(list[AnthropicTextBlock]) | None,
        Says("Must be a string or an array of text blocks, not {type}."),
    ] = None
    tools: list[AnthropicToolDefinition] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: Annotated[AnthropicThinkingDisabled | None, _THINKING] = None

    def translate(self, **more: Any) -> tuple[tuple[Message, ...], ChatOptions]:
        """The core's messages and options (``more``: the options only a Messages body has).
        Raises :class:`InvalidRequest` naming each block its role may not send, and each tool
        result or tool choice that names no known tool."""
        errors: dict[str, list[str]] = {}
        messages = _messages(self, errors)
        tools = tuple(
            Tool(t.name, t.description or "", t.input_schema, t.strict) for t in self.tools or ()
        )
        choice, parallel = None, None
        body = self.tool_choice
        if body is not None:
            choice = ToolChoice(_CHOICE_MODES[body.type], getattr(body, "name", None))
            if getattr(body, "disable_parallel_tool_use", None):
                parallel = False
            if body.type in ("any", "tool") and not tools:
                errors["tool_choice"] = [f"{body.type!r} needs tools."]
            elif choice.name and choice.name not in {t.name for t in tools}:
                errors["tool_choice.name"] = [f"No tool is named {choice.name!r}."]
        if errors:
            raise InvalidRequest(errors)
        options = ChatOptions(tools=tools, tool_choice=choice, parallel_tool_calls=parallel, **more)
        return messages, options

    def _call(self, messages: tuple[Message, ...], options: ChatOptions, **fields: Any) -> LLMCall:
        return LLMCall(messages=messages, options=options, **routing_of(self.model), **fields)


class AnthropicCountTokensRequest(_AnthropicConversation):
    """``POST /v1/messages/count_tokens``: a Messages body without the sampling fields."""

    def to_call(self) -> LLMCall:
        return self._call(*self.translate())


class AnthropicMessagesRequest(_AnthropicConversation):
    """``POST /v1/messages``."""

    max_tokens: Annotated[
        int,
        Field(ge=1, description="Required. At most the gateway's AI_MAX_TOKENS_LIMIT."),
        Says("Must be a positive integer.", missing="This field is required."),
    ]
    stop_sequences: list[Annotated[str, Field(min_length=1)]] | None = None
    temperature: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    top_p: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    top_k: Annotated[
        Annotated[int, Field(ge=0)] | None, Says("Must be a non-negative integer.")
    ] = None
    metadata: AnthropicMetadata | None = None
    stream: Stream = None

    @model_validator(mode="after")
    def _within_limit(self) -> AnthropicMessagesRequest:
        limit = int(ai_settings.AI_MAX_TOKENS_LIMIT)
        if self.max_tokens > limit:
            raise InvalidRequest({"max_tokens": [f"Must be at most {limit}."]})
        return self

    def to_call(self) -> LLMCall:
        messages, options = self.translate(
            stop=tuple(self.stop_sequences or ()),
            top_p=self.top_p,
            top_k=self.top_k,
            user=self.metadata.user_id if self.metadata else None,
        )
        return self._call(
            messages,
            options,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=bool(self.stream),
        )


# --- messages ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Turns:
    """The core's turns, built message by message."""

    out: list[Message]
    #: tool_use id -> function name, over the assistant turns so far.
    calls: dict[str, str]
    errors: dict[str, list[str]]

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _messages(body: _AnthropicConversation, errors: dict[str, list[str]]) -> tuple[Message, ...]:
    turns = _Turns([], {}, errors)
    system = _system_text(body.system)
    if system is not None:
        turns.out.append(Message(Role.SYSTEM, system))
    for i, message in enumerate(body.messages):
        at = f"messages[{i}].content"
        if isinstance(message.content, str):
            role = Role.USER if message.role == "user" else Role.ASSISTANT
            if role is Role.USER and not message.content.strip():
                turns.error(at, "Must not be blank.")
            turns.out.append(Message(role, message.content))
        elif message.role == "user":
            _user(message.content, turns, at)
        else:
            _assistant(message.content, turns, at)
    return tuple(turns.out)


def _allowed(role: str, block: Any, turns: _Turns, at: str) -> bool:
    if block.type in ROLE_BLOCKS[role]:
        return True
    turns.error(
        at,
        f"A {role} message may not hold {block.type} blocks "
        f"(it takes: {', '.join(ROLE_BLOCKS[role])}).",
    )
    return False


def _user(blocks: list[Any], turns: _Turns, at: str) -> None:
    parts: list[Part] = []
    for j, block in enumerate(blocks):
        if not _allowed("user", block, turns, f"{at}[{j}]"):
            continue
        if block.type == "text":
            parts.append(TextPart(block.text))
        elif block.type == "image":
            source = block.source
            if source.type == "url":
                parts.append(ImagePart(url=source.url))
            else:
                parts.append(ImagePart(data=source.data, media_type=source.media_type))
        else:  # tool_result: its own turn, before the message's other blocks
            name = turns.calls.get(block.tool_use_id)
            if name is None:
                turns.error(f"{at}[{j}].tool_use_id", "No earlier tool_use block has this id.")
                continue
            turns.out.append(
                Message(Role.TOOL, block.text, tool_call_id=block.tool_use_id, name=name)
            )
    if parts:
        turns.out.append(Message.of_parts(Role.USER, parts))


def _assistant(blocks: list[Any], turns: _Turns, at: str) -> None:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        if not _allowed("assistant", block, turns, f"{at}[{j}]"):
            continue
        if block.type == "text":
            texts.append(block.text)
        else:
            calls.append(ToolCall(block.id, block.name, orjson.dumps(block.input).decode()))
            turns.calls[block.id] = block.name
    turns.out.append(Message(Role.ASSISTANT, "\n".join(texts), tool_calls=tuple(calls)))


# --- validation -------------------------------------------------------------------------------


class _Errors:
    """One pydantic error, as :func:`ai.api.validation.field_errors` reads a ValidationError."""

    def __init__(self, error: Any) -> None:
        self.error = error

    def errors(self, **_: Any) -> list[Any]:
        return [self.error]


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("string", "blocks") and not part.startswith("~"):
            path = f"{path}.{part}" if path else part
    return path


def validate_body(model: type[M], data: Any) -> M:
    """:func:`ai.api.validation.validate` for these bodies: the same messages, with each error
    inside a block described by the block's own model (the gateway's locator reads a union of
    models as its first member)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        out: dict[str, list[str]] = {}
        for error in err.errors(include_url=False):
            loc = error["loc"]
            cut = max((i for i, p in enumerate(loc) if str(p).startswith("~")), default=None)
            if cut is None:
                found = field_errors(model, _Errors(error))  # type: ignore[arg-type]
            else:
                member = _MEMBERS[str(loc[cut])]
                inner = field_errors(member, _Errors({**error, "loc": loc[cut + 1 :]}))  # type: ignore[arg-type]
                prefix = _path(loc[:cut])
                found = {
                    prefix if sub == "body" else f"{prefix}{'' if sub[0] == '[' else '.'}{sub}": m
                    for sub, m in inner.items()
                }
            for path, messages in found.items():
                known = out.setdefault(path, [])
                known.extend(m for m in messages if m not in known)
        raise InvalidRequest(out) from None
