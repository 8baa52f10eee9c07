"""Anthropic's prompt caching, as the fake answers it: ``cache_control`` breakpoints on tools,
system blocks and message blocks (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching).

The prompt is read in Anthropic's order (tools, system, messages). Each breakpoint writes the
prefix up to and including its block (its content: where the ``cache_control`` marks sit is
not part of it). The longest prefix, ending at any block up to the last breakpoint, that an
earlier request wrote is read from the cache (``cache_read_input_tokens``); the rest up to the
last breakpoint is written (``cache_creation_input_tokens``, with
``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``: the words up to
the last one-hour breakpoint are kept an hour). Tokens are the fake's: whitespace-separated
words of the texts. What Anthropic refuses is refused with its 400: more than four breakpoints, a
``cache_control`` that is not ``{"type": "ephemeral"}`` with an optional ``ttl`` of ``5m`` or
``1h``, or a one-hour breakpoint after a five-minute one.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

MAX_BREAKPOINTS = 4


@dataclass(frozen=True, slots=True)
class CacheUse:
    read: int = 0
    written: int = 0
    written_1h: int = 0

    def usage(self) -> dict:
        return {
            "cache_read_input_tokens": self.read,
            "cache_creation_input_tokens": self.written,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.written - self.written_1h,
                "ephemeral_1h_input_tokens": self.written_1h,
            },
        }


class CacheError(ValueError):
    """A body Anthropic refuses (400 ``invalid_request_error``), with its message."""


def _blocks(body: dict) -> list[tuple[object, int]]:
    """Every block that may carry ``cache_control``, in order, with its words."""
    out: list[tuple[object, int]] = []
    for tool in body.get("tools") or []:
        out.append((tool, 0))
    system = body.get("system")
    if isinstance(system, str):
        out.append(({"type": "text", "text": system}, len(system.split())))
    for block in system if isinstance(system, list) else []:
        out.append((block, _words(block)))
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append(({"type": "text", "text": content}, len(content.split())))
        for block in content if isinstance(content, list) else []:
            out.append((block, _words(block)))
    return out


def _words(block: object) -> int:
    if not isinstance(block, dict):
        return 0
    if isinstance(block.get("text"), str):
        return len(block["text"].split())
    if block.get("type") == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return len(content.split())
        return sum(_words(b) for b in content or [])
    return 0


def _ttl(mark: object) -> str:
    if (
        not isinstance(mark, dict)
        or mark.get("type") != "ephemeral"
        or set(mark) - {"type", "ttl"}
        or mark.get("ttl", "5m") not in ("5m", "1h")
    ):
        raise CacheError(f"cache_control: invalid value {orjson.dumps(mark).decode()}")
    return mark.get("ttl", "5m")


def use(body: dict, seen: set[bytes]) -> CacheUse:
    """What this request reads from and writes to the cache (``seen``: the prefixes written
    before; this request's are added). Raises :class:`CacheError` for a body Anthropic
    refuses."""
    blocks = _blocks(body)
    marks: list[tuple[int, int, str]] = []  # (block index, words up to it, ttl)
    words = 0
    for i, (block, n) in enumerate(blocks):
        words += n
        if isinstance(block, dict) and "cache_control" in block:
            marks.append((i, words, _ttl(block["cache_control"])))
    if len(marks) > MAX_BREAKPOINTS:
        raise CacheError(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marks)}."
        )
    ttls = [ttl for *_, ttl in marks]
    if "1h" in ttls and "5m" in ttls[: len(ttls) - ttls[::-1].index("1h")]:
        raise CacheError("A ttl='1h' cache_control block must come before any ttl='5m' one.")
    if not marks:
        return CacheUse()
    last_mark, last, _ = marks[-1]
    keys, ends, words = [], [], 0
    content: list[object] = []
    for block, n in blocks[: last_mark + 1]:
        words += n
        content.append(_without_mark(block))
        keys.append(orjson.dumps(content))
        ends.append(words)
    read = max((w for key, w in zip(keys, ends, strict=True) if key in seen), default=0)
    long_end = max((w for _, w, ttl in marks if ttl == "1h"), default=0)
    seen.update(keys[i] for i, *_ in marks)
    return CacheUse(read=read, written=last - read, written_1h=max(long_end - read, 0))


def _without_mark(block: object) -> object:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block
