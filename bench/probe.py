"""One request, read completely and checked, before any load: is this path working at all?

Used for the fake's wires and for every provider through the gateway. A problem is reported as
text (and the provider skipped) rather than measured: a benchmark of errors is meaningless.
"""

from __future__ import annotations

import aiohttp
import orjson

from bench.loadgen import Target, session
from bench.sse import END, ERROR, FINISH, FORMATS, TOKEN, SSEParser


async def probe(t: Target) -> dict:
    stream = t.headers.get("Accept") == "text/event-stream"
    info: dict = {"url": t.url, "stream": stream, "problem": ""}
    try:
        async with session() as http, http.post(t.url, data=t.body, headers=t.headers) as resp:
            body = await resp.read()
            info["status"] = resp.status
            info["content_type"] = resp.headers.get("Content-Type", "")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        info["problem"] = f"{type(exc).__name__}: {exc}"
        return info
    info["bytes"] = len(body)
    if resp.status != 200:
        info["problem"] = f"HTTP {resp.status}: {body[:300].decode(errors='replace')}"
        return info
    if not stream:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            info["problem"] = "answer is not JSON"
        info["sample"] = body[:400].decode(errors="replace")
        return info
    parser = SSEParser()
    events = parser.feed(body) + parser.close()
    classify = FORMATS[t.fmt]
    kinds = [classify(ev) for ev in events]
    tokens = sum(1 for k in kinds if k & TOKEN)
    info |= {
        "frames": len(events),
        "tokens": tokens,
        "first_frames": [_show(ev) for ev in events[:3]],
        "last_frames": [_show(ev) for ev in events[-3:]],
    }
    if any(k & ERROR for k in kinds):
        info["problem"] = "error event in stream"
    elif not any(k & (END | FINISH) for k in kinds):
        info["problem"] = "stream has no recognised end event"
    elif t.expect_tokens is not None and tokens != t.expect_tokens:
        info["problem"] = f"{tokens} content deltas, expected {t.expect_tokens}"
    return info


def _show(ev) -> str:
    data = ev.data[:200].decode(errors="replace")
    return f"event={ev.event} data={data}"
