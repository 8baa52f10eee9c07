"""Request validation's CPU per request: ``python -m bench.validation``.

Times what each endpoint does with a body before any routing: ``orjson.loads`` of the raw
bytes, the Pydantic model (``ai.api.bodies`` / ``ai.api.openai_format``) and the ``LLMCall``
built from it; one failing body too (the error translation of ``ai.api.validation``). Best of
``--repeat`` runs of ``-n`` calls each, in microseconds.

    python -m bench.validation            # typical one-message bodies
    python -m bench.validation -n 20000 --repeat 9
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

USER = {"role": "user", "content": "Explain what an API gateway does in one short paragraph."}
BODIES: dict[str, dict[str, Any]] = {
    # The body bench.inprocess sends.
    "completions": {"messages": [USER], "provider": "offline", "model": "offline-echo"},
    "completions, 3 messages + options": {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            USER,
            {"role": "assistant", "content": "It routes requests."},
        ],
        "temperature": 0.2,
        "max_tokens": 200,
    },
    "chat": {"prompt": USER["content"]},
    "chat/routed": {"prompt": USER["content"], "complexity": "simple"},
    "openai chat.completions": {"model": "gpt-4o", "messages": [USER]},
    "completions, 4 bad fields (400)": {
        "messages": [{"role": "robot", "content": " "}],
        "temperature": 3,
        "stream": "yes",
        "extra": 1,
    },
}


def validators() -> dict[str, Callable[[Any], Any]]:
    from ai.api.bodies import ChatRequest, CompletionsRequest, RoutedChatRequest
    from ai.api.errors import InvalidRequest
    from ai.api.openai_format import OpenAIChatRequest
    from ai.api.validation import validate

    def rejected(data: Any) -> Any:
        try:
            validate(CompletionsRequest, data)
        except InvalidRequest as err:
            return err.fields
        raise AssertionError("the bad body was accepted")

    return {
        "completions": lambda d: validate(CompletionsRequest, d).to_call(),
        "completions, 3 messages + options": lambda d: validate(CompletionsRequest, d).to_call(),
        "chat": lambda d: validate(ChatRequest, d).to_call(),
        "chat/routed": lambda d: validate(RoutedChatRequest, d).to_call(),
        "openai chat.completions": lambda d: validate(OpenAIChatRequest, d).to_chat(),
        "completions, 4 bad fields (400)": rejected,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__)
    parser.add_argument("-n", type=int, default=20000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best is shown")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    import orjson

    for name, check in validators().items():
        raw = orjson.dumps(BODIES[name])
        check(orjson.loads(raw))  # fails loudly if the body is not what this bench assumes
        runs = timeit.repeat(
            "check(loads(raw))",
            globals={"check": check, "loads": orjson.loads, "raw": raw},
            number=args.n,
            repeat=args.repeat,
        )
        print(f"{name:36s} {min(runs) / args.n * 1e6:7.2f} us")


if __name__ == "__main__":
    main()
