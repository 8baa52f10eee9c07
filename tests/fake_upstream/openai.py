"""OpenAI's Chat Completions wire: ``POST /v1/chat/completions``, JSON and SSE.

SSE frames are ``data: <json>\\n\\n`` with no event names, ending with ``data: [DONE]``; usage
comes on a last chunk whose ``choices`` is empty, only when ``stream_options.include_usage``.
Errors are ``{"error": {"message", "type", "param", "code"}}`` with an ``x-request-id`` header.

Tools and structured output follow scenario.py's convention in OpenAI's shape:
``message.tool_calls`` (ids ``call_<hex>``, arguments as JSON text) with finish_reason
``tool_calls``. Streamed, the first delta of call ``index`` has its id, type and
``function.name`` with ``arguments: ""``, then the arguments come in about three fragments.
``parallel_tool_calls: false`` means one call at most. Content parts are read for their text
(directives, prompt tokens); image parts add no tokens and are counted in the
``x-fake-image-parts`` response header.

Embeddings: ``POST /v1/embeddings`` (``input`` a string, strings or token arrays; ``dimensions``;
``encoding_format`` float or base64, little-endian float32) answers ``data[{object, index,
embedding}]``, ``model`` and ``usage {prompt_tokens, total_tokens}``; vectors from
:func:`tests.fake_upstream.vectors.fake_vector`, directives in the inputs as for chat.

Azure OpenAI's form of the same endpoint is served too:
``POST /openai/deployments/{deployment}/chat/completions?api-version=...``, authenticated by an
``api-key`` header or an ``Authorization: Bearer`` Entra ID token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
import uuid
from array import array
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
from tests.fake_upstream.vectors import FIXED_SIZE, fake_vector, full_dimensions

ERRORS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
FINISH = {"stop": "stop", "length": "length"}
#: What reasoning_effort takes, and the reasoning tokens reported when a request reasons.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
THOUGHT_TOKENS = 5
#: How many fragments a streamed tool call's arguments (or a tool-driven text) arrive in.
FRAGMENTS = 3


def error_response(status: int, scenario: Scenario, request_id: str, message: str | None = None):
    kind, code = ERRORS.get(status, ("server_error", None))
    body = {
        "error": {
            "message": message or f"Fake OpenAI error {status}",
            "type": kind,
            "param": None,
            "code": code,
        }
    }
    headers = {"x-request-id": request_id, **retry_headers(scenario)}
    return json_response(body, status=status, headers=headers)


def usage_body(scenario: Scenario, prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": scenario.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": scenario.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message_text(message: dict) -> str:
    """A message's text: its string content, or its text parts joined by newlines."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def image_parts(messages: list) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if isinstance(p, dict) and p.get("type") == "image_url"
    )


def fragments(text: str, n: int = FRAGMENTS) -> list[str]:
    size = max(1, math.ceil(len(text) / n))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def plan(body: dict, scenario: Scenario) -> tuple[list[str] | None, list[dict]]:
    """What to answer: ``(text deltas, [])``, ``([], tool calls)``, or ``(None, [])`` for the
    usual reply (scenario.py's convention for tools and structured output)."""
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        return fragments(tool_reply(message_text(messages[-1]))), []
    tools = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if tools and choice != "none":
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
            tools = [t for t in tools if t["name"] == name] or tools
        n = 1 if body.get("parallel_tool_calls") is False else scenario.tool_calls
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": tools[i % len(tools)]["name"],
                    "arguments": json.dumps(
                        fake_arguments(tools[i % len(tools)].get("parameters"))
                    ),
                },
            }
            for i in range(max(1, n))
        ]
        return [], calls
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return fragments(json.dumps(fake_arguments(schema))), []
    if fmt.get("type") == "json_object":
        return fragments('{"ok": true}'), []
    return None, []


def stream_deltas(deltas: list[str], calls: list[dict]) -> list[dict[str, Any]]:
    """The ``delta`` objects of a stream after its first (which opens the assistant turn)."""
    if not calls:
        return [{"content": d} for d in deltas]
    out: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        function = call["function"]
        head = {**call, "index": index, "function": {"name": function["name"], "arguments": ""}}
        out.append({"tool_calls": [head]})
        for piece in fragments(function["arguments"]):
            out.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return out


