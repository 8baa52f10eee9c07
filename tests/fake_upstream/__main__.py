"""Run the fake upstream in the foreground: ``python -m tests.fake_upstream --port 9100``.

For benchmarks and demos. Serves every vendor wire that exists beside this file until SIGINT or
SIGTERM, on uvloop when it is installed. Prints one ``fake upstream listening on URL`` line once
the socket is bound, so a parent process can wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tests.fake_upstream.server import FakeUpstream


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--chunks", type=int, default=5, help="content deltas per answer")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between streamed deltas"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before every answer starts"
    )
    parser.add_argument(
        "--no-capture",
        action="store_true",
        help="do not keep received requests in memory (long runs, benchmarks)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = FakeUpstream(
        args.host,
        args.port,
        chunks=args.chunks,
        chunk_delay=args.chunk_delay,
        latency=args.latency,
        capture=not args.no_capture,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"fake upstream listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:  # plain asyncio works, only slower
        uvloop = None
    with contextlib.suppress(KeyboardInterrupt):
        if uvloop is not None:
            uvloop.run(serve(args))
        else:
            asyncio.run(serve(args))


if __name__ == "__main__":
    main()
