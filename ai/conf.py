"""The app's settings, read from Django settings at call time.

Every setting is a top-level Django setting named ``AI_*``. ``ai_settings.NAME`` returns the
host's value or the default here, read on first use and kept until Django signals a settings
change (``setting_changed``, as ``override_settings`` sends), like DRF's ``api_settings``; the
provider settings, which fall back to the environment, are read on every access. Nothing is read
at import time.

The provider settings (keys, base URLs, Gemini's API version) have older unprefixed names, which
are also the environment variables the vendors' SDKs document. Each resolves, in this order:

1. the Django setting ``AI_OPENAI_API_KEY`` (the canonical name: no clash with a host's own
   ``OPENAI_API_KEY``),
2. the Django setting ``OPENAI_API_KEY`` (kept for compatibility),
3. the environment variable ``OPENAI_API_KEY``,
4. the default below.

A setting that is defined wins even when it is ``None`` or empty: ``AI_OPENAI_API_KEY = None``
turns the provider off whatever the environment holds. ``ai_settings.OPENAI_API_KEY`` is the same
value as ``ai_settings.AI_OPENAI_API_KEY``.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Which provider / model answer when a request names neither.
    "AI_DEFAULT_PROVIDER": "openai",
    "AI_DEFAULT_MODEL": "gpt-4o",
    # Credentials. Never logged, never shown by any endpoint or admin page.
    "AI_OPENAI_API_KEY": None,
    "AI_ANTHROPIC_API_KEY": None,
    "AI_GOOGLE_API_KEY": None,
    # Upstream base URLs (None = the vendor's public endpoint). OpenAI's includes /v1;
    # Anthropic's and Gemini's do not (their SDKs add the version to the path).
    "AI_OPENAI_BASE_URL": None,
    "AI_ANTHROPIC_BASE_URL": None,
    "AI_GOOGLE_GEMINI_BASE_URL": None,
    "AI_GOOGLE_GEMINI_API_VERSION": "v1beta",
    # The offline provider: deterministic, no network. For development and host projects' tests.
    "AI_OFFLINE_ENABLED": False,
    "AI_OFFLINE_DELAY_MS": 0,
    # Per upstream attempt, in seconds (ai.providers.deadlines): connecting; from the call to the
    # answer or a stream's first delta (None: AI_REQUEST_TIMEOUT); between two deltas of a
    # stream (None: AI_REQUEST_TIMEOUT).
    "AI_REQUEST_TIMEOUT": 60.0,
    "AI_CONNECT_TIMEOUT": 10.0,
    "AI_FIRST_BYTE_TIMEOUT": None,
    "AI_IDLE_TIMEOUT": None,
    # A stream quiet for this many seconds gets an SSE comment (": keep-alive"), so proxies that
    # cut idle connections do not end it. 0: none (one task less per stream).
    "AI_SSE_KEEPALIVE_SECONDS": 15.0,
    # The gateway owns retries (the SDKs are built with max_retries=0).
    "AI_MAX_RETRIES": 2,
    "AI_RETRY_BACKOFF_MS": 250,
    "AI_RETRY_MAX_WAIT_S": 10.0,
    # Try the route's next target when one fails with a retryable error.
    "AI_FALLBACKS_ENABLED": True,
    # Leave out, per target, a request's options that target cannot honour (a seed, penalties,
    # an OpenAI-only field) instead of answering 400; never tools, tool_choice or
    # response_format. A request's own "drop_params" overrides this. LiteLLM's drop_params.
    "AI_DROP_PARAMS": False,
    # The thinking budget (tokens) a reasoning_effort asks of Claude and Gemini (OpenAI takes
    # the effort itself), by effort: {"low": 4096} changes low alone. None: the built-in
    # budgets (ai.providers.reasoning.BUDGETS). "none" always turns thinking off.
    "AI_REASONING_BUDGETS": None,
    # Request bounds, enforced before anything reaches an upstream.
    "AI_MAX_TOKENS_LIMIT": 32768,
    "AI_MAX_MESSAGES": 500,
    "AI_MAX_BODY_BYTES": 1_048_576,
    # HTTP transport under the SDKs: "aiohttp" (measured about twice as cheap per call as
    # httpx2 under concurrency, see README "Performance") or "httpx2" (the SDKs' own default).
    "AI_HTTP_TRANSPORT": "aiohttp",
    # Connections per provider and process (streams in flight need one each); all may stay open.
    "AI_HTTP_MAX_CONNECTIONS": 10_000,
    # Usage ledger.
    "AI_USAGE_ENABLED": True,
    "AI_USAGE_FLUSH_INTERVAL_MS": 1000,
    "AI_USAGE_BATCH_SIZE": 500,
    # How long the router keeps routes read from the database, in seconds.
    "AI_ROUTES_CACHE_SECONDS": 5.0,
    # The Django cache (an alias of CACHES) that carries user revocations between processes
    # (ai.api.authentication). Shared (Redis, Memcached) when the gateway runs in more than one
    # process; the local-memory cache only reaches this process.
    "AI_AUTH_CACHE": "default",
    # At ASGI startup (ai.asgi), move every object alive into the garbage collector's permanent
    # generation: full collections then skip the ~1M objects of Django and the SDKs.
    "AI_GC_FREEZE": False,
    # At ASGI startup, gc.set_threshold(*AI_GC_THRESHOLDS) (1 to 3 integers). None: the host's
    # thresholds are left alone. Held streams keep their objects for seconds, so they reach
    # the oldest generation, and Python's default (700, 10, 10) walks them in full collections
    # again and again (see README, Performance).
    "AI_GC_THRESHOLDS": None,
    # While a stream is held, swap the six per-connection deques of uvicorn (httptools) and
    # aiohttp for small lists (ai._compat.small_deques, guarded): 4.6 KB less per open stream.
    # Off: the server's objects are the host's to change.
    "AI_SMALL_DEQUES": False,
    # None: every request, the gateway's included, goes through the host's MIDDLEWARE and
    # Django's own handler. A list of middleware paths: the app's own views get a lean handler
    # with exactly that list (see ai.asgi); `manage.py check` warns for what it skips.
    "AI_API_MIDDLEWARE": None,
    # Rate limits and budgets (ai.governance). None = no limit. Per user (admin: "User limits",
    # which may also exempt a user) and per API key (its own fields) override these; when both a
    # user's and a key's limit apply, the stricter one refuses first.
    "AI_DEFAULT_RPM": None,
    "AI_DEFAULT_TPM": None,
    "AI_DEFAULT_DAILY_BUDGET_USD": None,
    "AI_DEFAULT_MONTHLY_BUDGET_USD": None,
    # The completion tokens a budget reservation assumes when a request sets no max_tokens.
    "AI_BUDGET_DEFAULT_MAX_TOKENS": 4096,
    # The Django cache (an alias of CACHES) that counts requests, tokens and spend. Redis makes
    # the limits hold across processes (one Lua script per request before the call, one after);
    # with any other cache they are counted in each process on its own (check ai.W040).
    "AI_LIMITS_CACHE": "default",
    # Provider cooldown (ai.services.cooldown): a route target that a request gave up on with a
    # retryable error AI_COOLDOWN_FAILURES times within AI_COOLDOWN_WINDOW_SECONDS is skipped
    # for AI_COOLDOWN_SECONDS on routes with another target, in every process sharing
    # AI_COOLDOWN_CACHE (an alias of CACHES). AI_COOLDOWN_FAILURES = 0 turns it off.
    "AI_COOLDOWN_FAILURES": 3,
    "AI_COOLDOWN_WINDOW_SECONDS": 60,
    "AI_COOLDOWN_SECONDS": 30,
    "AI_COOLDOWN_CACHE": "default",
    # The "auto" complexity's classifier (ai.services.classifier): a dict of weights and
    # thresholds merged over its DEFAULTS at each call, e.g. {"complex_score": 6}. None: defaults.
    "AI_CLASSIFIER": None,
    # Prometheus metrics (ai.metrics), served at /api/v1/app/ai/metrics to staff users and to
    # "Authorization: Bearer <AI_METRICS_TOKEN>" (None: staff only). False: nothing is counted
    # and the endpoint answers 404.
    "AI_METRICS_ENABLED": True,
    "AI_METRICS_TOKEN": None,
    # Put the prompt into each "ai.requests" log record (ai.request_log; secrets redacted).
    "AI_LOG_PROMPTS": False,
    # Seconds each check of /api/v1/app/ai/health/ready (database, cache) may take.
    "AI_HEALTH_TIMEOUT": 1.0,
    # The exact response cache (ai.services.response_cache): seconds a non-streaming answer is
    # kept for an identical request with temperature 0 (or the header "x-ai-cache: use"); 0: off.
    "AI_CACHE_TTL": 0,
    # False: answers are kept per user; True: shared by every caller allowed the same models.
    "AI_CACHE_SHARED": False,
    # The Django cache (an alias of CACHES) that holds them. Shared (Redis, Memcached) when the
    # gateway runs in more than one process.
    "AI_CACHE_ALIAS": "default",
    # OpenAI-compatible providers (Ollama, vLLM, Groq, Together, Mistral, DeepSeek, OpenRouter,
    # Perplexity...): {name: {"base_url", "api_key", "models", "default_model", "prices",
    # "supports"}}, or AI_PROVIDER_<NAME>_BASE_URL / _API_KEY / _MODELS environment variables
    # (ai.services.compatible). None: none.
    "AI_PROVIDERS": None,
    # The model the SEARCH route asks first when a provider named "perplexity" is declared.
    "AI_SEARCH_MODEL": "sonar",
}

#: Canonical name -> the older Django setting and environment variable it falls back to.
FALLBACKS: dict[str, str] = {
    "AI_OPENAI_API_KEY": "OPENAI_API_KEY",
    "AI_ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY",
    "AI_GOOGLE_API_KEY": "GOOGLE_API_KEY",
    "AI_OPENAI_BASE_URL": "OPENAI_BASE_URL",
    "AI_ANTHROPIC_BASE_URL": "ANTHROPIC_BASE_URL",
    "AI_GOOGLE_GEMINI_BASE_URL": "GOOGLE_GEMINI_BASE_URL",
    "AI_GOOGLE_GEMINI_API_VERSION": "GOOGLE_GEMINI_API_VERSION",
}

#: Older name -> canonical name (``ai_settings.OPENAI_API_KEY`` keeps working).
ALIASES: dict[str, str] = {old: new for new, old in FALLBACKS.items()}

#: The settings that hold a provider's API key (redacted from logs by ``ai.redact``).
API_KEY_NAMES: tuple[str, ...] = ("AI_OPENAI_API_KEY", "AI_ANTHROPIC_API_KEY", "AI_GOOGLE_API_KEY")

_MISSING = object()


def setting_hint(name: str) -> str:
    """How to set ``name`` (either form), in words, for error messages and system checks:
    ``setting_hint("ANTHROPIC_API_KEY")`` is "set AI_ANTHROPIC_API_KEY in your Django settings
    (or the ANTHROPIC_API_KEY environment variable)"."""
    name = ALIASES.get(name, name)
    fallback = FALLBACKS.get(name)
    if fallback is None:
        return f"set {name} in your Django settings"
    return f"set {name} in your Django settings (or the {fallback} environment variable)"


