"""The OpenAI Chat Completions wire format: the request body (a Pydantic model, like the
gateway's own in ``ai.api.bodies``), response bodies, stream chunks and error bodies, for the
OpenAI-compatible endpoint (``ai.api.openai_compat``).

Same rules and field paths as the gateway's own bodies. Parameters the gateway cannot honour
and that would change the answer (tools, ``n`` > 1, ``response_format``, ``logprobs``,
``stop``...) are rejected with a 400 naming them rather than silently ignored; parameters that
do not change the answer (``user``, ``metadata``, ``seed``...) are accepted and ignored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    model_validator,
)

from ai.api.bodies import (
    MODEL_MESSAGES,
    MODEL_PATTERN,
    MaxTokens,
    ModelId,
    Stream,
    Temperature,
    conversation_rules,
)
from ai.api.errors import InvalidRequest
from ai.api.sse import DONE_FRAME, data_frame
from ai.api.streaming import StreamFrames
from ai.api.validation import RequestBody, Says, fail, type_name
from ai.providers.base import Message, Role
from ai.services.classifier import AUTO
from ai.services.factory import provider_names
from ai.services.gateway import LLMCall, Outcome

#: OpenAI's roles, ``developer`` being its newer name for ``system``.
_ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
}
_MODEL_RE = re.compile(MODEL_PATTERN)
_INVALID_ROLE = f"Invalid role ({{got}}). Valid roles: {', '.join(_ROLES)}."
UNSUPPORTED = "Is not supported by this gateway."
ONLY_DEFAULT = Says("Is not supported by this gateway (only the default value).")


@dataclass(frozen=True, slots=True)
class OpenAIChat:
    """A validated Chat Completions request."""

    call: LLMCall
    include_usage: bool = False


class TextPart(RequestBody):
    type: Literal["text"]
    text: str

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("type") != "text":
            kind = data.get("type") if isinstance(data, dict) else type_name(data)
            raise fail("not_text", "Only text parts are supported (got {kind!r}).", kind=kind)
        return data


def _joined(content: str | list[TextPart]) -> str:
    text = content if isinstance(content, str) else "\n".join(p.text for p in content)
    if not text.strip():
        raise fail("blank", "Must not be blank.")
    return text


class OpenAIMessage(RequestBody):
    role: Annotated[
        Literal[tuple(_ROLES)],  # type: ignore[valid-type]
        Says(_INVALID_ROLE, missing=_INVALID_ROLE),
    ]
    #: A string, or an array of text parts (joined by newlines).
    content: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[TextPart], Tag("parts")],
        Discriminator(lambda v: "parts" if isinstance(v, list) else "string"),
        AfterValidator(_joined),
        Says("Must be a string or an array of text parts, not {type}.", missing="This field "
             "is required."),
    ]  # fmt: skip


def _names_a_model(model: str) -> str:
    head, slash, rest = model.partition("/")
    if slash and head in provider_names():  # "models/gemini-x" keeps its slash: not a provider
        if not rest:
            raise fail("no_model", "Must name a model after the provider.")
        if not _MODEL_RE.match(rest):
            raise fail("bad_model", "Is not a valid model name.")
    return model


class StreamOptions(RequestBody):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ResponseFormatText(RequestBody):
    type: Annotated[Literal["text"], ONLY_DEFAULT]


class OpenAIChatRequest(RequestBody):
    """A Chat Completions body. `model` is required; `provider/model` (e.g.
    `anthropic/claude-haiku-4-5`) forces the provider, else the model name picks it."""

    unknown_field: ClassVar[str] = UNSUPPORTED

    model: Annotated[
        ModelId,
        AfterValidator(_names_a_model),
        MODEL_MESSAGES,
        Field(description="A model id (its prefix picks the provider: `gpt-`, `claude-`, "
              "`gemini-`...), `provider/model`, or `auto`: the route of the complexity the "
              "gateway's classifier picks from the messages."),
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
    max_tokens: MaxTokens = None
    max_completion_tokens: MaxTokens = None
    stream: Stream = None
    stream_options: StreamOptions | None = None
    # Accepted and ignored: they do not change the answer.
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    seed: int | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    parallel_tool_calls: bool | None = None
    # Accepted only with the value that means "the default behaviour".
    n: Annotated[Literal[1] | None, ONLY_DEFAULT] = None
    top_p: Annotated[Annotated[float, Field(ge=1, le=1)] | None, ONLY_DEFAULT] = None
    presence_penalty: Annotated[Annotated[float, Field(ge=0, le=0)] | None, ONLY_DEFAULT] = None
    frequency_penalty: Annotated[Annotated[float, Field(ge=0, le=0)] | None, ONLY_DEFAULT] = None
    logprobs: Annotated[Literal[False] | None, ONLY_DEFAULT] = None
    response_format: Annotated[ResponseFormatText | None, ONLY_DEFAULT] = None
    # Documented without its one-value enum, which the schema would otherwise name twice.
    modalities: Annotated[
        Annotated[list[Literal["text"]], Field(min_length=1, max_length=1)] | None,
        ONLY_DEFAULT,
        WithJsonSchema({"type": "array", "items": {"type": "string"}, "nullable": True}),
        Field(description='Only `["text"]`.'),
    ] = None
    tool_choice: Annotated[Literal["none"] | None, ONLY_DEFAULT] = None
    tools: Annotated[Annotated[list[Any], Field(max_length=0)] | None, ONLY_DEFAULT] = None

    def to_chat(self) -> OpenAIChat:
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise InvalidRequest(
                {"max_tokens": ["Give max_tokens or max_completion_tokens, not both."]}
            )
        provider, model = None, self.model
        head, slash, rest = model.partition("/")
        if slash and head in provider_names():
            provider, model = head, rest
        auto = model == AUTO and provider is None  # the route the classifier picks
        call = LLMCall(
            messages=tuple([Message(_ROLES[m.role], m.content) for m in self.messages]),
            provider=provider,
            model=None if auto else model,
            temperature=self.temperature,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stream=bool(self.stream),
            auto=auto,
        )
        options = self.stream_options
        return OpenAIChat(call, bool(options and options.include_usage))


# --- responses ----------------------------------------------------------------------------

_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error(status: int, error: dict[str, Any]) -> dict[str, Any]:
    """The gateway's error object (``ai.api.errors.describe``) in OpenAI's shape."""
    fields = error.get("fields") or {}
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    return {
        "message": error.get("message", ""),
        "type": kind,
        "param": next(iter(fields), None),
        "code": error.get("code"),
    }


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The gateway's usage dict (``Usage.as_dict``) as OpenAI's ``usage`` object."""
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
        "completion_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
    }


