"""What the ``model`` of a compatible surface (OpenAI Chat Completions, Anthropic Messages,
OpenAI Responses) names, the same on every surface:

* a route: ``simple``, ``moderate``, ``complex``, ``search``, or ``auto`` (the classifier
  picks the route from the messages);
* ``provider/model`` (``anthropic/claude-haiku-4-5``): that provider, that model;
* a model (``gpt-4o-mini``, ``claude-sonnet-4-5``): its provider by its name, the default
  model or the routing table (:func:`ai.services.catalog.provider_of`; unknown: 404).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ai.api.validation import fail
from ai.providers.base import ModelComplexity
from ai.services.catalog import provider_of
from ai.services.classifier import AUTO
from ai.services.factory import provider_names
from ai.services.router import provider_for_model

#: Route names a client may give as ``model``.
ROUTES = tuple(c.value for c in ModelComplexity)


def split_model(model: str) -> tuple[str | None, str]:
    """``("provider", "model")`` for ``provider/model`` naming a known provider, else
    ``(None, model)`` (``models/gemini-x`` keeps its slash)."""
    head, slash, rest = model.partition("/")
    if slash and head in provider_names():
        return head, rest
    return None, model


def names_a_model(model: str) -> str:
    """A ``model`` field's validator: ``provider/`` must be followed by a model."""
    provider, name = split_model(model)
    if provider is not None and not name:
        raise fail("no_model", "Must name a model after the provider.")
    return model


def routing_of(model: str) -> dict[str, Any]:
    """The :class:`ai.services.gateway.LLMCall` fields that ``model`` asks for (provider,
    model, complexity, auto), without I/O: a bare model's provider is found by
    :func:`resolve` when its name does not tell."""
    provider, name = split_model(model)
    if provider is None and name == AUTO:
        return {"auto": True}
    if provider is None and name in ROUTES:
        return {"complexity": ModelComplexity(name)}
    return {"provider": provider, "model": name}


async def resolve(call: Any) -> Any:
    """``call`` with the provider of its model filled in when the model's name does not say
    it (the default model, a model of the routing table). Raises ModelNotFoundError (404)."""
    if call.provider is None and call.model and provider_for_model(call.model) is None:
        return dataclasses.replace(call, provider=await provider_of(call.model))
    return call
