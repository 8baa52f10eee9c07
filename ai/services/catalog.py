"""The models the gateway serves, and which provider a model name asked for goes to."""

from __future__ import annotations

from ai.conf import ai_settings
from ai.exceptions import ModelNotFoundError
from ai.providers.base import ModelComplexity
from ai.services.classifier import AUTO
from ai.services.factory import compatible_providers, get_available_providers, is_configured
from ai.services.router import default_model_for, get_llm_router, provider_for_model

#: Who "owns" the model ``auto`` in the model list: the gateway's classifier picks the route.
AUTO_OWNER = "gateway"


async def served_models() -> dict[str, str]:
    """Model -> provider, for configured providers only: the default model first, then the
    routing table's models in route order, then each configured OpenAI-compatible provider's
    declared models as ``<name>/<model>``, then ``auto`` (owned by :data:`AUTO_OWNER`) when
    any of them is served (offline included)."""
    seen: dict[str, str] = {}
    default = str(ai_settings.AI_DEFAULT_PROVIDER)
    if is_configured(default):
        seen[default_model_for(default)] = default
    router = get_llm_router()
    for complexity in ModelComplexity:
        for target in await router.targets(complexity):
            if is_configured(target.provider):
                seen.setdefault(target.model, target.provider)
    for name, declaration in compatible_providers().items():
        if declaration.configured:
            for model in declaration.models:
                seen.setdefault(f"{name}/{model}", name)
    if seen:
        seen.setdefault(AUTO, AUTO_OWNER)
    return seen


async def provider_of(model: str) -> str:
    """The provider ``model`` belongs to: by its vendor prefix (``gpt-``, ``claude-``...), else
    the default model or a route naming it. Raises :class:`ModelNotFoundError` (404) naming the
    models served and the ``provider/model`` form when nothing does."""
    provider = provider_for_model(model)
    if provider is not None:
        return provider
    default = str(ai_settings.AI_DEFAULT_PROVIDER)
    if default_model_for(default) == model:
        return default
    router = get_llm_router()
    for complexity in ModelComplexity:
        for target in await router.targets(complexity):
            if target.model == model:
                return target.provider
    served = ", ".join(f"{m} ({p})" for m, p in (await served_models()).items()) or "none"
    configured = ", ".join(get_available_providers()) or "none"
    raise ModelNotFoundError(
        f"Unknown model {model!r}: its name does not say which provider serves it, and no "
        f"route uses it. Models served (the default model and the routing table's): {served}. "
        f"Any other model of a configured provider ({configured}) can be named as "
        f"'<provider>/<model>', e.g. '{configured.split(', ')[0]}/{model}'.",
        model=model,
    )
