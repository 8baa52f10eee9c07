"""OpenAI-compatible providers: Ollama, vLLM, LM Studio, Groq, Together, Mistral, DeepSeek,
OpenRouter, Perplexity... anything serving ``POST {base_url}/chat/completions`` in OpenAI's wire.

One :class:`CompatibleProvider` per name declared in ``AI_PROVIDERS`` or the
``AI_PROVIDER_<NAME>_*`` environment variables (:mod:`ai.services.compatible`), built by the
factory. It is :class:`ai.providers.openai.OpenAIProvider` (the same ``openai`` SDK client, one
per event loop, the same wire and error translation) with the declaration's base URL and key, its
own name in routes, errors and the ledger, and the options the declaration says it honours.

Perplexity (https://docs.perplexity.ai/api-reference/chat-completions-post) adds ``citations``
(URLs) and ``search_results`` (``{title, url, date}``) to the completion and to stream chunks;
:meth:`CompatibleProvider._citations` reads them into ``LLMResponse.citations`` (and
``LLMStream.citations``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from ai.exceptions import AIError, UnsupportedParameterError
from ai.providers.base import ChatRequest, LLMResponse, LLMStream
from ai.providers.errors import status_error
from ai.providers.openai import OpenAIProvider, _error_label
from ai.providers.parts import ToolCallDelta
from ai.services.compatible import Declaration, declared

#: Sent as the key to a provider declared without one (a local server): the SDK needs a key,
#: and another provider's (OpenAI's) must never leave for a third party.
PLACEHOLDER_KEY = "no-key"
#: What OpenAIProvider's messages call the vendor; replaced by this provider's name.
_OPENAI = "OpenAI"


class CompatibleProvider(OpenAIProvider):
    """An OpenAI-wire vendor declared in settings. ``name`` is an instance attribute: the
    declared name, as in ``<name>/<model>``."""

    api_key_setting = None

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]  (a ClassVar on the built-in providers)
        declaration = self.declaration()
        self.default_model = declaration.model  # type: ignore[misc]
        self.default_embedding_model = declaration.embedding_model  # type: ignore[misc]
        if declaration.supports is not None:
            self.supported_options = declaration.supports  # type: ignore[misc]
        #: How errors name the vendor.
        self.vendor = name
        super().__init__()

    def declaration(self) -> Declaration:
        """This provider's declaration as it stands (read at call time)."""
        return declared().get(self.name) or Declaration(self.name)

    # -- the SDK client ------------------------------------------------------------------------

    def api_key(self) -> str | None:
        return self.declaration().api_key or PLACEHOLDER_KEY

    def base_url(self) -> str:
        return self.declaration().base_url or ""

    # -- calls ---------------------------------------------------------------------------------

    def _request(self, *args: Any, **kwargs: Any) -> ChatRequest:
        request = super()._request(*args, **kwargs)
        if not request.model:
            raise UnsupportedParameterError(
                f"The {self.name} provider declares no model: name one ('{self.name}/<model>'), "
                f"or declare its models in AI_PROVIDERS[{self.name!r}]['models'].",
                param="model",
                provider=self.name,
            )
        return request

    async def _complete(self, request: ChatRequest) -> LLMResponse:
        try:
            return await super()._complete(request)
        except AIError as err:
            self._named(err)
            raise

    async def _stream_chunks(
        self, request: ChatRequest, stream: LLMStream
    ) -> AsyncIterator[str | ToolCallDelta]:
        try:
            async with aclosing(super()._stream_chunks(request, stream)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except AIError as err:
            self._named(err)
            raise

    def _load_event(self, data: bytes, stream: LLMStream) -> dict[str, Any]:
        payload = super()._load_event(data, stream)
        citations = self._citations(payload)
        if citations:
            stream.citations = citations
        return payload

    @staticmethod
    def _citations(data: dict[str, Any]) -> tuple[str, ...]:
        """The URLs a search model (Perplexity) cites: its ``citations``, else the ``url`` of
        its ``search_results``; () when there are none or they are not in that shape."""
        citations = data.get("citations")
        if not citations:
            results = data.get("search_results")
            if isinstance(results, list):
                citations = [r.get("url") for r in results if isinstance(r, dict)]
        if not isinstance(citations, list):
            return ()
        return tuple(c for c in citations if isinstance(c, str) and c)

    # -- errors: named after this provider, its key redacted -----------------------------------

    def _named(self, err: AIError) -> AIError:
        """``err`` with "OpenAI" in its message replaced by this provider's name."""
        if err.message.startswith(_OPENAI):
            err.message = self.vendor + err.message[len(_OPENAI) :]
            err.args = (err.message,)
        elif err.message.startswith(f"Could not reach {_OPENAI}"):
            err.message = err.message.replace(_OPENAI, self.vendor, 1)
            err.args = (err.message,)
        return err

    def translate_error(self, exc: BaseException, *, model: str | None = None) -> AIError:
        return self._named(super().translate_error(exc, model=model))

    def _in_band_error(self, error: object, model: str | None, request_id: str | None) -> Any:
        return self._named(super()._in_band_error(error, model, request_id))

    def _unreadable_event(self, stream: LLMStream) -> Any:
        return self._named(super()._unreadable_event(stream))

    def _status_error(self, exc: Any, model: str | None) -> AIError:
        body = exc.body if isinstance(exc.body, dict) else {}
        if isinstance(body.get("error"), dict):  # some vendors nest it where the SDK does not
            body = body["error"]
        return status_error(
            exc.status_code,
            provider=self.name,
            vendor=self.vendor,
            model=model,
            label=_error_label(body),
            detail=body.get("message"),
            request_id=exc.request_id,
            headers=exc.response.headers,
            secrets=(self.api_key(),),
        )


__all__ = ["PLACEHOLDER_KEY", "CompatibleProvider"]
