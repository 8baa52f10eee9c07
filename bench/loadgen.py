"""The Python load generator: aiohttp on uvloop, one process, closed loop.

Three modes, each printing one JSON object on stdout:

* ``requests``: ``--concurrency`` workers send the request back to back for ``--warmup`` then
  ``--duration`` seconds; throughput counts responses completed inside the measured window.
* ``streams``: the same with SSE responses, parsed frame by frame: time to first token, frames,
  and whether each stream delivered ``--expect-tokens`` content deltas and a proper end.
* ``burst``: ``--concurrency`` streams opened evenly over ``--ramp`` seconds, each once, held
  until the upstream finishes them: errors, completeness and how many were open at once.

Run it against the fake upstream alone to learn its own ceiling (bench/run.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sse import END, ERROR, FINISH, FORMATS, TOKEN, SSEParser
from bench.stats import summarize

try:
    from bench import rawhttp

    DEFAULT_CLIENT = "raw"
except ImportError:  # httptools missing: aiohttp only
    rawhttp = None  # type: ignore[assignment]
    DEFAULT_CLIENT = "aiohttp"


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    body: bytes
    headers: dict[str, str]
    fmt: str = "openai"
    expect_tokens: int | None = None


@dataclass(slots=True)
class StreamResult:
    ok: bool = False
    error: str = ""
    ttft_ms: float | None = None
    total_ms: float = 0.0
    frames: int = 0
    tokens: int = 0


@dataclass(slots=True)
class Window:
    """Results of responses completed inside the measured window."""

    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    completed: int = 0
    frames: int = 0
    tokens: int = 0


def mark(what: str) -> None:
    """Tell the parent (bench/run.py) when the measured window starts and ends, so it can read
    the gateway's CPU time at exactly those moments."""
    sys.stderr.write(f"mark {what}\n")
    sys.stderr.flush()


def session(limit: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=120)
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False, skip_auto_headers=("Accept",)
    )


class Frames:
    """Consumes a stream's body as it arrives: SSE parsing, first-token time, counts."""

    __slots__ = ("classify", "end", "parser", "result", "t0")

    def __init__(self, t: Target, t0: float) -> None:
        self.classify = FORMATS[t.fmt]
        self.parser = SSEParser()
        self.result = StreamResult()
        self.t0 = t0
        self.end = False

    def feed(self, chunk: bytes) -> None:
        result = self.result
        for ev in self.parser.feed(chunk):
            result.frames += 1
            kind = self.classify(ev)
            if kind & TOKEN:
                if result.tokens == 0:
                    result.ttft_ms = (time.perf_counter() - self.t0) * 1000
                result.tokens += 1
            if kind & ERROR:
                result.error = result.error or "error_event"
            if kind & (END | FINISH):
                self.end = True

    def finish(self, t: Target, error: str = "") -> StreamResult:
        result = self.result
        result.frames += len(self.parser.close())
        result.total_ms = (time.perf_counter() - self.t0) * 1000
        result.error = error or result.error
        if not result.error:
            if not self.end:
                result.error = "no_end"
            elif t.expect_tokens is not None and result.tokens != t.expect_tokens:
                result.error = f"tokens_{result.tokens}_of_{t.expect_tokens}"
        result.ok = not result.error
        return result


class Opened:
    """Streams open now (headers received, body not finished) and the most ever open."""

    __slots__ = ("max", "now")

    def __init__(self) -> None:
        self.now = 0
        self.max = 0

    def up(self) -> None:
        self.now += 1
        self.max = max(self.max, self.now)


