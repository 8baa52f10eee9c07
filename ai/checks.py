"""System checks: configuration mistakes reported at startup, with the fix in the message."""

from __future__ import annotations

from django.core.checks import Error, Warning, register

from ai.conf import ai_settings
from ai.services.factory import PROVIDER_CLASSES, get_available_providers


@register()
def check_ai_settings(app_configs=None, **kwargs):
    messages = []
    default = ai_settings.AI_DEFAULT_PROVIDER
    if default not in PROVIDER_CLASSES:
        messages.append(
            Error(
                f"AI_DEFAULT_PROVIDER is {default!r}, which is not a provider.",
                hint=f"Set it to one of: {', '.join(PROVIDER_CLASSES)}.",
                id="ai.E001",
            )
        )
    if not get_available_providers():
        messages.append(
            Warning(
                "No AI provider is configured: every AI request will fail.",
                hint="Set OPENAI_API_KEY, ANTHROPIC_API_KEY or GOOGLE_API_KEY, "
                "or AI_OFFLINE_ENABLED = True for development.",
                id="ai.W001",
            )
        )
    transport = ai_settings.AI_HTTP_TRANSPORT
    if transport not in ("aiohttp", "httpx2"):
        messages.append(
            Error(
                f"AI_HTTP_TRANSPORT is {transport!r}.",
                hint="Set it to 'aiohttp' or 'httpx2'.",
                id="ai.E002",
            )
        )
    return messages
