"""Latency statistics: percentiles by linear interpolation between closest ranks (numpy's
default), so a p99 over 100 samples is not just the maximum."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (len(sorted_values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    frac = pos - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac


def summarize(values: Iterable[float], digits: int = 3) -> dict[str, float | int | None]:
    """n, mean, p50, p90, p99, max of the values (milliseconds in, milliseconds out)."""
    data = sorted(values)
    if not data:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "n": len(data),
        "mean": r(sum(data) / len(data)),
        "p50": r(percentile(data, 50)),
        "p90": r(percentile(data, 90)),
        "p99": r(percentile(data, 99)),
        "max": r(data[-1]),
    }


def diff(a: float | None, b: float | None, digits: int = 3) -> float | None:
    """a - b, or None when either is missing."""
    if a is None or b is None:
        return None
    return round(a - b, digits)
