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

Tools and structured output follow :mod:`tests.fake_upstream.scenario`'s convention in Gemini's
wire: ``functionCall`` parts (no ids, as the Developer API sends them; one SSE frame per call,
``finishReason: STOP`` on the last), a ``functionResponse`` last turn answered with
``tool_reply`` of its ``response.result``, ``responseJsonSchema`` / ``responseSchema`` answered
with JSON text. Like the real API, the fake refuses unknown part fields, bad ``inlineData`` and
function ``parameters`` / ``responseSchema`` keys outside Gemini's Schema
(``additionalProperties``...).

Embeddings: ``:batchEmbedContents`` (what google-genai's ``models.embed_content`` calls on the
Developer API: ``requests[]`` of ``{model, content, taskType?, title?,
outputDimensionality?}``, each request's ``model`` the URL's) answers ``embeddings[{values}]``
and ``usageMetadata {promptTokenCount, totalTokenCount}`` (which google-genai 3.x reads from
it); ``:embedContent`` (one ``content``) answers ``embedding {values}``. Vectors are
:func:`tests.fake_upstream.vectors.fake_vector`; a model without "embedding" in its name is a
404 ``NOT_FOUND`` ("... is not supported for embedContent"), more than 100 requests a 400, as
Google answers.

Gemini-only scenario values: ``finish=none`` ends a stream cleanly but without any
``finishReason`` (a cut an intermediary made look clean); ``finish=safety`` (or any other Google
reason, lower case) is sent upper-cased. :data:`DISCONNECTED` collects the ``responseId`` of
every stream whose client went away before its end, so tests can see that a stream was closed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fake_upstream.scenario import (
    Scenario,
    fake_arguments,
    fake_prompt_tokens,
    reply_deltas,
    tool_reply,
)
from tests.fake_upstream.server import (
    BAD_KEY,
    FakeUpstream,
    drop,
    json_response,
    read_json,
    retry_headers,
    start_sse,
    with_scenario,
)
from tests.fake_upstream.vectors import fake_vector, full_dimensions

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
PART_FIELDS = {
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "thought",
    "thoughtSignature", "executableCode", "codeExecutionResult",
}  # fmt: skip
SCHEMA_FIELDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
}  # fmt: skip
GENERATION = re.compile(r"gemini-(\d+)")
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
#: The thinking tokens reported for a request with a thinking budget (at most its budget).
THOUGHT_TOKENS = 5
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
    if "responseSchema" in config:
        problem = schema_problem(config["responseSchema"], "generation_config.response_schema")
        if problem:
            return problem
    for i, content in enumerate(body.get("contents") or []):
        for j, part in enumerate(content.get("parts") or []):
            problem = part_problem(part, f"contents[{i}].parts[{j}]")
            if problem:
                return problem
    for i, tool in enumerate(body.get("tools") or []):
        for j, declaration in enumerate(tool.get("functionDeclarations") or []):
            where = f"tools[{i}].function_declarations[{j}].parameters"
            problem = schema_problem(declaration.get("parameters"), where)
            if problem:
                return problem
    return None


def part_problem(part: dict, where: str) -> str | None:
    for key in part:
        if key not in PART_FIELDS:
            return f"Unknown name \"{key}\" at '{where}': Cannot find field."
    if "inlineData" in part:
        # Google's JSON parser takes proto field names too (the typed SDK sends "mime_type"),
        # and bytes in either base64 alphabet (the SDK sends the URL-safe one).
        blob = part["inlineData"]
        if not (blob.get("mimeType") or blob.get("mime_type")):
            return f"{where}.inline_data: mime_type is required."
        if inline_bytes(blob) is None:
            return f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES): invalid base64."
    if "functionCall" in part and not isinstance(part["functionCall"].get("args", {}), dict):
        return f"Invalid value at '{where}.function_call.args' (google.protobuf.Struct)."
    if "functionResponse" in part:
        response = part["functionResponse"]
        if not response.get("name") or not isinstance(response.get("response"), dict):
            return f"{where}.function_response: name and a response object are required."
    return None


