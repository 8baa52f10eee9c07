"""A Perplexity-like OpenAI-compatible upstream: ``POST /perplexity/chat/completions``.

OpenAI's Chat Completions wire (as ``openai.py`` beside this file serves it) plus what Perplexity
adds (https://docs.perplexity.ai/api-reference/chat-completions-post): ``citations`` (URLs) and
``search_results`` (``{title, url, date}``) at the top of the completion and of every stream
chunk. No tools (Perplexity has none). Other OpenAI-compatible vendors need no route of their
own: they are the OpenAI wire at ``/v1`` with another key.

Not one of the server's default wires: :class:`CompatibleFakeUpstream` serves it beside them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fake_upstream.openai import error_response, message_text
from tests.fake_upstream.scenario import fake_prompt_tokens, reply_deltas
from tests.fake_upstream.server import BAD_KEY, FakeUpstream, json_response, read_json, start_sse

#: What every answer cites.
CITATIONS = ["https://example.org/one", "https://example.org/two"]
SEARCH_RESULTS = [
    {"title": "One", "url": CITATIONS[0], "date": "2025-01-01"},
    {"title": "Two", "url": CITATIONS[1], "date": None},
]


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "search_context_size": "low",
        "citation_tokens": 7,
        "num_search_queries": 1,
    }


def add_routes(app: web.Application, server: FakeUpstream) -> None:
    async def chat_completions(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        server.record(request, body)
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        texts = [message_text(m) for m in body.get("messages", [])]
        scenario = server.scenario(texts)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth == f"Bearer {BAD_KEY}":
            return error_response(401, scenario, request_id, "Invalid API key.")
        status = server.failing_status(scenario)
        if status:
            return error_response(status, scenario, request_id)
        model = body["model"]
        deltas = reply_deltas("openai", model, scenario.chunks)
        prompt = fake_prompt_tokens(texts)
        head = {
            "id": str(uuid.uuid4()),
            "model": model,
            "created": int(time.time()),
            "citations": CITATIONS,
            "search_results": SEARCH_RESULTS,
        }
        if not body.get("stream"):
            return json_response(
                {
                    **head,
                    "object": "chat.completion",
                    "usage": _usage(prompt, len(deltas)),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "".join(deltas)},
                        }
                    ],
                },
                headers={"x-request-id": request_id},
            )
        response = await start_sse(request, {"x-request-id": request_id})
        for i, piece in enumerate(deltas):
            last = i == len(deltas) - 1
            frame = {
                **head,
                "object": "chat.completion.chunk",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": piece},
                        "finish_reason": "stop" if last else None,
                    }
                ],
                # Perplexity reports usage on every chunk, the final count on the last.
                "usage": _usage(prompt, i + 1),
            }
            await response.write(b"data: " + orjson.dumps(frame) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app.router.add_post("/perplexity/chat/completions", chat_completions)


class CompatibleFakeUpstream(FakeUpstream):
    """The fake upstream with the Perplexity-like route too."""

    @property
    def perplexity_base_url(self) -> str:
        return f"{self.url}/perplexity"

    def make_app(self) -> web.Application:
        app = super().make_app()
        add_routes(app, self)
        return app
