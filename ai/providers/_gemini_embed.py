"""Gemini embeddings (``:batchEmbedContents``), as a mixin of
:class:`ai.providers.gemini.GeminiProvider`: the raw wire through ``ai._compat.genai`` when the
provider's client allows it, else the SDK's typed ``models.embed_content``. At most
:data:`EMBED_BATCH` texts a call; more are split into concurrent calls (one failure cancels the
others). Token counts come from ``usageMetadata`` when Google sends it, else they are estimated.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from google.genai import types

from ai._compat import genai as genai_compat
from ai.exceptions import UpstreamError
from ai.providers._gemini_wire import gemini_model_path, gemini_usage
from ai.providers.base import (
    USAGE_ESTIMATED,
    USAGE_REPORTED,
    EmbeddingResponse,
    Usage,
    estimate_tokens,
)

#: The most texts one ``:batchEmbedContents`` call takes (Google's limit).
EMBED_BATCH = 100


class GeminiEmbeddings:
    """``_embed`` for the Gemini provider (its ``client``, ``name`` and ``_raw`` are the
    provider's)."""

    name: str
    client: Any

    def _raw(self, client: Any) -> bool:  # the provider's
        raise NotImplementedError

    async def _embed(
        self, inputs: list[str], model: str, dimensions: int | None
    ) -> EmbeddingResponse:
        client = self.client
        path = gemini_model_path(model)
        batches = [inputs[i : i + EMBED_BATCH] for i in range(0, len(inputs), EMBED_BATCH)]
        if len(batches) == 1:
            answers = [await self._embed_batch(client, path, batches[0], dimensions)]
        else:
            try:
                async with asyncio.TaskGroup() as group:  # one failure cancels the others
                    tasks = [
                        group.create_task(self._embed_batch(client, path, batch, dimensions))
                        for batch in batches
                    ]
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
            answers = [task.result() for task in tasks]
        vectors = [vector for batch_vectors, _ in answers for vector in batch_vectors]
        usages = [usage for _, usage in answers]
        estimated = any(u.source == USAGE_ESTIMATED for u in usages)
        prompt = sum(u.prompt_tokens for u in usages)
        return EmbeddingResponse(
            vectors=vectors,
            model=model,
            provider=self.name,
            usage=Usage.of(prompt, 0, source=USAGE_ESTIMATED if estimated else USAGE_REPORTED),
        )

    async def _embed_batch(
        self, client: Any, path: str, texts: list[str], dimensions: int | None
    ) -> tuple[list[list[float]], Usage]:
        """One ``:batchEmbedContents`` call: its vectors, and its usage (estimated when Google
        reports none)."""
        if self._raw(client):
            request: dict[str, Any] = {"model": path}
            if dimensions is not None:
                request["outputDimensionality"] = dimensions
            body = {
                "requests": [
                    {**request, "content": {"parts": [{"text": text}], "role": "user"}}
                    for text in texts
                ]
            }
            raw = await genai_compat.post(client.api, f"{path}:batchEmbedContents", body)
            try:
                data = orjson.loads(raw.body or "{}")
                vectors = [item["values"] for item in data["embeddings"]]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                vectors, data = [], {}
            usage = gemini_usage(data.get("usageMetadata") if isinstance(data, dict) else None)
        else:
            config = types.EmbedContentConfig(output_dimensionality=dimensions)
            answer = await client.genai.aio.models.embed_content(
                model=path, contents=list(texts), config=config
            )
            vectors = [list(e.values or ()) for e in answer.embeddings or ()]
            meta = answer.usage_metadata
            usage = None
            if meta is not None and meta.prompt_token_count is not None:
                usage = Usage.of(meta.prompt_token_count, 0, total=meta.total_token_count)
        if len(vectors) != len(texts) or not all(isinstance(v, list) for v in vectors):
            raise UpstreamError(
                "Gemini sent an embeddings response the gateway could not read.",
                provider=self.name,
                model=path.removeprefix("models/"),
                upstream_status=200,
            )
        if usage is None:
            usage = Usage.of(sum(map(estimate_tokens, texts)), 0, source=USAGE_ESTIMATED)
        return vectors, usage
