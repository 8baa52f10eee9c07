"""``reasoning_effort`` for vendors that take a thinking budget instead (Claude, Gemini).

OpenAI's reasoning models take the effort itself (``minimal``, ``low``, ``medium``, ``high``,
``none``). Claude's extended thinking and Gemini's ``thinkingConfig`` take a number of tokens:
:func:`budget` reads it from ``AI_REASONING_BUDGETS`` at call time (``none``: 0, no thinking).
As with OpenAI's ``max_completion_tokens``, a request's ``max_tokens`` bounds the thinking and
the answer together.
"""

from __future__ import annotations

from collections.abc import Sequence

from ai.conf import ai_settings
from ai.providers.messages import Message, Role

NONE = "none"
#: Thinking tokens by effort, unless ``AI_REASONING_BUDGETS`` says otherwise (Claude's least
#: budget is 1,024; Gemini 2.5 Flash thinks up to 24,576).
BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}


def budgets() -> dict[str, int]:
    """The budget of each effort: :data:`BUDGETS` with ``AI_REASONING_BUDGETS`` over it."""
    return {**BUDGETS, **(ai_settings.AI_REASONING_BUDGETS or {})}


def budget(effort: str | None) -> int | None:
    """The thinking budget of ``effort``: None when the request names no effort, 0 for
    ``none``."""
    if effort is None:
        return None
    if effort == NONE:
        return 0
    return int(budgets()[effort])


def in_tool_loop(messages: Sequence[Message]) -> bool:
    """Whether the last assistant turn called tools (what follows it, tool results and any
    user text, is one user turn on Claude's wire): the turn Claude would need its own thinking
    blocks back for, which no client of the OpenAI-shaped APIs sends."""
    for m in reversed(messages):
        if m.role is Role.ASSISTANT:
            return bool(m.tool_calls)
    return False
