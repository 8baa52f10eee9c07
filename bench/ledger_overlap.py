"""What the ledger's batches do to the requests in flight: ``python -m bench.ledger_overlap
openai -c 1 -n 3000`` (``bench.inprocess``'s arguments; ``--everything-on`` first runs
``bench.everything_on`` instead).

The usage writer is a thread of the gateway's process: on a worker pinned to one core, each
batch it writes competes with the event loop. This times every measured request in process
(``bench.inprocess`` pins itself to CPU 0) and every batch the writer writes (wall and the
thread's CPU), then prints the requests' p50 / p99 / max and how many of the slowest 1 % were
in flight while a batch was being written. Compare ``AI_USAGE_FLUSH_INTERVAL_MS`` values by
setting it in the environment::

    AI_USAGE_FLUSH_INTERVAL_MS=200 python -m bench.ledger_overlap --everything-on openai -c 1 \
        --database-url postgres://postgres@127.0.0.1:5432/test     # with REDIS_URL set
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import everything_on, inprocess  # noqa: E402

#: (start, seconds) of each request; (start, wall seconds, thread CPU seconds, rows) per batch.
_requests: list[tuple[float, float]] = []
_batches: list[tuple[float, float, float, int]] = []


def _instrument() -> None:
    from ai.usage.writer import UsageWriter

    request = inprocess.request

    async def timed(*args, **kwargs):
        start = time.perf_counter()
        status = await request(*args, **kwargs)
        _requests.append((start, time.perf_counter() - start))
        return status

    inprocess.request = timed
    write = UsageWriter._write

    def timed_write(self, batch):
        start, cpu = time.perf_counter(), time.thread_time()
        write(self, batch)
        _batches.append((start, time.perf_counter() - start, time.thread_time() - cpu, len(batch)))

    UsageWriter._write = timed_write


def _overlaps(start: float, seconds: float) -> bool:
    return any(b < start + seconds and b + wall > start for b, wall, _, _ in _batches)


def report(measured: int) -> str:
    requests = _requests[-measured:]  # the warm-up's requests come first
    if not requests:
        return "no requests measured"
    first = requests[0][0]
    batches = [b for b in _batches if b[0] + b[1] >= first]
    ordered = sorted(seconds for _, seconds in requests)
    n = len(ordered)
    slowest = sorted(requests, key=lambda r: -r[1])[: max(1, n // 100)]
    during = sum(1 for start, seconds in slowest if _overlaps(start, seconds))
    lines = [
        f"{n} requests: p50 {ordered[n // 2] * 1e3:.2f} ms, p99 {ordered[int(n * 0.99)] * 1e3:.2f}"
        f" ms, max {ordered[-1] * 1e3:.2f} ms",
        f"slowest 1 % ({len(slowest)}): {during} in flight while a batch was written",
    ]
    if batches:
        rows = sum(b[3] for b in batches)
        wall = sum(b[1] for b in batches) / len(batches) * 1e3
        cpu = sum(b[2] for b in batches) / len(batches) * 1e3
        lines.append(
            f"{len(batches)} batches, {rows / len(batches):.0f} rows each: {wall:.2f} ms wall, "
            f"{cpu:.2f} ms of the writer's CPU ({cpu * 1e3 * len(batches) / rows:.1f} us per row)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    run = inprocess.main
    if argv[:1] == ["--everything-on"]:
        argv, run = argv[1:], everything_on.main
    args = inprocess.parse_args(argv)
    measured = args.n // args.c * args.c  # what bench.inprocess measures: n // c per worker
    _instrument()
    code = run(argv)
    print(report(measured))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