class AISettings:
    """Attribute access to the app's settings, always current.

    A value is remembered until Django says a setting changed (``setting_changed``, which
    ``override_settings`` and pytest-django's ``settings`` fixture send): a setting the host left
    unset costs Django a raised AttributeError on every read, and the request path reads several.
    The provider settings that fall back to the environment are read afresh each time.
    """

    def __getattr__(self, asked: str) -> Any:
        # Called only for a name not yet in the instance's __dict__, where a value is kept.
        name = ALIASES.get(asked, asked)
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown ai setting: {name!r}")
        value = getattr(settings, name, _MISSING)
        if value is not _MISSING:
            if name not in FALLBACKS:
                self.__dict__[asked] = value
            return value
        fallback = FALLBACKS.get(name)
        if fallback is None:
            self.__dict__[asked] = DEFAULTS[name]
            return DEFAULTS[name]
        value = getattr(settings, fallback, _MISSING)
        if value is not _MISSING:
            return value
        return os.environ.get(fallback) or DEFAULTS[name]

    def source(self, name: str) -> str:
        """Where ``name``'s value comes from: ``"AI_X"``, ``"X"`` (a Django setting),
        ``"environment X"`` or ``"default"``. Never the value itself."""
        name = ALIASES.get(name, name)
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown ai setting: {name!r}")
        if hasattr(settings, name):
            return name
        fallback = FALLBACKS.get(name)
        if fallback is not None:
            if hasattr(settings, fallback):
                return fallback
            if os.environ.get(fallback):
                return f"environment {fallback}"
        return "default"


ai_settings = AISettings()


def _forget(**_: Any) -> None:
    ai_settings.__dict__.clear()


setting_changed.connect(_forget, dispatch_uid="ai.conf.settings_changed")


def gc_thresholds() -> tuple[int, ...] | None:
    """``AI_GC_THRESHOLDS`` as ``gc.set_threshold`` takes it, or None (unset or invalid: the
    system check ``ai.E003`` reports an invalid value)."""
    value = ai_settings.AI_GC_THRESHOLDS
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        thresholds = tuple(value)
    except TypeError:
        return None
    valid = 1 <= len(thresholds) <= 3 and all(type(t) is int and t >= 0 for t in thresholds)
    return thresholds if valid else None