def inline_bytes(blob: dict) -> bytes | None:
    """The bytes of an ``inlineData`` blob, or None if its data is not base64."""
    data = str(blob.get("data") or "")
    try:
        return base64.b64decode(data.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error:
        return None


def schema_problem(schema: object, where: str) -> str | None:
    """The real API's 400 for a schema key outside Gemini's Schema (an OpenAPI subset)."""
    if schema is None:
        return None
    if not isinstance(schema, dict):
        return f"Invalid value at '{where}': a Schema object is expected."
    for key, value in schema.items():
        if key not in SCHEMA_FIELDS:
            return f"Unknown name \"{key}\" at '{where}': Cannot find field."
        if key == "type" and str(value).upper() not in SCHEMA_TYPES:
            return (
                f"Invalid value at '{where}.type' (type.googleapis.com/google.ai.Type), {value!r}"
            )
    nested = [(f"{where}.properties[{n}]", p) for n, p in (schema.get("properties") or {}).items()]
    nested += [(f"{where}.any_of[{i}]", b) for i, b in enumerate(schema.get("anyOf") or [])]
    if "items" in schema:
        nested.append((f"{where}.items", schema["items"]))
    for inner_where, inner in nested:
        problem = schema_problem(inner, inner_where)
        if problem:
            return problem
    return None


def signs(model: str) -> bool:
    """Gemini 3 and later sign their function calls and want the signatures back."""
    generation = GENERATION.search(model)
    return generation is not None and int(generation[1]) >= 3


def signature_problem(model: str, body: dict) -> str | None:
    """Gemini 3's 400 for a function call of the current turn (the model turns after the last
    user text) sent back without its ``thoughtSignature`` (on the first call of each step)."""
    if not signs(model):
        return None
    contents = body.get("contents") or []
    start = max(
        (i for i, c in enumerate(contents)
         if c.get("role") == "user" and any("text" in p for p in c.get("parts") or [])),
        default=0,
    )  # fmt: skip
    for content in contents[start:]:
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if calls and "thoughtSignature" not in calls[0]:
            name = calls[0]["functionCall"].get("name")
            return (
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call `{name}`."
            )
    return None


def answer(body: dict, scenario: Scenario, model: str) -> tuple[list[dict], str] | None:
    """The tool convention (scenario.py, bottom): (parts, finish) for a request that declares
    tools, answers one or asks for a JSON schema; None for the default reply."""
    contents = body.get("contents") or [{}]
    last = [
        p["functionResponse"] for p in contents[-1].get("parts") or [] if "functionResponse" in p
    ]
    config = body.get("generationConfig") or {}
    if last:
        result = last[-1]["response"].get("result", last[-1]["response"])
        return text_parts(tool_reply(result if isinstance(result, str) else json.dumps(result)))
    declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if declarations and calling.get("mode") != "NONE":
        allowed = calling.get("allowedFunctionNames") if calling.get("mode") == "ANY" else None
        chosen = [d for d in declarations if d["name"] in allowed] if allowed else declarations
        calls = [chosen[i % len(chosen)] for i in range(max(scenario.tool_calls, 1))]
        parts = [
            {"functionCall": {"name": d["name"], "args": fake_arguments(
                d.get("parameters") or d.get("parametersJsonSchema"))}}
            for d in calls
        ]  # fmt: skip
        if signs(model):
            parts[0]["thoughtSignature"] = base64.b64encode(b"fake signature").decode()
        return parts, "STOP"
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema:
        return text_parts(json.dumps(fake_arguments(schema)))
    return None


def text_parts(text: str) -> tuple[list[dict], str]:
    """A text answer as several text parts, a word each (joined: ``text``)."""
    words = text.split(" ")
    return [{"text": (" " if i else "") + w} for i, w in enumerate(words)], "STOP"


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


def candidate(text: str | dict, finish: str | None = None) -> dict:
    part = {"text": text} if isinstance(text, str) else text
    result: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
    if finish:
        result["finishReason"] = finish
    return result


async def stream_frames(
    request: web.Request,
    response: web.StreamResponse,
    scenario: Scenario,
    deltas: list[str] | list[dict],
    finish: str | None,
    head: dict[str, str],
    prompt_tokens: int,
) -> None:
    """Write the SSE frames of one stream (a text piece or a part each), honouring
    drop_after / error_after / chunk_delay."""

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


def merge_text(parts: list[dict]) -> list[dict]:
    """The parts of a whole answer: text pieces joined into one part."""
    if all("text" in p for p in parts):
        return [{"text": "".join(p["text"] for p in parts)}]
    return parts


EMBED_METHODS = ("batchEmbedContents", "embedContent")
EMBED_REQUEST_FIELDS = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})
#: The most requests one ``:batchEmbedContents`` call may hold.
MAX_BATCH = 100


