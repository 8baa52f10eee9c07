"""Google's Gemini API wire (generativelanguage): ``POST /{v1,v1beta}/models/{model}:<method>``.

``:generateContent`` answers one JSON ``GenerateContentResponse``;
``:streamGenerateContent?alt=sse`` answers SSE frames ``data: <json>\\r\\n\\r\\n`` (a space
after ``data:``; google-genai rejects ``data:{``), each a full ``GenerateContentResponse``
holding one text piece. There is no ``[DONE]``: the stream ends with the body.
``finishReason`` is only on the last chunk and ``usageMetadata`` is cumulative. JSON is
camelCase, except inside ``thinkingConfig`` where the SDK sends snake_case keys, so both
spellings are accepted there. Unknown fields get the real API's 400 ``INVALID_ARGUMENT``
("Unknown name ..."), which catches a provider sending snake_case.

Errors are ``{"error": {"code", "message", "status", "details"?}}``; the key travels in the
``x-goog-api-key`` header (or ``?key=``). Like the real service, an invalid key answers **400**
``INVALID_ARGUMENT`` with ``details[0].reason == "API_KEY_INVALID"``, not 401. A 429 carries a
``google.rpc.RetryInfo`` detail (``retryDelay``): with ``retry_delay=S`` only that, as Google
sends it; with ``retry_after=S`` also ``retry-after`` headers.
Google sends no request-id header; ``responseId`` in the body identifies a response.

Gemini-only scenario values: ``finish=none`` ends a stream cleanly but without any
``finishReason`` (a cut an intermediary made look clean); ``finish=safety`` (or any other Google
reason, lower case) is sent upper-cased. :data:`DISCONNECTED` collects the ``responseId`` of
every stream whose client went away before its end, so tests can see that a stream was closed.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fake_upstream.scenario import Scenario, fake_prompt_tokens, reply_deltas
from tests.fake_upstream.server import (
    BAD_KEY,
    FakeUpstream,
    drop,
    json_response,
    read_json,
    retry_headers,
    start_sse,
)

VERSIONS = ("v1", "v1beta")
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "none": None}
#: responseIds of the streams whose client disconnected mid-stream (read by tests).
DISCONNECTED: set[str] = set()

# What the real API accepts (a subset is enough: anything else is a provider bug worth a 400).
REQUEST_FIELDS = {
    "contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
    "toolConfig", "cachedContent", "labels",
}  # fmt: skip
GENERATION_FIELDS = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
    "seed", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema",
    "responseJsonSchema", "responseLogprobs", "logprobs", "responseModalities",
    "thinkingConfig", "mediaResolution", "speechConfig",
}  # fmt: skip
THINKING_FIELDS = {
    "thinkingBudget", "thinking_budget", "includeThoughts", "include_thoughts",
    "thinkingLevel", "thinking_level",
}  # fmt: skip


def error_body(status: int, message: str, details: list[dict] | None = None) -> dict:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def error_response(status: int, scenario: Scenario, message: str | None = None):
    details = None
    delay = scenario.retry_delay if scenario.retry_delay is not None else scenario.retry_after
    if status == 429 and delay is not None:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaMetric": "generativelanguage.googleapis.com/requests"}],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay:g}s"},
        ]
    body = error_body(status, message or f"Fake Gemini error {status}", details)
    return json_response(body, status=status, headers=retry_headers(scenario))


def bad_key_response():
    message = "API key not valid. Please pass a valid API key."
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": message},
    ]  # fmt: skip
    return json_response(error_body(400, message, details), status=400)


def unknown_field(body: dict) -> str | None:
    """The real API's message for the first field it does not know, or None."""
    for key in body:
        if key not in REQUEST_FIELDS:
            return f'Unknown name "{key}": Cannot find field.'
    config = body.get("generationConfig") or {}
    for key in config:
        if key not in GENERATION_FIELDS:
            return f"Unknown name \"{key}\" at 'generation_config': Cannot find field."
    for key in config.get("thinkingConfig") or {}:
        if key not in THINKING_FIELDS:
            return (
                f"Unknown name \"{key}\" at 'generation_config.thinking_config': Cannot find field."
            )
    return None


