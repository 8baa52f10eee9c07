"""The translation core beyond plain text: images, tools, tool calls, structured output and the
optional sampling parameters a request may carry.

Every public surface (the native endpoints, OpenAI Chat Completions, Anthropic Messages, OpenAI
Responses) translates its wire format *to* these objects once, and every provider translates
*from* them once: no surface-to-vendor translators. A provider that cannot honour something a
request asks for raises :class:`ai.exceptions.UnsupportedParameterError` naming it, before any
upstream call; it never drops it silently. A request may ask for the opposite
(``ChatOptions.drop_unsupported``, ``AI_DROP_PARAMS``): then what a target cannot honour is left
out for that target (:meth:`ai.providers.base.BaseLLMProvider.fit_options`), never tools, tool
choice or structured output, and the route trace names what was left out.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ai.exceptions import UnsupportedParameterError
from ai.providers.reasoning import budget as reasoning_budget

_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<b64>;base64)?,(?P<data>.*)", re.S)


#: How long a prompt-cache breakpoint keeps the prompt (Anthropic's ``cache_control.ttl``).
CACHE_5M, CACHE_1H = "5m", "1h"


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    #: A prompt-cache breakpoint after this part (:data:`CACHE_5M` or :data:`CACHE_1H`): the
    #: vendor may cache the prompt up to here. Anthropic's ``cache_control``; the other vendors
    #: cache prompts on their own and ignore it. It changes the cost, never the answer.
    cache: str | None = None


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image: a remote ``url`` (https), or inline base64 ``data`` with its ``media_type``."""

    url: str = ""
    data: str = ""
    media_type: str = ""
    #: OpenAI's ``detail`` (low, high, auto); other vendors have no such knob.
    detail: str | None = None
    #: A prompt-cache breakpoint after this image (see :attr:`TextPart.cache`).
    cache: str | None = None

    @classmethod
    def from_url(cls, url: str, detail: str | None = None) -> ImagePart:
        """From an OpenAI ``image_url``: a ``data:`` URL becomes inline data, anything else a
        remote URL. Raises ValueError for a data URL that is not base64 image data."""
        if not url.startswith("data:"):
            return cls(url=url, detail=detail)
        match = _DATA_URL.fullmatch(url)
        if match is None or not match["b64"] or not (match["type"] or "").startswith("image/"):
            raise ValueError("A data URL must be data:image/<type>;base64,<data>.")
        try:
            base64.b64decode(match["data"], validate=True)
        except binascii.Error:
            raise ValueError("The data URL's data is not valid base64.") from None
        return cls(data=match["data"], media_type=match["type"], detail=detail)

    @property
    def as_url(self) -> str:
        """The image as one URL (a ``data:`` URL when it is inline)."""
        return self.url or f"data:{self.media_type};base64,{self.data}"


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for. ``arguments`` is JSON text, as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"


