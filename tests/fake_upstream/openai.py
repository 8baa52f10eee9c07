"""OpenAI's Chat Completions wire: ``POST /v1/chat/completions``, JSON and SSE.

SSE frames are ``data: <json>\\n\\n`` with no event names, ending with ``data: [DONE]``; usage
comes on a last chunk whose ``choices`` is empty, only when ``stream_options.include_usage``.
Errors are ``{"error": {"message", "type", "param", "code"}}`` with an ``x-request-id`` header.

Azure OpenAI's form of the same endpoint is served too:
``POST /openai/deployments/{deployment}/chat/completions?api-version=...``, authenticated by an
``api-key`` header or an ``Authorization: Bearer`` Entra ID token.
"""

from __future__ import annotations

import asyncio
import time
import uuid

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


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def chat_completions(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        texts = [m.get("content") or "" for m in body.get("messages", [])]
        texts = [t if isinstance(t, str) else "" for t in texts]
        scenario = server.scenario(texts)
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

        model = body["model"]
        deltas = reply_deltas("openai", model, scenario.chunks)
        prompt_tokens = fake_prompt_tokens(texts)
        finish = FINISH.get(scenario.finish, scenario.finish)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

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
                            "content": "".join(deltas),
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": None
                if scenario.no_usage
                else usage_body(scenario, prompt_tokens, len(deltas)),
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            return json_response(result, headers={"x-request-id": request_id})

        response = await start_sse(request, {"x-request-id": request_id})
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

        await send(choice({"role": "assistant", "content": "", "refusal": None}))
        for i, delta in enumerate(deltas):
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
            await send(choice({"content": delta}))
        if scenario.drop_after is not None and scenario.drop_after >= len(deltas):
            return await drop(request)
        await send(choice({}, finish))
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and not scenario.no_usage:
            await send([], usage_body(scenario, prompt_tokens, len(deltas)))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat_completions)
