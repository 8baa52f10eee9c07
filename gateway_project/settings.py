"""The example host project. The only place that reads the environment (django-environ).

Every variable is optional: with none set it runs on SQLite, the local-memory cache and the
offline provider. See README.md for the table of variables.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# No fixed default: `bash run.sh` writes a random one into .env on first start.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set SECRET_KEY in the environment or .env (run.sh writes one).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for the API docs page (offline)
    "ai",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The gateway's own views skip the browser-only middleware above (sessions, CSRF, login,
# messages: its API is token-authenticated JSON) and keep every middleware that changes responses.
# ai.asgi serves them with this list; `manage.py check` names any MIDDLEWARE entry missing here
# that is not browser-only (ai.W010). Remove the setting to send them through MIDDLEWARE.
AI_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway_project.urls"
ASGI_APPLICATION = "gateway_project.asgi.application"
WSGI_APPLICATION = "gateway_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

if env.str("REDIS_URL", default=""):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("REDIS_URL"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AI gateway",
    "DESCRIPTION": "OpenAI, Anthropic and Google Gemini behind one authenticated API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- AI gateway -------------------------------------------------------------------------------


def _either(name: str) -> str | None:
    """``AI_<name>`` or the vendor's own ``<name>`` from the environment / .env."""
    return env.str(f"AI_{name}", default="") or env.str(name, default="") or None


AI_OPENAI_API_KEY = _either("OPENAI_API_KEY")
AI_ANTHROPIC_API_KEY = _either("ANTHROPIC_API_KEY")
AI_GOOGLE_API_KEY = _either("GOOGLE_API_KEY")
AI_OPENAI_BASE_URL = _either("OPENAI_BASE_URL")
AI_ANTHROPIC_BASE_URL = _either("ANTHROPIC_BASE_URL")
AI_GOOGLE_GEMINI_BASE_URL = _either("GOOGLE_GEMINI_BASE_URL")
AI_GOOGLE_GEMINI_API_VERSION = _either("GOOGLE_GEMINI_API_VERSION") or "v1beta"

_any_key = bool(AI_OPENAI_API_KEY or AI_ANTHROPIC_API_KEY or AI_GOOGLE_API_KEY)
_first_configured = next(
    (
        name
        for name, key in (
            ("openai", AI_OPENAI_API_KEY),
            ("anthropic", AI_ANTHROPIC_API_KEY),
            ("gemini", AI_GOOGLE_API_KEY),
        )
        if key
    ),
    "offline",
)
# With no key at all the gateway still runs, answered by the offline provider.
AI_OFFLINE_ENABLED = env.bool("AI_OFFLINE_ENABLED", default=not _any_key)
AI_DEFAULT_PROVIDER = env.str("AI_DEFAULT_PROVIDER", default=_first_configured)
AI_DEFAULT_MODEL = env.str(
    "AI_DEFAULT_MODEL",
    default={
        "openai": "gpt-4o",
        "anthropic": "claude-sonnet-4-5-20250929",
        "gemini": "gemini-2.5-flash",
    }.get(AI_DEFAULT_PROVIDER, "offline-echo"),
)
AI_OFFLINE_DELAY_MS = env.int("AI_OFFLINE_DELAY_MS", default=0)
AI_REQUEST_TIMEOUT = env.float("AI_REQUEST_TIMEOUT", default=60.0)
AI_CONNECT_TIMEOUT = env.float("AI_CONNECT_TIMEOUT", default=10.0)
AI_FIRST_BYTE_TIMEOUT = env.float("AI_FIRST_BYTE_TIMEOUT", default=None)
AI_IDLE_TIMEOUT = env.float("AI_IDLE_TIMEOUT", default=None)
AI_SSE_KEEPALIVE_SECONDS = env.float("AI_SSE_KEEPALIVE_SECONDS", default=15.0)
AI_LOG_PROMPTS = env.bool("AI_LOG_PROMPTS", default=False)
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", default=2)
AI_RETRY_BACKOFF_MS = env.int("AI_RETRY_BACKOFF_MS", default=250)
AI_RETRY_MAX_WAIT_S = env.float("AI_RETRY_MAX_WAIT_S", default=10.0)
AI_FALLBACKS_ENABLED = env.bool("AI_FALLBACKS_ENABLED", default=True)
AI_DROP_PARAMS = env.bool("AI_DROP_PARAMS", default=False)
AI_MAX_TOKENS_LIMIT = env.int("AI_MAX_TOKENS_LIMIT", default=32768)
AI_MAX_MESSAGES = env.int("AI_MAX_MESSAGES", default=500)
AI_MAX_BODY_BYTES = env.int("AI_MAX_BODY_BYTES", default=1_048_576)
AI_HTTP_TRANSPORT = env.str("AI_HTTP_TRANSPORT", default="aiohttp")
AI_HTTP_MAX_CONNECTIONS = env.int("AI_HTTP_MAX_CONNECTIONS", default=10_000)
AI_USAGE_ENABLED = env.bool("AI_USAGE_ENABLED", default=True)
AI_USAGE_FLUSH_INTERVAL_MS = env.int("AI_USAGE_FLUSH_INTERVAL_MS", default=1000)
AI_USAGE_BATCH_SIZE = env.int("AI_USAGE_BATCH_SIZE", default=500)
AI_ROUTES_CACHE_SECONDS = env.float("AI_ROUTES_CACHE_SECONDS", default=5.0)
# This project is its own host, so it asks the app to freeze the heap at ASGI startup (the app's
# default is off: a host's garbage collector is the host's). Measured: without it, full
# collections walk Django's and the SDKs' ~330k long-lived objects several times per 10,000
# requests; see README, Performance.
AI_GC_FREEZE = env.bool("AI_GC_FREEZE", default=True)
# And it sets the collector's thresholds (the app's default leaves them alone): generation 0
# every 10,000 net allocations instead of 700, a full collection considered after 50 of
# generation 1 instead of 10. Held streams keep their objects alive for seconds; with Python's
# defaults, full collections walk all of them every few seconds (README, Performance).
# AI_GC_THRESHOLDS=off keeps Python's.
_gc_thresholds = env.str("AI_GC_THRESHOLDS", default="10000,10,50").strip()
try:
    AI_GC_THRESHOLDS = (
        None
        if _gc_thresholds.lower() in ("", "off", "none")
        else [int(t) for t in _gc_thresholds.split(",")]
    )
except ValueError:  # left as given: `check` reports it (ai.E003)
    AI_GC_THRESHOLDS = _gc_thresholds
# A held stream's uvicorn and aiohttp connections keep small lists instead of six empty deques
# (4.6 KB less per open stream; see README, Performance). This project is its own host.
AI_SMALL_DEQUES = env.bool("AI_SMALL_DEQUES", default=True)
# Prometheus may scrape /api/v1/app/ai/metrics with this bearer token (staff users always can).
AI_METRICS_TOKEN = env.str("AI_METRICS_TOKEN", default="") or None
DATA_UPLOAD_MAX_MEMORY_SIZE = AI_MAX_BODY_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "ai": {"handlers": ["console"], "level": env.str("AI_LOG_LEVEL", default="INFO")},
    },
}