def arguments_object(call: ToolCall, provider: str, param: str) -> dict[str, Any]:
    """``call``'s arguments as the JSON object vendors that take them parsed (Anthropic's
    ``input``, Gemini's ``args``) need; anything else is refused naming ``param``."""
    try:
        value = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise UnsupportedParameterError(
            f"The arguments of tool call {call.id[:64]!r} must be a JSON object for "
            f"{provider.capitalize()}.",
            param=param,
            provider=provider,
        )
    return value


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call. The first piece of call ``index`` carries its ``id``
    and ``name``; ``arguments`` arrive as fragments of the JSON text (OpenAI's delta shape)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    strict: bool | None = None
    #: A prompt-cache breakpoint after this tool's definition (see :attr:`TextPart.cache`).
    cache: str | None = None


#: ToolChoice modes.
AUTO, NONE, REQUIRED, FUNCTION = "auto", "none", "required", "function"


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: str = AUTO  # auto | none | required | function
    name: str | None = None  # the function, with mode "function"


#: ResponseFormat types.
TEXT, JSON_OBJECT, JSON_SCHEMA = "text", "json_object", "json_schema"


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    type: str = TEXT  # text | json_object | json_schema
    schema: Mapping[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What a request may ask for beyond messages, model, temperature and max_tokens. Each
    provider honours what it can and refuses the rest (:meth:`refuse`)."""

    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    stop: tuple[str, ...] = ()
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    #: How hard a reasoning model thinks before it answers (:data:`REASONING_EFFORTS`): OpenAI's
    #: ``reasoning_effort`` as it is; a thinking budget for Claude and Gemini
    #: (:mod:`ai.providers.reasoning`).
    reasoning_effort: str | None = None
    #: An end-user id for the vendor's abuse monitoring.
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    #: Fields the gateway does not know, passed as they are to OpenAI-wire targets and refused
    #: by the others.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Leave out, per target, the options it cannot honour (but :data:`NEVER_DROPPED`) instead
    #: of refusing the request; None: the ``AI_DROP_PARAMS`` setting decides.
    drop_unsupported: bool | None = None

    def without(self, name: str) -> ChatOptions:
        """These options with ``name`` (as :meth:`given` names it) left out: the option, and
        an extra field of that name (a body field the gateway did not know may share one)."""
        changes: dict[str, Any] = {}
        if name in OPTION_NAMES:
            changes[name] = _DEFAULTS[name]
        if name in self.extra:
            changes["extra"] = {k: v for k, v in self.extra.items() if k != name}
        return replace(self, **changes)

    def given(self) -> list[str]:
        """The names of the options this request sets."""
        names = [name for name in OPTION_NAMES if getattr(self, name) not in _UNSET]
        return names + list(self.extra)

    def refuse(self, provider: str, supported: frozenset[str], *, why: str = "") -> None:
        """Raise :class:`UnsupportedParameterError` for the first option set here that is not
        in ``supported`` (names as in :meth:`given`; ``extra`` fields count by their name)."""
        for name in self.given():
            if name not in supported:
                raise UnsupportedParameterError.of(name, provider, why)

    def canonical(self) -> Any:
        """A JSON-able value that is equal for equal options (the response cache's key)."""
        return [
            [[t.name, t.description, dict(t.parameters), t.strict] for t in self.tools],
            None if self.tool_choice is None else [self.tool_choice.mode, self.tool_choice.name],
            self.parallel_tool_calls,
            None
            if self.response_format is None
            else [
                self.response_format.type,
                self.response_format.schema,
                self.response_format.name,
                self.response_format.strict,
            ],
            list(self.stop),
            self.top_p,
            self.top_k,
            self.seed,
            self.presence_penalty,
            self.frequency_penalty,
            dict(self.extra),
            # Last, and only when set: the keys of requests without them stay what they were.
            # The effort with its budget (a changed AI_REASONING_BUDGETS is another request);
            # whether options may be dropped (a request that may not is refused, not cached).
            *(
                [[self.reasoning_effort, reasoning_budget(self.reasoning_effort)]]
                if self.reasoning_effort is not None
                else []
            ),
            *([["drop", self.drop_unsupported]] if self.drop_unsupported is not None else []),
        ]


#: Every ChatOptions name but ``extra``, as ChatOptions.given() names them.
OPTION_NAMES = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stop",
    "top_p",
    "top_k",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "metadata",
    "reasoning_effort",
)

#: The reasoning efforts a request may ask for (OpenAI's names; ``none``: no reasoning).
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

#: What counts as "not given".
_UNSET = (None, (), {})
#: What an option is when not given.
_DEFAULTS = {name: () if name in ("tools", "stop") else None for name in OPTION_NAMES}
#: Options never left out for a target that lacks them: without them the answer would not be
#: what the client reads (tool calls, JSON), so such a target refuses the request.
NEVER_DROPPED = frozenset({"tools", "tool_choice", "response_format"})

NO_OPTIONS = ChatOptions()


def tool_names(messages: Any) -> dict[str, str]:
    """``{tool call id: function name}`` over the assistant messages' tool calls: what a tool
    result answers, for vendors that name the function in the result (Gemini)."""
    return {call.id: call.name for m in messages for call in m.tool_calls}


class ToolCallBuilder:
    """Reassembles streamed :class:`ToolCallDelta` pieces into :class:`ToolCall` objects."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def add(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = [delta.id or "", delta.name or ""]
        else:
            call[0] = call[0] or delta.id or ""
            call[1] = call[1] or delta.name or ""
        if delta.arguments:
            call.append(delta.arguments)

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(c[0], c[1], "".join(c[2:]) or "{}") for _, c in sorted(self._calls.items())
        )

    def __bool__(self) -> bool:
        return bool(self._calls)
