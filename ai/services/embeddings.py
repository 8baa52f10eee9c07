"""Embeddings through the gateway: one vector per input text, admitted, routed, priced and
recorded like a chat request (``ai.services.gateway``), with no stream and no response cache.

Which provider and model (:func:`resolve`):

* ``provider/model`` (``gemini/gemini-embedding-001``, ``ollama/nomic-embed-text``): that one;
* a bare model: the OpenAI-compatible provider that declares it, else by its name
  (``text-embedding-`` OpenAI, ``gemini-`` Gemini, ``offline-``); a name that says nothing is a
  404 naming the ``provider/model`` form;
* no model: the default provider's ``default_embedding_model`` when it has embeddings, else
  the first configured provider that has (the offline provider last).

The request is always an explicit target (``route=override`` in ``x-ai-route``): an API key's
``allowed_models`` must allow that embedding model (else 403, before any upstream call), and it
is retried on the same model, never swapped for another (vectors of two models do not mix). The
texts count against the caller's rate limits (one request; their token estimate in tokens per
minute) and budgets (the prompt bound at the model's input price), then the real usage and cost
settle them. A provider without embeddings (Anthropic) is a 400 ``unsupported_parameter``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ai import governance, metrics
from ai.conf import ai_settings
from ai.exceptions import ModelNotFoundError, NoRouteAvailableError
from ai.providers.base import EmbeddingResponse, Message, Role
from ai.services import gateway
from ai.services.factory import get_available_providers, get_llm_provider, provider_names
from ai.services.router import get_llm_router, provider_for_model
from ai.usage.events import STATUS_OK

#: Model-name prefixes of embedding models, and their provider (besides the chat prefixes of
#: :func:`ai.services.router.provider_for_model`: ``gemini-``, ``offline-``...).
EMBEDDING_PREFIXES: tuple[tuple[str, str], ...] = (("text-embedding-", "openai"),)
#: The ledger's ``endpoint`` of the two surfaces.
NATIVE_ENDPOINT = "embeddings"
OPENAI_ENDPOINT = "openai_embeddings"


@dataclass(frozen=True, slots=True)
class EmbeddingCall:
    """A validated embeddings request, whatever surface it came from."""

    inputs: tuple[str, ...]
    provider: str | None = None
    model: str | None = None
    #: The size of the vectors, for models that can shorten them (None: the model's own).
    dimensions: int | None = None


def _default_target() -> tuple[str, str]:
    configured = get_available_providers()
    default = str(ai_settings.AI_DEFAULT_PROVIDER)
    order = [default] if default in configured else []
    order += [p for p in configured if p not in order and p != "offline"]
    order += [p for p in configured if p == "offline" and p not in order]
    for name in order:
        model = get_llm_provider(name).default_embedding_model
        if model:
            return name, model
    raise NoRouteAvailableError(
        "No configured provider has embeddings (OpenAI, Gemini, an OpenAI-compatible provider "
        f"or the offline provider); configured: {', '.join(configured) or 'none'}."
    )


def resolve(call: EmbeddingCall) -> EmbeddingCall:
    """``call`` with its provider and model filled in (see the module docstring). Raises
    :class:`ModelNotFoundError` (404) for a bare model whose name does not say its provider."""
    if call.model is None:
        if call.provider is not None:
            model = get_llm_provider(call.provider).default_embedding_model
            # None: embed() refuses it with the provider's own 400.
            return replace(call, model=model or "")
        provider, model = _default_target()
        return replace(call, provider=provider, model=model)
    if call.provider is not None:
        return call
    head, slash, rest = call.model.partition("/")
    provider, model = (head, rest) if slash and head in provider_names() else (None, call.model)
    if provider is None:
        lowered = model.lower()
        # A model an OpenAI-compatible provider declares is its, before any vendor prefix.
        provider = provider_for_model(model) or next(
            (p for prefix, p in EMBEDDING_PREFIXES if lowered.startswith(prefix)), None
        )
    if provider is None:
        configured = ", ".join(get_available_providers()) or "none"
        raise ModelNotFoundError(
            f"Unknown embedding model {model!r}: its name does not say which provider serves "
            f"it. Name it as '<provider>/<model>' (configured providers: {configured}), e.g. "
            f"'openai/{model}'.",
            model=model,
        )
    return replace(call, provider=provider, model=model)


def _as_llm_call(call: EmbeddingCall) -> gateway.LLMCall:
    # What admission counts: each text as a prompt, nothing to complete (max_tokens 0).
    messages = tuple(Message(Role.USER, text) for text in call.inputs)
    return gateway.LLMCall(messages, provider=call.provider, model=call.model, max_tokens=0)


async def embed(call: EmbeddingCall, outcome: gateway.Outcome) -> EmbeddingResponse:
    """The vectors of ``call`` (resolved by :func:`resolve`), with ``outcome`` filled in for
    the ledger (tokens, cost) and the response headers. Raises the AIError of a failed call;
    the usage is recorded and the admission settled however it ends."""
    router = get_llm_router()
    flight = metrics.request_started(outcome.endpoint)
    try:
        _, targets = await gateway.admitted(router, _as_llm_call(call), outcome)
        response: EmbeddingResponse = await router.run(
            targets,
            lambda provider, route: provider.embed(
                call.inputs, route.model, dimensions=call.dimensions
            ),
            overridden=True,
            trace=outcome.routing,
            operation="embeddings",
        )
        outcome.provider, outcome.model = response.provider, response.model
        outcome.usage = response.usage
        outcome.upstream_request_id = response.upstream_request_id or ""
        await gateway.price(outcome, response)  # type: ignore[arg-type]  (same fields)
        outcome.status = STATUS_OK
        return response
    except BaseException as exc:
        outcome.failed(exc)
        gateway.explain(exc, outcome)
        raise
    finally:
        metrics.leave(flight)
        outcome.record()
        await governance.settle(outcome)