def completion_id(request_id: str) -> str:
    return f"chatcmpl-{request_id}"


def chat_completion(body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A ``chat.completion`` from the gateway's JSON answer (``gateway.complete``)."""
    return {
        "id": completion_id(request_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": body["content"], "refusal": None},
                "logprobs": None,
                "finish_reason": body["finish_reason"],
            }
        ],
        "usage": openai_usage(body["usage"]),
        "system_fingerprint": None,
    }


class ChunkFrames(StreamFrames):
    """``chat.completion.chunk`` frames, as OpenAI sends them: a first chunk with the role,
    one per delta, one with the finish reason, the usage chunk (``choices: []``) when asked,
    then ``[DONE]``. A failure after the first byte is a last ``data: {"error": {...}}`` frame
    (the SDK raises ``APIError`` on it) and no ``[DONE]``. One instance per request."""

    def __init__(self, outcome: Outcome, include_usage: bool) -> None:
        self.outcome = outcome
        self.include_usage = include_usage
        self.id = completion_id(outcome.request_id)
        self.created = int(time.time())
        self.started = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.outcome.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            chunk["usage"] = None
        return data_frame(chunk)

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        return self._chunk({"role": "assistant", "content": "", "refusal": None})

    def delta(self, content: str) -> bytes:
        return self._start() + self._chunk({"content": content})

    def done(self, done: dict[str, Any]) -> Iterable[bytes]:
        yield self._start() + self._chunk({}, done["finish_reason"])
        if self.include_usage:
            yield data_frame(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": done["model"],
                    "choices": [],
                    "usage": openai_usage(done["usage"]),
                }
            )
        yield DONE_FRAME

    def error(self, status: int, error: dict[str, Any], request_id: str) -> bytes:
        return data_frame({"error": openai_error(status, error)})
