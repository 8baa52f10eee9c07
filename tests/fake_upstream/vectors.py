"""The vectors the fake upstream's embeddings endpoints answer (OpenAI's and Gemini's wires).

A vector depends only on the model and the text: :func:`fake_vector` is deterministic, unit
length and float32 (so an answer sent as JSON floats and one sent as base64 float32 agree to the
bit). A shorter ``dimensions`` keeps the first values of the model's full vector and scales them
back to unit length, as OpenAI's ``text-embedding-3`` models and Gemini's
``outputDimensionality`` do. Tests compute the expected vectors with the same function.
"""

from __future__ import annotations

import math
import random
from array import array

#: The full size of each model's vectors (others: :data:`DEFAULT_DIMENSIONS`).
DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
}
DEFAULT_DIMENSIONS = 1536
#: Models that refuse ``dimensions`` (OpenAI: "This model does not support specifying
#: dimensions.").
FIXED_SIZE = frozenset({"text-embedding-ada-002"})


def full_dimensions(model: str) -> int:
    return DIMENSIONS.get(model.removeprefix("models/"), DEFAULT_DIMENSIONS)


def fake_vector(model: str, text: str, dimensions: int | None = None) -> list[float]:
    """The vector the fake answers for ``text`` on ``model``, ``dimensions`` long (the model's
    full size when None)."""
    model = model.removeprefix("models/")
    rng = random.Random(f"{model}\x00{text}")  # random() is stable across Python versions
    values = [rng.random() * 2 - 1 for _ in range(dimensions or full_dimensions(model))]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", [v / norm for v in values]).tolist()
