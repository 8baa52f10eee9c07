"""What classifying one request costs (``complexity: "auto"``, ``ai.services.classifier``).

    python -m bench.classifier            # 20,000 calls per case
    python -m bench.classifier -n 2000

Calls :func:`ai.services.classifier.classify` ``-n`` times on each case (after a warm-up) and
prints the median over 5 rounds of microseconds per call (wall and CPU), with the class each
case gets. Cases: a greeting, a one-line question, a paragraph with code, a 12-message
conversation, a 4,000-token prompt and a 150,000-token paste (scanned at its head and tail only).
The tests' settings (no database: the classifier reads none).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARAGRAPH = (
    "The service keeps a queue of pending jobs and a pool of workers; each worker takes a job, "
    "runs it, writes the result and takes the next one. "
)
CODE = "Why is this slow?\n```python\ndef total(rows):\n    return sum(r.amount for r in rows)\n```"


def cases() -> list[tuple[str, list]]:
    from ai.providers.base import Message, Role

    def user(text: str) -> list[Message]:
        return [Message(Role.SYSTEM, "You are a helpful assistant."), Message(Role.USER, text)]

    conversation = [
        Message(Role.USER if i % 2 == 0 else Role.ASSISTANT, PARAGRAPH) for i in range(11)
    ] + [Message(Role.USER, "Now compare the two designs and recommend one.")]
    return [
        ("greeting (2 words)", user("hi there")),
        ("question (1 line)", user("What's the latest news about the Federal Reserve?")),
        ("code (5 lines)", user(CODE)),
        ("conversation (12 messages)", conversation),
        ("long prompt (~4k tokens)", user(PARAGRAPH * 120 + "Please analyze this design.")),
        ("huge paste (~150k tokens)", user(PARAGRAPH * 4500 + "Summarize.")),
    ]


def measure(messages: list, n: int) -> tuple[float, float]:
    from ai.services.classifier import classify

    for _ in range(min(n, 500)):
        classify(messages)
    walls, cpus = [], []
    for _ in range(5):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            classify(messages)
        walls.append((time.perf_counter() - wall) / n * 1e6)
        cpus.append((time.process_time() - cpu) / n * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="calls per case and round")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from ai.services.classifier import classify

    print(f"{'case':<28} {'chars':>8} {'class':<9} {'us/call':>8} {'cpu us':>8}")
    for name, messages in cases():
        chars = sum(len(m.content) for m in messages)
        wall, cpu = measure(messages, args.n)
        label = classify(messages).complexity.value
        print(f"{name:<28} {chars:>8} {label:<9} {wall:>8.1f} {cpu:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
