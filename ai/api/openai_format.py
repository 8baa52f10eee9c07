"""The OpenAI Chat Completions wire format: request validation, response bodies, stream chunks
and error bodies, for the OpenAI-compatible endpoint (``ai.api.openai_compat``).

Validation reuses ``ai.api.validation``'s checks (same rules, same field paths). Parameters the
gateway cannot honour and that would change the answer (tools, ``n`` > 1, ``response_format``,
``logprobs``, ``stop``...) are rejected with a 400 naming them rather than silently ignored;
parameters that do not change the answer (``user``, ``metadata``, ``seed``...) are accepted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ai.api.sse import DONE_FRAME, data_frame
from ai.api.streaming import StreamFrames
from ai.api.validation import (
    FieldErrors,
    common_fields,
    parse_messages,
    raise_if_invalid,
    type_name,
)
from ai.services.factory import provider_names
from ai.services.gateway import LLMCall, Outcome

SUPPORTED_FIELDS = (
    "model",
    "messages",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
)
#: Accepted and ignored: they do not change the answer.
HARMLESS_FIELDS = (
    "user",
    "metadata",
    "store",
    "seed",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "parallel_tool_calls",
)
#: Accepted only with the value that means "the default behaviour".
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "n": (1,),
    "top_p": (1,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logprobs": (False,),
    "response_format": ({"type": "text"},),
    "modalities": (["text"],),
    "tool_choice": ("none",),
    "tools": ([],),
}
_STREAM_OPTIONS = ("include_usage", "include_obfuscation")
_ROLE_ALIASES = {"developer": "system"}  # OpenAI's newer name for the system role


@dataclass(frozen=True, slots=True)
class OpenAIChat:
    """A validated Chat Completions request."""

    call: LLMCall
    include_usage: bool = False


def _fields(data: dict[str, Any], errors: FieldErrors) -> None:
    for key, value in data.items():
        if key in SUPPORTED_FIELDS or key in HARMLESS_FIELDS or value is None:
            continue
        if key in NEUTRAL_VALUES:
            if value not in NEUTRAL_VALUES[key] or isinstance(value, bool) != isinstance(
                NEUTRAL_VALUES[key][0], bool
            ):
                errors.add(key, "Is not supported by this gateway (only the default value).")
        else:
            errors.add(str(key), "Is not supported by this gateway.")


def _normalise_messages(raw: Any, errors: FieldErrors) -> Any:
    """OpenAI's message forms as the gateway's: arrays of text parts joined, ``developer`` as
    ``system``; everything else is left to the shared check."""
    if not isinstance(raw, list):
        return raw
    out: list[Any] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            out.append(item)
            continue
        item = dict(item)
        if item.get("role") in _ROLE_ALIASES:
            item["role"] = _ROLE_ALIASES[item["role"]]
        content = item.get("content")
        if isinstance(content, list):
            texts: list[str] = []
            for j, part in enumerate(content):
                if (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    texts.append(part["text"])
                else:
                    kind = part.get("type") if isinstance(part, dict) else type_name(part)
                    errors.add(
                        f"messages[{i}].content[{j}]",
                        f"Only text parts are supported (got {kind!r}).",
                    )
            # A placeholder after a bad part: the error is already named, not twice.
            item["content"] = "\n".join(texts) if len(texts) == len(content) else "-"
        out.append(item)
    return out


def validate_openai_chat(data: dict[str, Any]) -> OpenAIChat:
    """Validate an OpenAI Chat Completions body. ``model`` is required; ``provider/model``
    (e.g. ``anthropic/claude-haiku-4-5``) forces the provider, else the model name picks it."""
    errors = FieldErrors()
    _fields(data, errors)
    messages = parse_messages(
        {"messages": _normalise_messages(data.get("messages"), errors)}, errors
    )

    model = data.get("model")
    common_in: dict[str, Any] = {"model": model}
    if model is None:
        errors.add("model", "This field is required.")
    elif isinstance(model, str) and "/" in model:
        head, _, rest = model.partition("/")
        if head in provider_names():  # "models/gemini-x" keeps its slash: not a provider
            common_in = {"provider": head, "model": rest or None}
            if not rest:
                errors.add("model", "Must name a model after the provider.")
    tokens_key = "max_completion_tokens" if data.get("max_completion_tokens") is not None else None
    if tokens_key and data.get("max_tokens") is not None:
        errors.add("max_tokens", "Give max_tokens or max_completion_tokens, not both.")
    tokens_key = tokens_key or "max_tokens"
    common_in.update(
        temperature=data.get("temperature"),
        max_tokens=data.get(tokens_key),
        stream=data.get("stream"),
    )
    found = FieldErrors()
    common = common_fields(common_in, found)
    renames = {"max_tokens": tokens_key, "provider": "model"}
    for key, messages_ in found.items():
        errors.setdefault(renames.get(key, key), []).extend(messages_)

    include_usage = False
    options = data.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            errors.add("stream_options", f"Must be an object, not {type_name(options)}.")
        else:
            for key, value in options.items():
                if key not in _STREAM_OPTIONS:
                    errors.add(f"stream_options.{key}", "Unknown field.")
                elif value is not None and not isinstance(value, bool):
                    errors.add(f"stream_options.{key}", "Must be a boolean.")
            include_usage = options.get("include_usage") is True
    raise_if_invalid(errors)
    return OpenAIChat(LLMCall(messages=messages, **common), include_usage)


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
