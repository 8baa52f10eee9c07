"""The gateway's service layer: the LLM interface, providers, factory and router."""

from ai.exceptions import AIError
from ai.providers.base import (
    BaseLLMProvider,
    ChatRequest,
    FinishReason,
    LLMResponse,
    LLMStream,
    Message,
    ModelComplexity,
    Role,
    Usage,
)
from ai.services.factory import (
    clear_llm_cache,
    get_available_providers,
    get_llm_provider,
    is_ai_available,
)
from ai.services.router import LLMRouter, clear_router_cache, get_llm_router
from ai.services.routes import FALLBACK_ROUTES, MODEL_ROUTES, ModelRoute


def __getattr__(name: str):
    # Vendor classes import their SDK; load them only when asked for.
    lazy = {
        "OpenAIProvider": "ai.providers.openai",
        "AnthropicProvider": "ai.providers.anthropic",
        "GeminiProvider": "ai.providers.gemini",
        "OfflineProvider": "ai.providers.offline",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'ai.services' has no attribute {name!r}")


__all__ = [
    "FALLBACK_ROUTES",
    "MODEL_ROUTES",
    "AIError",
    "AnthropicProvider",
    "BaseLLMProvider",
    "ChatRequest",
    "FinishReason",
    "GeminiProvider",
    "LLMResponse",
    "LLMRouter",
    "LLMStream",
    "Message",
    "ModelComplexity",
    "ModelRoute",
    "OfflineProvider",
    "OpenAIProvider",
    "Role",
    "Usage",
    "clear_llm_cache",
    "clear_router_cache",
    "get_available_providers",
    "get_llm_provider",
    "get_llm_router",
    "is_ai_available",
]