class AiohttpClient:
    """Any number of concurrent requests over one aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def request(self, t: Target) -> str:
        """'' on success, else a short error label."""
        try:
            async with self.http.post(t.url, data=t.body, headers=t.headers) as resp:
                await resp.read()
                return "" if resp.status == 200 else f"http_{resp.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return type(exc).__name__

    async def stream(self, t: Target, opened: Opened | None = None) -> StreamResult:
        frames = Frames(t, time.perf_counter())
        error = ""
        counted = False
        try:
            async with self.http.post(t.url, data=t.body, headers=t.headers) as resp:
                if resp.status != 200:
                    await resp.read()
                    return frames.finish(t, f"http_{resp.status}")
                if opened is not None:
                    opened.up()
                    counted = True
                async for chunk in resp.content.iter_any():
                    frames.feed(chunk)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
        finally:
            if counted:
                opened.now -= 1  # type: ignore[union-attr]
        return frames.finish(t, error)

    async def close(self) -> None:
        pass


class RawClient:
    """One request at a time over one keep-alive connection (bench.rawhttp): cheaper per
    frame than aiohttp. Reconnects when the server closed the connection."""

    def __init__(self, t: Target) -> None:
        self.host, self.port, self.raw = rawhttp.build_request(t.url, t.body, t.headers)
        self.conn: rawhttp.Connection | None = None

    async def _send(self, sink=None) -> int:
        if self.conn is None or self.conn.closed:
            self.conn = await rawhttp.Connection.open(self.host, self.port)
        return await self.conn.send(self.raw, sink)

    async def request(self, t: Target) -> str:
        try:
            status = await self._send()
        except (TimeoutError, OSError) as exc:
            return type(exc).__name__
        return "" if status == 200 else f"http_{status}"

    async def stream(self, t: Target, opened: Opened | None = None) -> StreamResult:
        frames = Frames(t, time.perf_counter())
        counted = False

        def sink(chunk: bytes) -> None:
            nonlocal counted
            if opened is not None and not counted:
                opened.up()
                counted = True
            frames.feed(chunk)

        error = ""
        try:
            status = await self._send(sink)
            if status != 200:
                error = f"http_{status}"
        except TimeoutError:
            error = f"no_answer_in_{rawhttp.TIMEOUT_S:.0f}s"
        except OSError as exc:
            error = type(exc).__name__
        finally:
            if counted:
                opened.now -= 1  # type: ignore[union-attr]
        return frames.finish(t, error)

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def clients(kind: str, t: Target, n: int, http: aiohttp.ClientSession | None):
    """n clients for n concurrent callers: raw ones each own a connection; aiohttp shares."""
    if kind == "raw":
        return [RawClient(t) for _ in range(n)]
    assert http is not None
    return [AiohttpClient(http)] * n


async def closed_loop(
    t: Target, mode: str, concurrency: int, duration: float, warmup: float, client: str = "raw"
) -> dict:
    win = Window()
    async with session() as http:
        pool = clients(client, t, concurrency, http)
        start = time.perf_counter()
        t_measure = start + warmup
        t_end = t_measure + duration
        loop = asyncio.get_running_loop()
        loop.call_later(warmup, mark, "start")
        loop.call_later(warmup + duration, mark, "end")

        async def worker(c: AiohttpClient | RawClient) -> None:
            while time.perf_counter() < t_end:
                t0 = time.perf_counter()
                if mode == "requests":
                    error = await c.request(t)
                    res = None
                else:
                    res = await c.stream(t)
                    error = res.error
                t1 = time.perf_counter()
                if not t_measure <= t1 <= t_end:
                    continue
                if error:
                    win.errors[error] += 1
                    continue
                win.completed += 1
                win.latencies.append((t1 - t0) * 1000)
                if res is not None:
                    win.frames += res.frames
                    win.tokens += res.tokens
                    if res.ttft_ms is not None:
                        win.ttfts.append(res.ttft_ms)

        await asyncio.gather(*(worker(c) for c in pool))
        for c in pool:
            await c.close()
    out = {
        "mode": mode,
        "client": client,
        "concurrency": concurrency,
        "duration_s": duration,
        "warmup_s": warmup,
        "completed": win.completed,
        "throughput": round(win.completed / duration, 1),
        "errors": sum(win.errors.values()),
        "error_kinds": dict(win.errors),
        "latency_ms": summarize(win.latencies),
    }
    if mode == "streams":
        out["ttft_ms"] = summarize(win.ttfts)
        out["frames"] = win.frames
        out["tokens"] = win.tokens
        out["all_frames_delivered"] = win.completed > 0 and not win.errors
    return out


async def burst(t: Target, n: int, ramp: float, client: str = "raw") -> dict:
    opened = Opened()
    async with session() as http:
        pool = clients(client, t, n, http)
        start = time.perf_counter()
        mark("start")

        async def launch(i: int) -> StreamResult:
            delay = start + ramp * i / max(n, 1) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                return await pool[i].stream(t, opened)
            finally:
                await pool[i].close()

        results = await asyncio.gather(*(launch(i) for i in range(n)))
        wall = time.perf_counter() - start
        mark("end")
    errors = Counter(r.error for r in results if r.error)
    return {
        "mode": "burst",
        "client": client,
        "streams": n,
        "ramp_s": ramp,
        "wall_s": round(wall, 2),
        "completed": sum(r.ok for r in results),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "max_open": opened.max,
        "ttft_ms": summarize(r.ttft_ms for r in results if r.ttft_ms is not None),
        "duration_ms": summarize(r.total_ms for r in results if r.ok),
        "frames": sum(r.frames for r in results),
        "tokens": sum(r.tokens for r in results),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    p.add_argument("--mode", choices=("requests", "streams", "burst"), default="requests")
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True, help="the JSON request body")
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--format", choices=sorted(FORMATS), default="openai", help="SSE format")
    p.add_argument("--expect-tokens", type=int, default=None)
    p.add_argument("--concurrency", "-c", type=int, default=1)
    p.add_argument("--duration", "-d", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--ramp", type=float, default=1.0, help="burst: seconds to open all streams")
    p.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default=DEFAULT_CLIENT,
        help="HTTP client: raw (asyncio + httptools, cheaper) or aiohttp",
    )
    return p.parse_args(argv)


def target_from(args: argparse.Namespace) -> Target:
    headers = {"Content-Type": "application/json"}
    for h in args.header:
        name, _, value = h.partition(":")
        headers[name.strip()] = value.strip()
    return Target(args.url, args.body.encode(), headers, args.format, args.expect_tokens)


async def amain(args: argparse.Namespace) -> dict:
    t = target_from(args)
    if args.mode == "burst":
        return await burst(t, args.concurrency, args.ramp, args.client)
    return await closed_loop(
        t, args.mode, args.concurrency, args.duration, args.warmup, args.client
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:  # plain asyncio: a lower ceiling, which calibration shows
        uvloop = None
    result = uvloop.run(amain(args)) if uvloop else asyncio.run(amain(args))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
