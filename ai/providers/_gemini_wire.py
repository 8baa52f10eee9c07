"""Gemini's wire for :mod:`ai.providers.gemini`: the request body, reading responses and SSE.

Pure functions over dicts and bytes (no SDK calls), so they cost little per chunk and are easy to
test. Reference: https://ai.google.dev/api/generate-content
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from google.genai import types

from ai.exceptions import UpstreamBadRequestError
from ai.providers.base import ChatRequest, FinishReason, Role, Usage, split_system

#: Model ids go into the URL path: allow Google's shapes only ("gemini-2.5-flash",
#: "models/...", "tunedModels/...").
MODEL_ID = re.compile(r"(?:models/|tunedModels/)?[A-Za-z0-9][A-Za-z0-9._\-]*")

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

STATUS_NAME = re.compile(r"[A-Z][A-Z_]{1,40}")
#: One stream chunk, read: (text, finish reason, usage so far, model, response id).
Chunk = tuple[str, str | None, Usage | None, str | None, str | None]
T = TypeVar("T")


# -- the wire: request body and response parsing ---------------------------------------------


def gemini_model_path(model: str) -> str:
    """``models/<id>`` as the SDK's ``t_model`` builds it, refusing anything path-like."""
    if not MODEL_ID.fullmatch(model):
        raise UpstreamBadRequestError(
            f"Invalid Gemini model name {model[:100]!r}.", provider="gemini", model=model[:100]
        )
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def gemini_contents(request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
    """(system instruction, contents). Roles are ``user`` / ``model``; consecutive messages of
    one role become one turn with several parts; empty texts are dropped (Gemini refuses empty
    parts). Gemini needs at least one turn: a system-only request sends its text as the turn."""
    system, rest = split_system(request.messages)
    contents: list[dict[str, Any]] = []
    for message in rest:
        if not message.content:
            continue
        role = "model" if message.role is Role.ASSISTANT else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].append({"text": message.content})
        else:
            contents.append({"role": role, "parts": [{"text": message.content}]})
    if not contents:
        contents, system = [{"role": "user", "parts": [{"text": system or ""}]}], None
    return system, contents


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


def read_response(data: dict[str, Any]) -> tuple[str, str | None]:
    """(text, finish reason) of a ``GenerateContentResponse`` dict: the first candidate's text
    parts, leaving out thought summaries. A prompt blocked before generation has no candidate."""
    candidates = data.get("candidates")
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        return "", FinishReason.CONTENT_FILTER.value if blocked else None
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or ()
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    return text, finish_reason(candidate.get("finishReason"))


def read_typed(chunk: types.GenerateContentResponse) -> tuple[str, str | None, Usage | None]:
    """The same from a typed chunk (the ``wire = "typed"`` path)."""
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
        return "", FinishReason.CONTENT_FILTER.value if blocked else None, usage
    candidate = chunk.candidates[0]
    parts = (candidate.content and candidate.content.parts) or ()
    text = "".join(p.text for p in parts if p.text and not p.thought)
    reason = candidate.finish_reason
    return text, finish_reason(reason.value if reason is not None else None), usage


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


async def each_within(items: AsyncIterator[T], timeout: float) -> AsyncIterator[T]:
    """The items of ``items``, waiting at most ``timeout`` seconds for each."""
    while True:
        try:
            async with asyncio.timeout(timeout):
                item = await anext(items)
        except StopAsyncIteration:
            return
        yield item
