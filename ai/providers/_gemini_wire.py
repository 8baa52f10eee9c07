"""Gemini's wire for :mod:`ai.providers.gemini`: the request body, reading responses and SSE.

Pure functions over dicts and bytes (no SDK calls), so they cost little per chunk and are easy to
test. The body is the one translation of the core (:mod:`ai.providers.parts`) to Gemini; the
typed wire validates the same dicts into the SDK's models. Reference:
https://ai.google.dev/api/generate-content and https://ai.google.dev/gemini-api/docs/function-calling
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from google.genai import types

from ai.exceptions import UnsupportedParameterError, UpstreamBadRequestError
from ai.providers import reasoning
from ai.providers.base import ChatRequest, FinishReason, Message, Role, Usage, split_system
from ai.providers.parts import (
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    NO_OPTIONS,
    NONE,
    REQUIRED,
    ChatOptions,
    ImagePart,
    TextPart,
    ToolCall,
    arguments_object,
    tool_names,
)

#: Model ids go into the URL path: allow Google's shapes only ("gemini-2.5-flash",
#: "models/...", "tunedModels/...").
MODEL_ID = re.compile(r"(?:models/|tunedModels/)?[A-Za-z0-9][A-Za-z0-9._\-]*")
#: Gemini 3 refuses a function call sent back without the thought signature it came with, and
#: the gateway's clients do not keep signatures (OpenAI and Anthropic tool calls have no such
#: field). Google's documented stand-in for a call it did not sign skips that check:
#: https://ai.google.dev/gemini-api/docs/thought-signatures
SKIP_SIGNATURE = "skip_thought_signature_validator"
GENERATION = re.compile(r"gemini-(\d+)")

FINISH_REASONS: dict[str, str] = {
    "STOP": FinishReason.STOP.value,
    "MAX_TOKENS": FinishReason.LENGTH.value,
    **dict.fromkeys(
        ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
         "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"),
        FinishReason.CONTENT_FILTER.value,
    ),
    **dict.fromkeys(
        ("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
         "MALFORMED_RESPONSE"),
        FinishReason.ERROR.value,
    ),
}  # fmt: skip

#: The keys of Gemini's ``Schema`` (an OpenAPI 3.0 subset, https://ai.google.dev/api/caching#Schema).
#: Function ``parameters`` with any other key (``additionalProperties``, ``$schema``, ``strict``...)
#: are refused with a 400 "Unknown name", so :func:`gemini_schema` keeps only these.
SCHEMA_KEYS = frozenset(
    ("type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
     "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
     "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum")
)  # fmt: skip
TOOL_MODES = {NONE: "NONE", REQUIRED: "ANY", FUNCTION: "ANY"}  # anything else: AUTO
STATUS_NAME = re.compile(r"[A-Z][A-Z_]{1,40}")
#: One stream chunk, read: (text, tool calls, finish reason, usage so far, model, response id).
Chunk = tuple[str, tuple[ToolCall, ...], str | None, Usage | None, str | None, str | None]


# -- the wire: request body and response parsing ---------------------------------------------


def gemini_model_path(model: str) -> str:
    """``models/<id>`` as the SDK's ``t_model`` builds it, refusing anything path-like."""
    if not MODEL_ID.fullmatch(model):
        raise UpstreamBadRequestError(
            f"Invalid Gemini model name {model[:100]!r}.", provider="gemini", model=model[:100]
        )
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def gemini_contents(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """(system instruction, contents). Roles are ``user`` / ``model``; consecutive turns of one
    role become one turn with several parts (a tool result is a ``user`` turn); empty texts are
    dropped (Gemini refuses empty parts). Gemini needs at least one turn: a system-only request
    sends its text as the turn. Raises :class:`UnsupportedParameterError` for an image URL."""
    system, rest = split_system(request.messages)
    contents: list[dict[str, Any]] = []
    names: dict[str, str] | None = None
    generation = GENERATION.search(request.model)
    signed = generation is not None and int(generation[1]) >= 3
    for message in rest:
        if message.role is Role.TOOL:
            if not message.name and names is None:
                names = tool_names(request.messages)
            role, parts = "user", [function_response(message, names or {})]
        else:
            role = "model" if message.role is Role.ASSISTANT else "user"
            if message.has_media:
                parts = [content_part(p) for p in message.parts if not _empty(p)]
            else:  # plain text: the common case, kept cheap
                parts = [{"text": message.content}] if message.content else []
            if message.tool_calls:
                calls = [function_call(call) for call in message.tool_calls]
                if signed:  # only the first call of a step carries a signature
                    calls[0]["thoughtSignature"] = SKIP_SIGNATURE
                parts += calls
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        contents, system = [{"role": "user", "parts": [{"text": system or ""}]}], None
    return system, contents


def _empty(part: Any) -> bool:
    return isinstance(part, TextPart) and not part.text


def content_part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if not part.data:
        # generateContent reads only inline bytes or files uploaded to Google (fileData).
        raise UnsupportedParameterError.of(
            "image_url", "gemini", "Gemini cannot fetch image URLs; use a data URL."
        )
    return {"inlineData": {"mimeType": part.media_type, "data": part.data}}


def function_call(call: ToolCall) -> dict[str, Any]:
    """An assistant's tool call as a ``functionCall`` part; ``args`` must be a JSON object."""
    args = arguments_object(call, "gemini", "tool_calls")
    return {"functionCall": {"name": call.name, "args": args}}


def function_response(message: Message, names: Mapping[str, str]) -> dict[str, Any]:
    """A tool result as a ``functionResponse`` part. Gemini names the function, not the call:
    the message's ``name``, else the name of the call it answers. ``response`` must be an
    object: the result itself when it is a JSON object, else ``{"result": text}``;
    ``{"error": text}`` for a failed tool (``is_error``)."""
    name = message.name or names.get(message.tool_call_id or "")
    if not name:
        raise UnsupportedParameterError(
            "Gemini needs the function name of a tool result: answer a tool call of an earlier "
            "assistant turn (tool_call_id) or name the function.",
            param="messages",
            provider="gemini",
        )
    if message.is_error:  # Gemini's own key for a failed call's details
        return {"functionResponse": {"name": name, "response": {"error": message.content}}}
    response: Any = None
    if message.content.lstrip().startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            response = orjson.loads(message.content)
    if not isinstance(response, dict):
        response = {"result": message.content}
    return {"functionResponse": {"name": name, "response": response}}


def gemini_schema(schema: Any, defs: Mapping[str, Any] | None = None, depth: int = 0) -> Any:
    """A JSON Schema in Gemini's dialect: only :data:`SCHEMA_KEYS`, types in capitals, local
    ``$ref`` inlined from ``$defs`` / ``definitions``, ``oneOf`` read as ``anyOf``, ``const``
    as a one-value ``enum``, a ``null`` type or branch as ``nullable``. Gemini's ``enum`` holds
    strings only: an enum of other values is left out (the type still holds)."""
    if not isinstance(schema, Mapping) or depth > 16:
        return {}
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    ref = schema.get("$ref")
    if isinstance(ref, str) and isinstance(defs.get(ref.rsplit("/", 1)[-1]), Mapping):
        schema = {
            **defs[ref.rsplit("/", 1)[-1]],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            kinds = value if isinstance(value, list) else [value]
            real = [k for k in kinds if k != "null"]
            if len(real) < len(kinds):
                out["nullable"] = True
            out["type"] = str(real[0] if real else "null").upper()
        elif key == "const":
            out["enum"] = [value]
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            branches = [
                b for b in value if not (isinstance(b, Mapping) and b.get("type") == "null")
            ]
            if len(branches) < len(value):
                out["nullable"] = True
            if len(branches) == 1:
                out.update(gemini_schema(branches[0], defs, depth + 1))
            else:
                out["anyOf"] = [gemini_schema(b, defs, depth + 1) for b in branches]
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {name: gemini_schema(p, defs, depth + 1) for name, p in value.items()}
        elif key == "items":
            out[key] = gemini_schema(value, defs, depth + 1)
        elif key in SCHEMA_KEYS:
            out[key] = value
    if "enum" in out and not all(isinstance(v, str) for v in out["enum"] or [None]):
        del out["enum"]
    return out


def gemini_tools(options: ChatOptions) -> list[dict[str, Any]]:
    """``tools``: one ``functionDeclarations`` list. A function without properties sends no
    ``parameters`` (Gemini refuses an OBJECT with none)."""
    declarations = []
    for tool in options.tools:
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        if tool.parameters.get("properties"):
            declaration["parameters"] = gemini_schema(tool.parameters)
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def gemini_tool_config(options: ChatOptions) -> dict[str, Any] | None:
    choice = options.tool_choice
    if choice is None:
        return None
    config: dict[str, Any] = {"mode": TOOL_MODES.get(choice.mode, "AUTO")}
    if choice.mode == FUNCTION and choice.name:
        config["allowedFunctionNames"] = [choice.name]
    return {"functionCallingConfig": config}


def generation_options(options: ChatOptions) -> dict[str, Any]:
    """The ``generationConfig`` keys of the options. ``user`` and ``metadata`` do not change
    the answer and Gemini has no field for them: they are accepted and not sent."""
    config: dict[str, Any] = {}
    if options.stop:
        config["stopSequences"] = list(options.stop)
    for name, key in _SAMPLING:
        value = getattr(options, name)
        if value is not None:
            config[key] = value
    response_format = options.response_format
    if response_format is not None and response_format.type in (JSON_OBJECT, JSON_SCHEMA):
        config["responseMimeType"] = "application/json"
        if response_format.type == JSON_SCHEMA and response_format.schema:
            # responseJsonSchema takes JSON Schema itself ($ref, additionalProperties...).
            schema = {k: v for k, v in response_format.schema.items() if k != "$schema"}
            config["responseJsonSchema"] = schema
    thinking = reasoning.budget(options.reasoning_effort)
    if thinking is not None:  # 0 ("none") turns thinking off where the model allows it
        config["thinkingConfig"] = {"thinkingBudget": thinking}
    return config


_SAMPLING = (
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)


def gemini_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of ``generateContent`` (camelCase, as the SDK serialises it)."""
    system, contents = gemini_contents(request)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}], "role": "user"}
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    options = request.options
    if options is not NO_OPTIONS:
        config.update(generation_options(options))
        if options.tools:
            body["tools"] = gemini_tools(options)
            tool_config = gemini_tool_config(options)
            if tool_config:
                body["toolConfig"] = tool_config
    if config:
        body["generationConfig"] = config
    return body


def gemini_usage(data: dict[str, Any] | None) -> Usage | None:
    """Our Usage from ``usageMetadata``. Thinking tokens are billed as output but reported
    beside ``candidatesTokenCount``, so completion = candidates + thoughts."""
    if not data:
        return None
    thoughts = data.get("thoughtsTokenCount") or 0
    return Usage.of(
        data.get("promptTokenCount") or 0,
        (data.get("candidatesTokenCount") or 0) + thoughts,
        total=data.get("totalTokenCount"),
        cached=data.get("cachedContentTokenCount") or 0,
        reasoning=thoughts,
    )


def finish_reason(value: str | None) -> str | None:
    if not value or value == "FINISH_REASON_UNSPECIFIED":
        return None
    return FINISH_REASONS.get(value, FinishReason.STOP.value)


def call_id(given: str | None) -> str:
    """Gemini's own call id when it sends one, else a fresh ``call_<hex>`` (tool results are
    matched to calls by these ids on the OpenAI and Anthropic wires)."""
    return given or f"call_{secrets.token_hex(12)}"


def read_response(data: dict[str, Any]) -> tuple[str, tuple[ToolCall, ...], str | None]:
    """(text, tool calls, finish reason) of a ``GenerateContentResponse`` dict: the first
    candidate's text parts, leaving out thought summaries, and its ``functionCall`` parts.
    Gemini ends a turn of calls with STOP: that is ``tool_calls`` here. A prompt blocked before
    generation has no candidate."""
    candidates = data.get("candidates")
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        return "", (), FinishReason.CONTENT_FILTER.value if blocked else None
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or ()
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    calls = tuple(
        ToolCall(
            call_id(call.get("id")),
            call["name"],
            orjson.dumps(call.get("args") or {}).decode(),
        )
        for call in (p["functionCall"] for p in parts if "functionCall" in p)
    )
    return text, calls, with_calls(finish_reason(candidate.get("finishReason")), bool(calls))


def with_calls(finish: str | None, called: bool) -> str | None:
    return FinishReason.TOOL_CALLS.value if called and finish == FinishReason.STOP.value else finish


def read_typed(
    chunk: types.GenerateContentResponse,
) -> tuple[str, tuple[ToolCall, ...], str | None, Usage | None]:
    """The same from a typed chunk (the ``wire = "typed"`` path), with the usage so far."""
    meta = chunk.usage_metadata
    usage = meta and gemini_usage(
        {
            "promptTokenCount": meta.prompt_token_count,
            "candidatesTokenCount": meta.candidates_token_count,
            "thoughtsTokenCount": meta.thoughts_token_count,
            "cachedContentTokenCount": meta.cached_content_token_count,
            "totalTokenCount": meta.total_token_count,
        }
    )
    if not chunk.candidates:
        blocked = chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason
        return "", (), FinishReason.CONTENT_FILTER.value if blocked else None, usage
    candidate = chunk.candidates[0]
    parts = (candidate.content and candidate.content.parts) or ()
    text = "".join(p.text for p in parts if p.text and not p.thought)
    calls = tuple(
        ToolCall(
            call_id(p.function_call.id),
            p.function_call.name or "",
            orjson.dumps(p.function_call.args or {}).decode(),
        )
        for p in parts
        if p.function_call is not None
    )
    reason = candidate.finish_reason
    finish = finish_reason(reason.value if reason is not None else None)
    return text, calls, with_calls(finish, bool(calls)), usage


def http_status(response: object) -> int | None:
    """The HTTP status under a genai error: httpx2 ``status_code``, aiohttp ``status``. genai's
    own wrapper (in-band errors) always says 200."""
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else None


def retry_info(body: object) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``), which Gemini's
    429s carry instead of a Retry-After header."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            try:
                if isinstance(delay, str):
                    return max(0.0, float(delay.rstrip("s")))
                if isinstance(delay, dict):
                    return max(0.0, float(delay.get("seconds", 0)) + delay.get("nanos", 0) / 1e9)
            except (TypeError, ValueError):
                return None
    return None


def error_reasons(body: object) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return {
        d["reason"]
        for d in (details if isinstance(details, list) else ())
        if isinstance(d, dict) and isinstance(d.get("reason"), str)
    }


def status_name(value: object) -> str | None:
    """Google's error status ("RESOURCE_EXHAUSTED"), only if it looks like one (never free text)."""
    return value if isinstance(value, str) and STATUS_NAME.fullmatch(value) else None