def input_texts(body: dict) -> list[str]:
    contents = list(body.get("contents") or [])
    if body.get("systemInstruction"):
        contents.append(body["systemInstruction"])
    return [
        part["text"]
        for content in contents
        for part in (content.get("parts") or [])
        if isinstance(part.get("text"), str)
    ]


def usage_metadata(scenario: Scenario, prompt_tokens: int, candidates_tokens: int) -> dict:
    # Thinking tokens are reported beside the candidates' tokens, not inside them.
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates_tokens,
        "totalTokenCount": prompt_tokens + candidates_tokens + scenario.reasoning,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if scenario.reasoning:
        usage["thoughtsTokenCount"] = scenario.reasoning
    if scenario.cached:
        usage["cachedContentTokenCount"] = scenario.cached
        usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": scenario.cached}]
    return usage


def candidate(text: str, finish: str | None = None) -> dict:
    result: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        result["finishReason"] = finish
    return result


async def stream_frames(
    request: web.Request,
    response: web.StreamResponse,
    scenario: Scenario,
    deltas: list[str],
    finish: str | None,
    head: dict[str, str],
    prompt_tokens: int,
) -> None:
    """Write the SSE frames of one stream, honouring drop_after / error_after / chunk_delay."""

    async def send(frame: dict) -> None:
        await response.write(b"data: " + orjson.dumps(frame) + b"\r\n\r\n")

    last = max(len(deltas), 1) - 1
    for i, delta in enumerate(deltas or [""]):
        if scenario.drop_after is not None and i == scenario.drop_after:
            await drop(request)
        if scenario.error_after is not None and i == scenario.error_after:
            await send(error_body(500, "An internal error has occurred. Please retry or report "
                                  "in https://developers.generativeai.google/guide/"
                                  "troubleshooting"))  # fmt: skip
            await response.write_eof()
            return
        if scenario.chunk_delay:
            await asyncio.sleep(scenario.chunk_delay)
        frame: dict[str, Any] = {"candidates": [candidate(delta, finish if i == last else None)]}
        if not scenario.no_usage:
            sent = min(i + 1, len(deltas))
            frame["usageMetadata"] = usage_metadata(scenario, prompt_tokens, sent)
        await send({**frame, **head})
    if scenario.drop_after is not None and scenario.drop_after >= len(deltas):
        await drop(request)
    await response.write_eof()


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def models(request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        model, _, method = request.match_info["rest"].partition(":")
        if version not in VERSIONS or method not in ("generateContent", "streamGenerateContent"):
            return json_response(error_body(404, f"Unknown method {request.path}"), status=404)
        body = await read_json(request)
        server.record(request, body)
        texts = input_texts(body)
        scenario = server.scenario(texts)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return json_response(
                error_body(403, "Method doesn't allow unregistered callers (callers without "
                           "established identity). Please use API Key or other form of API "
                           "consumer identity to call this API."),
                status=403,
            )  # fmt: skip
        if key == BAD_KEY:
            return bad_key_response()
        problem = unknown_field(body)
        if problem:
            return json_response(error_body(400, f"Invalid JSON payload received. {problem}"),
                                 status=400)  # fmt: skip
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario)
        if scenario.drop_after == 0:
            return await drop(request)

        deltas = reply_deltas("gemini", model, scenario.chunks)
        prompt_tokens = fake_prompt_tokens(texts)
        finish = FINISH.get(scenario.finish, scenario.finish.upper())
        head = {"modelVersion": f"{model}-001", "responseId": uuid.uuid4().hex[:22]}

        if method == "generateContent":
            result: dict[str, Any] = {"candidates": [candidate("".join(deltas), finish)]}
            if not scenario.no_usage:
                result["usageMetadata"] = usage_metadata(scenario, prompt_tokens, len(deltas))
            return json_response({**result, **head})

        if request.query.get("alt") != "sse":
            # Without alt=sse Google streams one JSON array; the SDKs never ask for that.
            return json_response(error_body(400, "The fake only streams with alt=sse."), 400)
        response = await start_sse(request)
        try:
            await stream_frames(request, response, scenario, deltas, finish, head, prompt_tokens)
        except ConnectionResetError:  # the client went away (aclose, cancel)
            DISCONNECTED.add(head["responseId"])
        return response

    # The method rides after a colon in the last segment: "gemini-x:streamGenerateContent".
    app.router.add_post("/{version}/models/{rest}", models)
