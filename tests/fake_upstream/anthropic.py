"""Anthropic's Messages wire: ``POST /v1/messages``, JSON and SSE.

Every SSE frame carries an ``event:`` line (the SDK silently drops frames without one), in the
order message_start, content_block_start, ping, content_block_delta..., content_block_stop,
message_delta, message_stop. Usage: input counts on message_start, the cumulative
``output_tokens`` on message_delta. Errors are ``{"type": "error", "error": {"type",
"message"}, "request_id"}`` with a ``request-id`` header; in a stream, an ``event: error``
frame. Both auth styles are accepted: ``Authorization: Bearer`` (anthropic 2.x) and
``x-api-key`` (0.x and curl examples).

Token accounting, chosen so every vendor's normalised numbers agree: the prompt's word count is
split into ``input_tokens`` + ``cache_read_input_tokens`` (= ``cached``) + the cache writes of
``cache_control`` breakpoints (:mod:`tests.fake_upstream.anthropic_cache`); ``output_tokens`` =
deltas + ``reasoning`` (it is inclusive), with ``output_tokens_details.thinking_tokens``.

Tools follow scenario.py's convention in Anthropic's wire: ``tool_use`` blocks (ids
``toolu_<hex>``, ``input`` = :func:`fake_arguments` of the tool's ``input_schema``) and
``stop_reason: tool_use``; streamed as content_block_start (``input: {}``), ``input_json_delta``
fragments and content_block_stop per call. ``tool_choice`` ``{"type": "tool"}`` forces one call to
that tool, ``none`` forbids them, ``disable_parallel_tool_use`` caps them at one. A last user turn
with ``tool_result`` blocks is answered with :func:`tool_reply` of their text (joined by
newlines). Structured output reaches Anthropic as a forced tool, so it needs nothing more.
Extended thinking (``thinking``) is checked and answered as :mod:`anthropic_thinking` says.
``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}`` (the prompt's word count).
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiohttp import web

from tests.fake_upstream import anthropic_cache, anthropic_thinking
from tests.fake_upstream.anthropic_cache import CacheUse
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
    """Every input text: the system prompt (a string or text blocks) and each message's content,
    tool results included."""
    texts: list[str] = []

    def add(content: object) -> None:
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if isinstance(block.get("text"), str):
                    texts.append(block["text"])
                elif block.get("type") == "tool_result":
                    add(block.get("content"))

    add(body.get("system"))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            add(message.get("content"))
    return texts


def input_usage(scenario: Scenario, prompt_tokens: int, cache: CacheUse) -> dict:
    """Input counts: ``cache_control`` breakpoints read and write as :mod:`anthropic_cache`
    says; without any, ``cached=N`` tokens are read."""
    read = cache.read or scenario.cached
    return {
        "input_tokens": max(prompt_tokens - read - cache.written, 0),
        **cache.usage(),
        "cache_read_input_tokens": read,
    }


def output_usage(scenario: Scenario, deltas: int) -> dict:
    usage: dict = {"output_tokens": deltas + scenario.reasoning}
    if scenario.reasoning:
        usage["output_tokens_details"] = {"thinking_tokens": scenario.reasoning}
    return usage


def tool_results(body: dict) -> list[str] | None:
    """The texts of the tool results in the last turn, or None when it has none."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    content = last.get("content")
    if last.get("role") != "user" or not isinstance(content, list):
        return None
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return None
    texts: list[str] = []
    for result in results:
        inner: list[str] = []
        input_texts_of(result.get("content"), inner)
        texts.append("".join(inner))
    return texts


def input_texts_of(content: object, into: list[str]) -> None:
    if isinstance(content, str):
        into.append(content)
    elif isinstance(content, list):
        into.extend(b["text"] for b in content if isinstance(b, dict) and "text" in b)


