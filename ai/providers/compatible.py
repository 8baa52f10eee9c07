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

from typing import Any

from ai.exceptions import AIError, UnsupportedParameterError
from ai.providers.base import ChatRequest, LLMStream
from ai.providers.errors import status_error
from ai.providers.openai import OpenAIProvider, _error_label
from ai.services.compatible import Declaration, declared

#: Sent as the key to a provider declared without one (a local server): the SDK needs a key,
#: and another provider's (OpenAI's) must never leave for a third party.
PLACEHOLDER_KEY = "no-key"


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
            # reasoning_effort with them: before the gateway knew it, it went to every such
            # vendor as a field passed through, and a declaration could not name it.
            self.supported_options = declaration.supports | {"reasoning_effort"}  # type: ignore[misc]
        self.vendor = name  # how messages name it
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
