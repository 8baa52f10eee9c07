"""``reasoning_effort`` for vendors that take a thinking budget instead (Claude, Gemini).

OpenAI's reasoning models take the effort itself (``minimal``, ``low``, ``medium``, ``high``,
``none``). Claude's extended thinking and Gemini's ``thinkingConfig`` take a number of tokens:
:func:`budget` reads it from ``AI_REASONING_BUDGETS`` at call time (``none``: 0, no thinking).
As with OpenAI's ``max_completion_tokens``, a request's ``max_tokens`` bounds the thinking and
the answer together.
"""

from __future__ import annotations

from ai.conf import ai_settings

NONE = "none"
#: Thinking tokens by effort, unless ``AI_REASONING_BUDGETS`` says otherwise (Claude's least
#: budget is 1,024; Gemini 2.5 Flash thinks up to 24,576, Claude as far as ``max_tokens`` lets
#: it). Every effort OpenAI's API takes, but ``none``.
BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 65536,
}


def valid_budget(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def budget(effort: str | None) -> int | None:
    """The thinking budget of ``effort``: None when the request names no effort, 0 for
    ``none``; ``AI_REASONING_BUDGETS`` over :data:`BUDGETS` (a value that is no budget, which
    ``manage.py check`` reports as ai.E004, counts as not set)."""
    if effort is None:
        return None
    if effort == NONE:
        return 0
    given = (ai_settings.AI_REASONING_BUDGETS or {}).get(effort)
    return given if valid_budget(given) else BUDGETS[effort]