def tool_uses(body: dict, scenario: Scenario) -> list[dict]:
    """The tool_use blocks the convention calls for (none when tools are absent or forbidden)."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") == "none":
        return []
    if choice.get("type") == "tool":
        chosen = [t for t in tools if t["name"] == choice.get("name")] or tools[:1]
    else:
        n = 1 if choice.get("disable_parallel_tool_use") else max(scenario.tool_calls, 1)
        chosen = [tools[i % len(tools)] for i in range(n)]
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:24]}",
            "name": tool["name"],
            "input": fake_arguments(tool.get("input_schema")),
        }
        for tool in chosen
    ]


def text_deltas(text: str) -> list[str]:
    words = text.split(" ")
    return [(" " if i else "") + word for i, word in enumerate(words)]


def fragments(value: dict) -> list[str]:
    """A tool call's input as streamed: an empty first fragment (as Anthropic sends), then the
    JSON text in about three pieces."""
    text = orjson.dumps(value).decode()
    step = max(len(text) // 3, 1)
    return ["", *(text[i : i + step] for i in range(0, len(text), step))]


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
        try:
            cache = anthropic_cache.use(body, server.prompt_cache)
        except anthropic_cache.CacheError as err:
            return error_response(400, scenario, request_id, str(err))
        refused = anthropic_thinking.refusal(body)
        if refused:
            return error_response(400, scenario, request_id, refused)
        thinks = anthropic_thinking.budget(body) is not None
        if thinks:
            scenario = with_scenario(
                scenario, reasoning=scenario.reasoning + anthropic_thinking.THOUGHT_TOKENS
            )

        model = body["model"]
        results = tool_results(body)
        calls = [] if results is not None else tool_uses(body, scenario)
        if results is not None:
            deltas = text_deltas(tool_reply("\n".join(results)))
        elif calls:
            deltas = []
        else:
            deltas = reply_deltas("anthropic", model, scenario.chunks)
        pieces = [fragments(call["input"]) for call in calls]
        produced = len(deltas) + sum(len(p) for p in pieces)
        prompt_tokens = fake_prompt_tokens(texts)
        stop_reason = STOP_REASONS.get(scenario.finish, scenario.finish)
        if calls and scenario.finish == "stop":
            stop_reason = "tool_use"
        # finish=stop_sequence: stopped on the request's first stop sequence, which it names.
        matched = (body.get("stop_sequences") or [None])[0]
        stop_sequence = matched if stop_reason == "stop_sequence" else None
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
        }
        headers = {"request-id": request_id}

        if not body.get("stream"):
            content = [{"type": "text", "text": "".join(deltas)}] if deltas else []
            if thinks:
                content.insert(0, anthropic_thinking.block())
            result = {
                **message,
                "content": content + calls,
                "stop_reason": stop_reason,
                "stop_sequence": stop_sequence,
            }
            if not scenario.no_usage:
                result["usage"] = {
                    **input_usage(scenario, prompt_tokens, cache),
                    **output_usage(scenario, produced),
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
                **input_usage(scenario, prompt_tokens, cache),
                "output_tokens": 1,
                "service_tier": "standard",
            }
        await send("message_start", {"type": "message_start", "message": start})
        # (content_block, its deltas) in order; every delta counts for drop_after / error_after.
        blocks: list[tuple[dict, list[dict]]] = []
        thought = anthropic_thinking.stream_block() if thinks else None
        if deltas or not calls:
            text_block = [{"type": "text_delta", "text": d} for d in deltas]
            blocks.append(({"type": "text", "text": ""}, text_block))
        for call, parts in zip(calls, pieces, strict=True):
            block = {**call, "input": {}}
            blocks.append((block, [{"type": "input_json_delta", "partial_json": p} for p in parts]))
        if thought is not None:  # first, and not counted by drop_after / error_after
            await send(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": thought[0]},
            )
            for delta in thought[1]:
                frame = {"type": "content_block_delta", "index": 0, "delta": delta}
                await send("content_block_delta", frame)
            await send("content_block_stop", {"type": "content_block_stop", "index": 0})
        sent = 0
        for index, (block, block_deltas) in enumerate(blocks, start=1 if thinks else 0):
            await send(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
            if index == 0 or (thinks and index == 1):
                await send("ping", {"type": "ping"})
            for delta in block_deltas:
                if scenario.drop_after is not None and sent == scenario.drop_after:
                    return await drop(request)
                if scenario.error_after is not None and sent == scenario.error_after:
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
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                sent += 1
            last = index == len(blocks) - (0 if thinks else 1)
            if last and scenario.drop_after is not None and scenario.drop_after <= sent:
                return await drop(request)
            await send("content_block_stop", {"type": "content_block_stop", "index": index})
        message_delta: dict = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
        }
        if not scenario.no_usage:
            message_delta["usage"] = output_usage(scenario, produced)
        await send("message_delta", message_delta)
        await send("message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response

    async def count_tokens(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        texts = input_texts(body)
        scenario = server.scenario(texts)
        if not authorized(request):
            return error_response(401, scenario, request_id, "invalid x-api-key")
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario, request_id)
        return json_response(
            {"input_tokens": fake_prompt_tokens(texts)}, headers={"request-id": request_id}
        )

    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
