"""Anthropic's Messages wire: ``POST /v1/messages``, JSON and SSE.

Every SSE frame carries an ``event:`` line (the SDK silently drops frames without one), in the
order message_start, content_block_start, ping, content_block_delta..., content_block_stop,
message_delta, message_stop. Usage: input counts on message_start, the cumulative
``output_tokens`` on message_delta. Errors are ``{"type": "error", "error": {"type",
"message"}, "request_id"}`` with a ``request-id`` header; in a stream, an ``event: error``
frame. Both auth styles are accepted: ``Authorization: Bearer`` (anthropic 2.x) and
``x-api-key`` (0.x and curl examples).

Token accounting, chosen so every vendor's normalised numbers agree: the prompt's word count is
split into ``input_tokens`` + ``cache_read_input_tokens`` (= ``cached``); ``output_tokens`` =
deltas + ``reasoning`` (it is inclusive), with ``output_tokens_details.thinking_tokens``.
"""

from __future__ import annotations

import asyncio
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
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def error_response(status: int, scenario: Scenario, request_id: str, message: str | None = None):
    kind = ERRORS.get(status, "api_error")
    body = {
        "type": "error",
        "error": {"type": kind, "message": message or f"Fake Anthropic error {status}"},
        "request_id": request_id,
    }
    headers = {"request-id": request_id, **retry_headers(scenario)}
    return json_response(body, status=status, headers=headers)


def input_texts(body: dict) -> list[str]:
    """Every input text: the system prompt (a string or text blocks) and each message's content."""
    texts: list[str] = []

    def add(content: object) -> None:
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                block.get("text") or ""
                for block in content
                if isinstance(block, dict) and isinstance(block.get("text"), str)
            )

    add(body.get("system"))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            add(message.get("content"))
    return texts


def input_usage(scenario: Scenario, prompt_tokens: int) -> dict:
    return {
        "input_tokens": max(prompt_tokens - scenario.cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": scenario.cached,
    }


def output_usage(scenario: Scenario, deltas: int) -> dict:
    usage: dict = {"output_tokens": deltas + scenario.reasoning}
    if scenario.reasoning:
        usage["output_tokens_details"] = {"thinking_tokens": scenario.reasoning}
    return usage


def authorized(request: web.Request) -> bool:
    auth = request.headers.get("Authorization", "")
    key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
    key = key or request.headers.get("x-api-key", "")
    return bool(key) and key != BAD_KEY


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        texts = input_texts(body)
        scenario = server.scenario(texts)
        if not authorized(request):
            return error_response(401, scenario, request_id, "invalid x-api-key")
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario, request_id)
        if scenario.drop_after == 0:
            return await drop(request)

        model = body["model"]
        deltas = reply_deltas("anthropic", model, scenario.chunks)
        prompt_tokens = fake_prompt_tokens(texts)
        stop_reason = STOP_REASONS.get(scenario.finish, scenario.finish)
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
        }
        headers = {"request-id": request_id}

        if not body.get("stream"):
            result = {
                **message,
                "content": [{"type": "text", "text": "".join(deltas)}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
            }
            if not scenario.no_usage:
                result["usage"] = {
                    **input_usage(scenario, prompt_tokens),
                    **output_usage(scenario, len(deltas)),
                    "service_tier": "standard",
                }
            return json_response(result, headers=headers)

        response = await start_sse(request, headers)

        async def send(event: str, data: dict) -> None:
            frame = b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
            await response.write(frame)

        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
        if not scenario.no_usage:
            start["usage"] = {
                **input_usage(scenario, prompt_tokens),
                "output_tokens": 1,
                "service_tier": "standard",
            }
        await send("message_start", {"type": "message_start", "message": start})
        await send(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        await send("ping", {"type": "ping"})
        for i, delta in enumerate(deltas):
            if scenario.drop_after is not None and i == scenario.drop_after:
                return await drop(request)
            if scenario.error_after is not None and i == scenario.error_after:
                error = {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                }
                await send("error", error)
                await response.write_eof()
                return response
            if scenario.chunk_delay:
                await asyncio.sleep(scenario.chunk_delay)
            await send(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": delta},
                },
            )
        if scenario.drop_after is not None and scenario.drop_after >= len(deltas):
            return await drop(request)
        await send("content_block_stop", {"type": "content_block_stop", "index": 0})
        message_delta: dict = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        }
        if not scenario.no_usage:
            message_delta["usage"] = output_usage(scenario, len(deltas))
        await send("message_delta", message_delta)
        await send("message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response

    app.router.add_post("/v1/messages", messages)