def embed_problem(model: str, requests: list[Any]) -> tuple[int, str] | None:
    """The status and message the real API answers an embeddings request with, or None."""
    if "embedding" not in model:
        return 404, (
            f"models/{model} is not found for API version v1beta, or is not supported for "
            "embedContent. Call ListModels to see the list of available models and their "
            "supported methods."
        )
    batch = "* BatchEmbedContentsRequest.requests"
    if not requests:
        return 400, f"{batch}: contents is not specified"
    if len(requests) > MAX_BATCH:
        return 400, f"{batch}: at most {MAX_BATCH} requests can be in one batch"
    for i, item in enumerate(requests):
        if not isinstance(item, dict):
            return 400, f"Invalid JSON payload received. requests[{i}] is not an object."
        unknown = next((key for key in item if key not in EMBED_REQUEST_FIELDS), None)
        if unknown is not None:
            return 400, (
                f'Invalid JSON payload received. Unknown name "{unknown}" at '
                f"'requests[{i}]': Cannot find field."
            )
        if item.get("model", f"models/{model}") != f"models/{model}":
            return 400, (
                f"{batch}[{i}].model: Model names should match in the batch request and the "
                "individual requests."
            )
        parts = (item.get("content") or {}).get("parts") or []
        if not any(isinstance(p.get("text"), str) and p["text"] for p in parts):
            return 400, f"{batch}[{i}].content: contents is not specified"
        size = item.get("outputDimensionality")
        if size is not None and not (isinstance(size, int) and 1 <= size <= full_dimensions(model)):
            return 400, f"{batch}[{i}].output_dimensionality: invalid value {size}"
    return None


def embed_text(item: dict) -> str:
    parts = (item.get("content") or {}).get("parts") or []
    return "".join(p.get("text") or "" for p in parts)


async def embeddings(
    request: web.Request, server: FakeUpstream, model: str, method: str
) -> web.StreamResponse:
    body = await read_json(request)
    server.record(request, body)
    requests = body.get("requests") if method == "batchEmbedContents" else [body]
    requests = requests if isinstance(requests, list) else []
    texts = [embed_text(item) for item in requests if isinstance(item, dict)]
    scenario = server.scenario(texts)
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return json_response(error_body(403, "Method doesn't allow unregistered callers."), 403)
    if key == BAD_KEY:
        return bad_key_response()
    if scenario.delay:
        await asyncio.sleep(scenario.delay)
    status = server.failing_status(scenario)
    if status:
        return error_response(status, scenario)
    if scenario.drop_after == 0:
        return await drop(request)
    problem = embed_problem(model, requests)
    if problem is not None:
        return json_response(error_body(*problem), status=problem[0])
    vectors = [
        {"values": fake_vector(model, text, item.get("outputDimensionality"))}
        for text, item in zip(texts, requests, strict=True)
    ]
    if method == "embedContent":
        return json_response({"embedding": vectors[0]})
    result: dict[str, Any] = {"embeddings": vectors}
    if not scenario.no_usage:
        tokens = fake_prompt_tokens(texts)
        result["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    return json_response(result)


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def models(request: web.Request) -> web.StreamResponse:
        version = request.match_info["version"]
        model, _, method = request.match_info["rest"].partition(":")
        if version in VERSIONS and method in EMBED_METHODS:
            return await embeddings(request, server, model, method)
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
        problem = signature_problem(model, body)
        if problem:
            return json_response(error_body(400, problem), status=400)
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario)
        if scenario.drop_after == 0:
            return await drop(request)

        generation = body.get("generationConfig") or {}
        # The SDK's typed API writes snake_case here; protobuf's JSON takes both spellings.
        thinking_config = (
            generation.get("thinkingConfig") or generation.get("thinking_config") or {}
        )
        thinking = thinking_config.get("thinkingBudget", thinking_config.get("thinking_budget"))
        if thinking:  # the model thought: its tokens reported as thoughtsTokenCount
            scenario = with_scenario(
                scenario, reasoning=scenario.reasoning + min(thinking, THOUGHT_TOKENS)
            )
        special = answer(body, scenario, model)
        deltas: list[Any] = reply_deltas("gemini", model, scenario.chunks)
        prompt_tokens = fake_prompt_tokens(texts)
        finish = FINISH.get(scenario.finish, scenario.finish.upper())
        if special is not None:
            deltas, finish = special
        head = {"modelVersion": f"{model}-001", "responseId": uuid.uuid4().hex[:22]}

        if method == "generateContent":
            if special is None:
                whole = candidate("".join(deltas), finish)
            else:
                whole = candidate("", finish)
                whole["content"]["parts"] = merge_text(deltas)
            result: dict[str, Any] = {"candidates": [whole]}
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