def embedding_inputs(value: object) -> list[str] | None:
    """The texts of an embeddings ``input`` (token arrays become ``"<tokens:N>"``), or None
    when it is not one of the shapes OpenAI takes."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):
            return [f"<tokens:{len(value)}>"]
        if all(isinstance(v, str) for v in value):
            return value
        if all(isinstance(v, list) for v in value):
            return [f"<tokens:{len(v)}>" for v in value]
    return None


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def embeddings(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        texts = embedding_inputs(body.get("input"))
        scenario = server.scenario(texts or [])
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth == f"Bearer {BAD_KEY}":
            return error_response(401, scenario, request_id, "Incorrect API key provided.")
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario, request_id)
        if scenario.drop_after == 0:
            return await drop(request)
        model, dimensions = body.get("model"), body.get("dimensions")
        fmt = body.get("encoding_format", "float")
        problem = None
        if texts is None or any(t == "" for t in texts):
            problem = "'$.input' is invalid. Please check the API reference."
        elif not isinstance(model, str) or not model:
            problem = "you must provide a model parameter"
        elif dimensions is not None and model in FIXED_SIZE:
            problem = "This model does not support specifying dimensions."
        elif dimensions is not None and not 1 <= dimensions <= full_dimensions(model):
            problem = f"Invalid value for 'dimensions' = {dimensions}."
        elif fmt not in ("float", "base64"):
            problem = f"Invalid value for 'encoding_format' = {fmt}."
        if problem is not None:
            return error_response(400, scenario, request_id, problem)
        data = []
        for index, text in enumerate(texts):
            vector = fake_vector(model, text, dimensions)
            embedding: object = vector
            if fmt == "base64":
                embedding = base64.b64encode(array("f", vector).tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = fake_prompt_tokens(texts)
        usage = None if scenario.no_usage else {"prompt_tokens": tokens, "total_tokens": tokens}
        result = {"object": "list", "data": data, "model": model, "usage": usage}
        return json_response(result, headers={"x-request-id": request_id})

    async def chat_completions(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        messages = body.get("messages", [])
        texts = [message_text(m) for m in messages]
        scenario = server.scenario(texts)
        images = image_parts(messages)
        auth = request.headers.get("Authorization", "")
        if "deployment" in request.match_info and request.headers.get("api-key"):
            auth = f"Bearer {request.headers['api-key']}"  # Azure's key header
        if not auth.startswith("Bearer ") or auth == f"Bearer {BAD_KEY}":
            # Like the real API, echo the key (OpenAI masks the middle of long keys only).
            key = auth.removeprefix("Bearer ")
            message = (
                f"Incorrect API key provided: {key}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return error_response(401, scenario, request_id, message)
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario, request_id)
        if scenario.drop_after == 0:
            return await drop(request)

        effort = body.get("reasoning_effort")
        if effort is not None and effort not in REASONING_EFFORTS:
            message = (
                f"Invalid value: '{effort}'. Supported values are: "
                + ", ".join(f"'{e}'" for e in REASONING_EFFORTS)
                + "."
            )
            return error_response(400, scenario, request_id, message)
        if effort not in (None, "none"):  # the model reasoned: completion_tokens_details says so
            scenario = with_scenario(scenario, reasoning=scenario.reasoning + THOUGHT_TOKENS)
        model = body["model"]
        deltas, calls = plan(body, scenario)
        if deltas is None:
            deltas = reply_deltas("openai", model, scenario.chunks)
        prompt_tokens = fake_prompt_tokens(texts)
        finish = "tool_calls" if calls else FINISH.get(scenario.finish, scenario.finish)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        pieces = stream_deltas(deltas, calls)
        headers = {"x-request-id": request_id}
        if images:
            headers["x-fake-image-parts"] = str(images)

        if not body.get("stream"):
            result = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None if calls else "".join(deltas),
                            **({"tool_calls": calls} if calls else {}),
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": None
                if scenario.no_usage
                else usage_body(scenario, prompt_tokens, len(pieces)),
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            return json_response(result, headers=headers)

        response = await start_sse(request, headers)
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }

        async def send(choices: list, usage: dict | None = None) -> None:
            frame = {**head, "choices": choices, "usage": usage}
            await response.write(b"data: " + orjson.dumps(frame) + b"\n\n")

        def choice(delta: dict, finish_reason: str | None = None) -> list:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

        opening: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        if calls:  # OpenAI opens a tool-calling turn with its first call's head
            opening = {"role": "assistant", "content": None, **pieces.pop(0), "refusal": None}
        await send(choice(opening))
        for i, delta in enumerate(pieces):
            if scenario.drop_after is not None and i == scenario.drop_after:
                return await drop(request)
            if scenario.error_after is not None and i == scenario.error_after:
                error = {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
                await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
                await response.write_eof()
                return response
            if scenario.chunk_delay:
                await asyncio.sleep(scenario.chunk_delay)
            await send(choice(delta))
        if scenario.drop_after is not None and scenario.drop_after >= len(pieces):
            return await drop(request)
        await send(choice({}, finish))
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and not scenario.no_usage:
            await send([], usage_body(scenario, prompt_tokens, len(pieces) + bool(calls)))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat_completions)
