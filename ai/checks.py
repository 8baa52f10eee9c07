"""System checks: configuration mistakes reported at startup, with the fix in the message."""

from __future__ import annotations

from django.core.checks import Error, Warning, register

import ai.services.compatible as compatible
from ai.conf import ai_settings, gc_thresholds
from ai.services.factory import PROVIDER_CLASSES, get_available_providers, provider_names


@register()
def check_ai_settings(app_configs=None, **kwargs):
    messages = []
    default = ai_settings.AI_DEFAULT_PROVIDER
    if default not in provider_names():
        messages.append(
            Error(
                f"AI_DEFAULT_PROVIDER is {default!r}, which is not a provider.",
                hint=f"Set it to one of: {', '.join(provider_names())}.",
                id="ai.E001",
            )
        )
    if not get_available_providers():
        messages.append(
            Warning(
                "No AI provider is configured: every AI request will fail.",
                hint="Set AI_OPENAI_API_KEY, AI_ANTHROPIC_API_KEY or AI_GOOGLE_API_KEY in your "
                "Django settings (or the OPENAI_API_KEY, ANTHROPIC_API_KEY or GOOGLE_API_KEY "
                "environment variable), declare an OpenAI-compatible provider in AI_PROVIDERS, "
                "or set AI_OFFLINE_ENABLED = True for development.",
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
    if ai_settings.AI_GC_THRESHOLDS is not None and gc_thresholds() is None:
        messages.append(
            Error(
                f"AI_GC_THRESHOLDS is {ai_settings.AI_GC_THRESHOLDS!r}.",
                hint="Set it to None (the process's own thresholds) or to 1 to 3 "
                "non-negative integers, as gc.set_threshold takes them: (10000, 10, 50).",
                id="ai.E003",
            )
        )
    messages.extend(_reasoning_budget_problems())
    return messages


def _reasoning_budget_problems() -> list[Error]:
    from ai.providers.reasoning import BUDGETS, valid_budget

    given = ai_settings.AI_REASONING_BUDGETS
    if given is None:
        return []
    ok = isinstance(given, dict) and all(
        effort in BUDGETS and valid_budget(tokens) for effort, tokens in given.items()
    )
    if ok:
        return []
    return [
        Error(
            f"AI_REASONING_BUDGETS is {given!r}.",
            hint="Set it to None (the built-in budgets) or to a dict of thinking tokens by "
            f"effort, the efforts being {', '.join(BUDGETS)}: {{'high': 32000}}.",
            id="ai.E004",
        )
    ]


@register()
def check_compatible_providers(app_configs=None, **kwargs):
    """ai.E050: an OpenAI-compatible provider's declaration (``AI_PROVIDERS`` or
    ``AI_PROVIDER_<NAME>_*``) that cannot be used. ai.E051: its name is a built-in provider's."""
    messages = []
    for name, declaration in compatible.declared().items():
        if name in PROVIDER_CLASSES:
            messages.append(
                Error(
                    f"The OpenAI-compatible provider {name!r} ({declaration.source}) has the "
                    "name of a built-in provider: it is ignored.",
                    hint=f"Give it another name; {', '.join(PROVIDER_CLASSES)} are taken. "
                    "(To point the built-in openai provider elsewhere, set AI_OPENAI_BASE_URL.)",
                    id="ai.E051",
                )
            )
        for problem in declaration.problems:
            messages.append(
                Error(
                    f"The OpenAI-compatible provider {name!r} ({declaration.source}): {problem}",
                    hint="See ai.services.compatible for the fields of a declaration.",
                    id="ai.E050",
                )
            )
    return messages


#: Host middleware that only serves browser views (sessions, CSRF, login, messages): the
#: gateway's token-authenticated JSON API does not need it, so the fast path may skip it.
BROWSER_ONLY_MIDDLEWARE = frozenset(
    {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)


@register()
def check_api_middleware(app_configs=None, **kwargs):
    """ai.W010: with ``AI_API_MIDDLEWARE`` set, each host middleware that the gateway's views
    would skip and that may change responses (security headers, CORS, the host's own)."""
    from django.conf import settings

    api_middleware = ai_settings.AI_API_MIDDLEWARE
    if api_middleware is None:
        return []
    listed = set(api_middleware)
    return [
        Warning(
            f"{path} is in MIDDLEWARE but not in AI_API_MIDDLEWARE: the gateway's API "
            "responses skip it.",
            hint=f"Add {path!r} to AI_API_MIDDLEWARE (in MIDDLEWARE's order), or remove "
            "AI_API_MIDDLEWARE so that every request goes through MIDDLEWARE.",
            id="ai.W010",
        )
        for path in settings.MIDDLEWARE
        if path not in listed and path not in BROWSER_ONLY_MIDDLEWARE
    ]


@register()
def check_server(app_configs=None, **kwargs):
    """ai.W020: the gateway is async and streams: it wants an ASGI server."""
    from django.conf import settings

    if getattr(settings, "ASGI_APPLICATION", None):
        return []
    return [
        Warning(
            "ASGI_APPLICATION is not set: the AI gateway is meant to be served by an ASGI "
            "server. Under WSGI (runserver, gunicorn's sync workers) each request, streams "
            "included, holds a worker thread until it ends.",
            hint="Serve the project with an ASGI server, e.g. `uvicorn myproject.asgi:"
            "application` with the asgi.py of the README's install section, and set "
            'ASGI_APPLICATION = "myproject.asgi.application".',
            id="ai.W020",
        )
    ]


@register()
def check_docs(app_configs=None, **kwargs):
    """ai.W030: the API docs page (``ai.docs_urls``) loads Swagger UI from
    drf-spectacular-sidecar's static files."""
    import sys

    from django.apps import apps
    from django.urls import get_resolver

    if apps.is_installed("drf_spectacular_sidecar"):
        return []
    try:
        get_resolver().url_patterns  # noqa: B018  (imports the URLconf)
    except Exception:  # Django's own URL checks report a broken URLconf
        return []
    if "ai.docs_urls" not in sys.modules:
        return []
    return [
        Warning(
            "drf_spectacular_sidecar is not in INSTALLED_APPS: the gateway's API docs page "
            "(ai.docs_urls) cannot load Swagger UI's files.",
            hint='Add "drf_spectacular_sidecar" to INSTALLED_APPS (it is installed with the '
            "app), or do not include ai.docs_urls.",
            id="ai.W030",
        )
    ]


@register()
def check_limits_cache(app_configs=None, **kwargs):
    """ai.E040: ``AI_LIMITS_CACHE`` names no cache. ai.W040: rate limits or budgets are set by
    default while the cache that counts them is not Redis: each process counts on its own."""
    from django.conf import settings

    alias = ai_settings.AI_LIMITS_CACHE
    if alias not in settings.CACHES:
        return [
            Error(
                f"AI_LIMITS_CACHE is {alias!r}, which is not in CACHES.",
                hint=f"Set it to one of: {', '.join(settings.CACHES)}.",
                id="ai.E040",
            )
        ]
    defaults = (
        "AI_DEFAULT_RPM",
        "AI_DEFAULT_TPM",
        "AI_DEFAULT_DAILY_BUDGET_USD",
        "AI_DEFAULT_MONTHLY_BUDGET_USD",
    )
    limited = [name for name in defaults if getattr(ai_settings, name) is not None]
    if not limited:
        return []
    from ai.governance import shared

    if shared():
        return []
    backend = settings.CACHES[alias].get("BACKEND", "")
    return [
        Warning(
            f"{', '.join(limited)} {'is' if len(limited) == 1 else 'are'} set, but the "
            f"{alias!r} cache (AI_LIMITS_CACHE) is {backend}: rate limits and budgets are "
            "counted in each process on its own, so N gateway processes allow N times the "
            "limit (per-user and per-key limits too).",
            hint="Point AI_LIMITS_CACHE at a Redis cache "
            '(BACKEND "django.core.cache.backends.redis.RedisCache") shared by every process.',
            id="ai.W040",
        )
    ]
