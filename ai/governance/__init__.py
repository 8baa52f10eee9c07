"""Rate limits and budgets that hold across processes.

- :mod:`ai.governance.policy`: which limits apply (defaults, user overrides, the API key's own).
- :mod:`ai.governance.admission`: :func:`admit` before the upstream call, :func:`settle` after.
- :mod:`ai.governance.scripts`: the Lua scripts Redis runs (one round trip each way).
- :mod:`ai.governance.memory`: the same counting in one process (the local-memory cache).
- :mod:`ai.governance.budgets`: periods, worst-case cost, nano-USD.
"""

from ai.governance.admission import (
    Admission,
    admit,
    apply_headers,
    get_store,
    headers_of,
    reset,
    settle,
    shared,
)
from ai.governance.policy import Caller, Limits, current_caller

__all__ = [
    "Admission",
    "Caller",
    "Limits",
    "admit",
    "apply_headers",
    "current_caller",
    "get_store",
    "headers_of",
    "reset",
    "settle",
    "shared",
]
