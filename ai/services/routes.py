"""The routing table in code: complexity -> ordered targets (the spec's defaults).

The router (:mod:`ai.services.router`) walks these; the database table (:mod:`ai.routing`) is
seeded from them and falls back to them. A leaf module, so both can import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ai.providers.base import ModelComplexity


@dataclass(frozen=True, slots=True)
class ModelRoute:
    provider: str
    model: str
    #: Blended list price, USD per 1,000 tokens (the spec's estimate; the ledger prices exactly).
    cost_per_1k_tokens: Decimal = Decimal("0")


#: The spec's routing table: complexity -> the model that serves it first.
MODEL_ROUTES: dict[ModelComplexity, ModelRoute] = {
    ModelComplexity.SIMPLE: ModelRoute("openai", "gpt-4o-mini", Decimal("0.000375")),
    ModelComplexity.MODERATE: ModelRoute("openai", "gpt-4o", Decimal("0.00625")),
    ModelComplexity.COMPLEX: ModelRoute(
        "anthropic", "claude-sonnet-4-5-20250929", Decimal("0.009")
    ),
    # Until a Perplexity provider is declared: then search_targets() puts it first.
    ModelComplexity.SEARCH: ModelRoute("openai", "gpt-4o", Decimal("0.00625")),
}

#: Where each complexity goes when its first target is unavailable or keeps failing.
FALLBACK_ROUTES: dict[ModelComplexity, tuple[ModelRoute, ...]] = {
    ModelComplexity.SIMPLE: (
        ModelRoute("gemini", "gemini-2.5-flash", Decimal("0.0014")),
        ModelRoute("anthropic", "claude-haiku-4-5", Decimal("0.003")),
    ),
    ModelComplexity.MODERATE: (
        ModelRoute("anthropic", "claude-sonnet-4-5-20250929", Decimal("0.009")),
        ModelRoute("gemini", "gemini-2.5-flash", Decimal("0.0014")),
    ),
    ModelComplexity.COMPLEX: (
        ModelRoute("openai", "gpt-4o", Decimal("0.00625")),
        ModelRoute("gemini", "gemini-2.5-pro", Decimal("0.005625")),
    ),
    ModelComplexity.SEARCH: (ModelRoute("gemini", "gemini-2.5-flash", Decimal("0.0014")),),
}

#: Async callable giving a complexity's ordered targets. Replaceable (the database-backed table).
RouteSource = Callable[[ModelComplexity], Awaitable[Sequence[ModelRoute]]]


async def default_route_targets(complexity: ModelComplexity) -> Sequence[ModelRoute]:
    return (MODEL_ROUTES[complexity], *FALLBACK_ROUTES.get(complexity, ()))


#: The OpenAI-compatible provider the SEARCH route asks first when it is declared and configured
#: (``AI_PROVIDERS = {"perplexity": {...}}``), with the model ``AI_SEARCH_MODEL``.
SEARCH_PROVIDER = "perplexity"


def search_targets(
    targets: Sequence[ModelRoute], *, provider_configured: bool, model: str
) -> Sequence[ModelRoute]:
    """The SEARCH route's targets: :data:`SEARCH_PROVIDER`'s ``model`` first when that provider
    is configured, then ``targets`` as fallbacks. A route that already names the provider (the
    operator placed it in the routing table) is left as it is."""
    if not provider_configured or any(t.provider == SEARCH_PROVIDER for t in targets):
        return targets
    return (ModelRoute(SEARCH_PROVIDER, model), *targets)
