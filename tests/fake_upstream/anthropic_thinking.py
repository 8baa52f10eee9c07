"""Extended thinking as Anthropic's Messages API answers it, for the fake (``thinking``:
``{"type": "enabled", "budget_tokens": N}``).

Refused with Anthropic's 400 (``invalid_request_error``), as the real API does: a budget under
1,024 or not under ``max_tokens``; a ``temperature`` other than 1, ``top_k``, ``top_p`` under
0.95, a ``tool_choice`` that forces a tool; and, in a tool loop (the last assistant turn called
tools) or after a prefill (the conversation ends with an assistant turn), that turn not starting
with a ``thinking`` block. Answered with a ``thinking`` block (its
text :data:`THOUGHT`, a ``signature``) before the rest of the content, streamed as
``thinking_delta`` pieces and a ``signature_delta``; its tokens (:data:`THOUGHT_TOKENS`) count in
``output_tokens``.
"""

from __future__ import annotations

THOUGHT = "Let me think this through."
THOUGHT_TOKENS = len(THOUGHT.split())
SIGNATURE = "EqQBCkgIARABGAIiQfakeSignature"


def budget(body: dict) -> int | None:
    """The request's thinking budget, or None without thinking."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    return thinking.get("budget_tokens")


def refusal(body: dict) -> str | None:
    """Anthropic's message for a request its thinking rules refuse, or None."""
    tokens = budget(body)
    if tokens is None:
        return None
    if not isinstance(tokens, int) or tokens < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if tokens >= body.get("max_tokens", 0):
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    if body.get("temperature", 1) != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if "top_k" in body:
        return "`top_k` must be unset when thinking is enabled."
    if body.get("top_p", 1) < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    messages = body.get("messages") or []
    turns = [m for m in messages if m.get("role") == "assistant"]
    last = turns[-1].get("content") if turns else None
    calls = isinstance(last, list) and any(b.get("type") == "tool_use" for b in last)
    prefill = bool(turns) and messages[-1] is turns[-1]
    starts_thinking = (
        isinstance(last, list)
        and bool(last)
        and last[0].get("type")
        in (
            "thinking",
            "redacted_thinking",
        )
    )
    if (calls or prefill) and not starts_thinking:
        return (
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            "`tool_use`. When `thinking` is enabled, a final `assistant` message must start "
            "with a thinking block."
        )
    return None


def block() -> dict:
    return {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}


def stream_block() -> tuple[dict, list[dict]]:
    """The thinking block's content_block_start and its deltas."""
    words = THOUGHT.split(" ")
    pieces = [w + " " for w in words[:-1]] + [words[-1]]
    deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
    return {"type": "thinking", "thinking": ""}, [
        *deltas,
        {"type": "signature_delta", "signature": SIGNATURE},
    ]
