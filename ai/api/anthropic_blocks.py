"""The Anthropic Messages API's content blocks, tools and tool choice as Pydantic models (the
rules of ``ai.api.validation``), for the bodies of ``ai.api.anthropic_format``.

Blocks are unions of models chosen by their ``type``; a type Anthropic has and the gateway
cannot carry (thinking, documents, server tools) is refused saying so. ``cache_control`` is
forwarded to Anthropic (``ai.api.anthropic_format``): prompt caching changes cost, never the
answer.
:func:`validate_body` validates a body with every error named by its path, inside blocks too.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from ai.api.errors import InvalidRequest
from ai.api.validation import RequestBody, Says, fail, field_errors, type_name
from ai.providers.parts import CACHE_5M

M = TypeVar("M", bound=RequestBody)

UNSUPPORTED = "Is not supported by this gateway. Allowed fields: {allowed}."
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,128}$"


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
    """A union of models chosen by their ``type`` (``members``: type -> model). Its tags start
    with ``~`` so that :func:`validate_body` can tell them from field names."""
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


def string_or(blocks: Any) -> Any:
    """A string, or ``blocks`` (an array): Anthropic's two spellings of content."""
    return Annotated[
        Annotated[str, Tag("string")] | Annotated[blocks, Tag("blocks")],
        Discriminator(_blocks_or_string),
    ]


# --- blocks -----------------------------------------------------------------------------------


class AnthropicCacheControl(RequestBody):
    """A prompt-cache breakpoint: Anthropic caches the prompt up to its block, for ``ttl``.
    (LiteLLM and OpenRouter take the same object in OpenAI bodies: ``ai.api.openai_format``.)"""

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None

    @staticmethod
    def mark(of: Any) -> str | None:
        """The core's ``cache`` mark of ``of`` (a block, part, message or tool with a
        ``cache_control`` field): its TTL, 5m when it gives none; None without one."""
        control = getattr(of, "cache_control", None)
        return None if control is None else control.ttl or CACHE_5M

    @staticmethod
    def last(items: Any) -> str | None:
        """The mark of the last of ``items`` (blocks or content parts) that has one; None for
        a string content or none marked."""
        if not isinstance(items, list):
            return None
        return next((m for i in reversed(items) if (m := AnthropicCacheControl.mark(i))), None)


class AnthropicTextBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["text"]
    text: NonBlank
    cache_control: AnthropicCacheControl | None = None
    #: null only: what the SDK echoes from an answer without citations.
    citations: Annotated[None, Says("Citations are not supported by this gateway.")] = None


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


def _direct(caller: Any) -> Any:
    if caller not in (None, {"type": "direct"}):
        raise fail("caller", "Only direct calls (the model's own) are supported by this gateway.")
    return caller


class AnthropicToolUseBlock(RequestBody):
    unknown_field: ClassVar[str] = UNSUPPORTED

    type: Literal["tool_use"]
    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(pattern=TOOL_NAME)]
    input: dict[str, Any]
    cache_control: AnthropicCacheControl | None = None
    #: What the SDK echoes from an answer: a call made by the model itself, no toolset.
    caller: Annotated[dict[str, Literal["direct"]] | None, BeforeValidator(_direct)] = None
    toolset_name: Annotated[None, Says("Toolsets are not supported by this gateway.")] = None


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
        string_or(list[ResultText]) | None,
        Says("Must be a string or an array of text blocks, not {type}."),
    ] = None
    is_error: bool | None = None
    cache_control: AnthropicCacheControl | None = None

    @property
    def text(self) -> str:
        content = self.content or ""
        text = content if isinstance(content, str) else "\n".join(b.text for b in content)
        return text


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
        string_or(Annotated[list[Block], Field(min_length=1)]),
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


NoThinking = BeforeValidator(_no_thinking)


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
