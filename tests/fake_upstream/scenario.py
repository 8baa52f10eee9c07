"""What the fake upstream does for one request, read from directives in the request's own text.

A directive is ``[[fake:key=value key=value ...]]`` anywhere in any message (or system prompt).
Because it travels inside the prompt, a test can steer the upstream through the whole gateway.

==================  ==========================================================================
directive           effect
==================  ==========================================================================
status=N            answer HTTP N with the vendor's error body (401, 403, 404, 429, 500, 503, 529)
retry_after=S       with status: a ``retry-after`` header (seconds)
retry_after_ms=MS   with status: a ``retry-after-ms`` header
retry_delay=S       with status=429 (Gemini): only a ``google.rpc.RetryInfo`` detail in the body
                    (``"retryDelay": "Ss"``) and no header, as Google answers
fail_times=N id=K   fail (with ``status``, default 503) the first N requests carrying id K, then
                    answer normally: for retry tests
delay=S             wait S seconds before answering (timeouts, concurrency)
chunks=N            stream N content deltas (default: the server's, 5)
chunk_delay=S       wait S seconds between deltas
drop_after=N        cut the connection after N deltas (streams; 0 = before any response at all,
                    also for non-streaming requests)
error_after=N       send the vendor's in-band error event after N deltas (streams)
finish=length       end with the vendor's "max tokens" reason instead of a normal stop
cached=N            report N cached prompt tokens
reasoning=N         report N reasoning / thinking tokens
no_usage=1          report no usage at all
tool_calls=N        with tools: call N tools (the first N in turn) instead of one
==================  ==========================================================================

Usage the fake reports: prompt tokens = the number of whitespace-separated words in every input
text (system included), completion tokens = the number of deltas. ``fake_prompt_tokens`` and
``reply_deltas`` let tests compute the exact numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

DIRECTIVE = re.compile(r"\[\[fake:([^\]]*)\]\]")


@dataclass(frozen=True, slots=True)
class Scenario:
    status: int | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    retry_delay: float | None = None
    fail_times: int = 0
    id: str | None = None
    delay: float = 0.0
    chunks: int = 5
    chunk_delay: float = 0.0
    drop_after: int | None = None
    error_after: int | None = None
    finish: str = "stop"
    cached: int = 0
    reasoning: int = 0
    no_usage: bool = False
    tool_calls: int = 1

    @classmethod
    def parse(cls, texts: Iterable[str], defaults: Scenario | None = None) -> Scenario:
        scenario = defaults or cls()
        types = {f.name: f.type for f in fields(cls)}
        changes: dict[str, object] = {}
        for text in texts:
            for body in DIRECTIVE.findall(text):
                for item in re.split(r"[\s,;]+", body.strip()):
                    if not item:
                        continue
                    key, _, value = item.partition("=")
                    if key not in types:
                        raise ValueError(f"unknown fake directive {key!r}")
                    changes[key] = _convert(types[key], value)
        return replace(scenario, **changes) if changes else scenario


def _convert(kind: object, value: str) -> object:
    kind = str(kind)
    if "bool" in kind:
        return value.lower() in ("1", "true", "yes", "")
    if "float" in kind:
        return float(value)
    if "int" in kind:
        return int(value)
    return value


def fake_prompt_tokens(texts: Iterable[str]) -> int:
    """The prompt token count the fake reports for these input texts."""
    return sum(len(t.split()) for t in texts)


def reply_deltas(vendor: str, model: str, n: int) -> list[str]:
    """The content deltas the fake streams (and, joined, the non-streaming content)."""
    words = f"Hello from the fake {vendor} upstream serving {model}.".split()
    return [(" " if i else "") + words[i % len(words)] for i in range(n)]


# --- tools and structured output: the same behaviour on every vendor's wire ------------------
#
# * A request that declares tools (and does not forbid them), whose last turn is not a tool
#   result, is answered with a call to the forced tool, else the first one (``tool_calls=N``
#   directive: N calls, to the first N tools in turn), with :func:`fake_arguments` of its schema.
# * A request whose last turn is a tool result is answered with :func:`tool_reply` of it.
# * A request asking for a JSON schema is answered with ``json.dumps(fake_arguments(schema))``.


def fake_arguments(schema: dict | None) -> dict:
    """A value for every required property of a JSON Schema object: strings ``"Paris"``
    (its first enum value if it has one), numbers 1, booleans true, arrays [], objects {}
    (filled in recursively)."""
    schema = schema or {}
    props = schema.get("properties") or {}
    out: dict = {}
    for name in schema.get("required") or list(props):
        prop = props.get(name) or {}
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        kind = str(kind or "string").lower()  # Gemini spells types in capitals
        if prop.get("enum"):
            out[name] = prop["enum"][0]
        elif kind in ("integer", "number"):
            out[name] = 1
        elif kind == "boolean":
            out[name] = True
        elif kind == "array":
            out[name] = []
        elif kind == "object":
            out[name] = fake_arguments(prop)
        else:
            out[name] = "Paris"
    return out


def tool_reply(result: str) -> str:
    """The final answer after a tool result: it quotes the result, so a test sees it arrived."""
    return f"The tool said: {result}"
