"""Provider factory: the one place that turns a provider name into a configured instance.

The built-in providers are :data:`PROVIDER_CLASSES`; the OpenAI-compatible providers declared in
``AI_PROVIDERS`` or ``AI_PROVIDER_<NAME>_*`` environment variables (:mod:`ai.services.compatible`)
come after them, one :class:`ai.providers.compatible.CompatibleProvider` per name. A declared
name that is also a built-in's is ignored (system check ``ai.E051``).
"""

from __future__ import annotations

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

import ai.services.compatible as compatible
from ai.conf import ai_settings, setting_hint
from ai.exceptions import ProviderNotConfiguredError, UnknownProviderError
from ai.providers.base import BaseLLMProvider

#: Provider name -> dotted path of its class. Imported lazily, so an unused SDK costs nothing.
PROVIDER_CLASSES: dict[str, str] = {
    "openai": "ai.providers.openai.OpenAIProvider",
    "anthropic": "ai.providers.anthropic.AnthropicProvider",
    "gemini": "ai.providers.gemini.GeminiProvider",
    "offline": "ai.providers.offline.OfflineProvider",
}

#: The app's provider classes' ``default_model``, readable without importing a class and its SDK
#: (a request naming an unconfigured provider must not load anthropic's 40 MB of types). Keyed
#: by class path: a class registered in PROVIDER_CLASSES by the host is asked itself.
DEFAULT_MODELS: dict[str, str] = {
    "ai.providers.openai.OpenAIProvider": "gpt-4o",
    "ai.providers.anthropic.AnthropicProvider": "claude-sonnet-4-5-20250929",
    "ai.providers.gemini.GeminiProvider": "gemini-2.5-flash",
    "ai.providers.offline.OfflineProvider": "offline-echo",
}

#: Provider name -> the Django setting holding its key (the offline provider needs none). Each
#: falls back to the unprefixed setting and environment variable (``ai.conf.FALLBACKS``).
API_KEY_SETTINGS: dict[str, str] = {
    "openai": "AI_OPENAI_API_KEY",
    "anthropic": "AI_ANTHROPIC_API_KEY",
    "gemini": "AI_GOOGLE_API_KEY",
}

#: Provider name -> the Django setting holding its base URL.
BASE_URL_SETTINGS: dict[str, str] = {
    "openai": "AI_OPENAI_BASE_URL",
    "anthropic": "AI_ANTHROPIC_BASE_URL",
    "gemini": "AI_GOOGLE_GEMINI_BASE_URL",
}


#: The class of every OpenAI-compatible provider (one instance per declared name).
COMPATIBLE_CLASS = "ai.providers.compatible.CompatibleProvider"


def compatible_providers() -> dict[str, compatible.Declaration]:
    """The declared OpenAI-compatible providers whose name is not a built-in's, by name."""
    return {n: d for n, d in compatible.declared().items() if n not in PROVIDER_CLASSES}


def provider_names() -> list[str]:
    """Every provider the app knows, configured or not: the built-ins, then the declared
    OpenAI-compatible ones."""
    return [*PROVIDER_CLASSES, *compatible_providers()]


def not_configured_message(name: str) -> str:
    """What to set to turn provider ``name`` on, naming what really works: the ``AI_*`` Django
    setting, or the vendor's environment variable (read when neither setting is defined)."""
    if name == "offline":
        hint = "set AI_OFFLINE_ENABLED = True in your Django settings"
    elif name not in PROVIDER_CLASSES:
        hint = (
            f"set AI_PROVIDERS[{name!r}]['base_url'] in your Django settings (or the "
            f"{compatible.env_name(name, '_BASE_URL')} environment variable)"
        )
        declaration = compatible_providers().get(name)
        if declaration is not None and declaration.problems:
            problems = " ".join(declaration.problems)
            hint = f"its declaration is invalid ({problems}); see manage.py check"
    else:
        hint = setting_hint(API_KEY_SETTINGS[name])
    return f"The {name} provider is not configured: {hint}."


def is_configured(name: str) -> bool:
    if name == "offline":
        return bool(ai_settings.AI_OFFLINE_ENABLED)
    setting = API_KEY_SETTINGS.get(name)
    if setting is not None:
        return bool(getattr(ai_settings, setting))
    if name in PROVIDER_CLASSES:
        return False
    declaration = compatible_providers().get(name)
    return declaration is not None and declaration.configured


def get_available_providers() -> list[str]:
    """Names of the providers this gateway can call now, in a stable order (the built-ins,
    then the declared OpenAI-compatible ones)."""
    return [name for name in provider_names() if is_configured(name)]


def is_ai_available() -> bool:
    return bool(get_available_providers())


@lru_cache(maxsize=None)  # noqa: UP033  (the spec names lru_cache)
def get_llm_provider(name: str | None = None) -> BaseLLMProvider:
    """The shared provider instance for ``name`` (``AI_DEFAULT_PROVIDER`` when None).

    Raises :class:`UnknownProviderError` for a name the app does not know and
    :class:`ProviderNotConfiguredError` (a ``ValueError``) naming the setting to set when its
    API key is missing.
    """
    name = name or ai_settings.AI_DEFAULT_PROVIDER
    builtin = name in PROVIDER_CLASSES
    if not builtin and name not in compatible_providers():
        valid = ", ".join(provider_names())
        raise UnknownProviderError(f"Unknown provider {name!r}; valid providers: {valid}.")
    if not is_configured(name):
        raise ProviderNotConfiguredError(not_configured_message(name), provider=name)
    if builtin:
        return import_string(PROVIDER_CLASSES[name])()
    return import_string(COMPATIBLE_CLASS)(name)


def preload_providers() -> list[str]:
    """Import and build every configured provider now (at startup): importing an SDK takes
    seconds and would otherwise stall the event loop inside the first request."""
    names = get_available_providers()
    for name in names:
        get_llm_provider(name)
    return names


async def aclose_providers() -> None:
    """Close the current event loop's SDK clients of every configured provider (shutdown)."""
    for name in get_available_providers():
        await get_llm_provider(name).aclose()


def clear_llm_cache() -> None:
    """Forget cached provider instances (and with them their SDK clients), and read the
    OpenAI-compatible declarations (settings and environment) again on next use."""
    get_llm_provider.cache_clear()
    compatible.forget()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(("AI_", "OPENAI_", "ANTHROPIC_", "GOOGLE_")):
        clear_llm_cache()
