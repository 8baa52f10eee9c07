"""A minimal standalone host for the test suite: proves the app installs into any project.

SQLite and the local-memory cache by default; PostgreSQL and Redis when DATABASE_URL / REDIS_URL
are set (CI runs both).
"""

import os

import environ

SECRET_KEY = "tests-only-not-secret-0123456789abcdef-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"

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
    "drf_spectacular_sidecar",
    "ai",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": environ.Env.db_url_config(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "ai-tests",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Provider keys come from the tests' settings only, never the developer's environment (the
# environment variables are the app's defaults for unset settings).
OPENAI_API_KEY = ANTHROPIC_API_KEY = GOOGLE_API_KEY = None
OPENAI_BASE_URL = ANTHROPIC_BASE_URL = GOOGLE_GEMINI_BASE_URL = None
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

# Providers point at the fake upstream (tests/fake_upstream) through fixtures; by default only the
# offline provider is on, so no test reaches a network by accident.
AI_OFFLINE_ENABLED = True
AI_DEFAULT_PROVIDER = "offline"
AI_DEFAULT_MODEL = "offline-echo"
AI_RETRY_BACKOFF_MS = 1

# The test process is long-lived and builds and drops many objects: never freeze it (ai.asgi
# startup); tests/api/test_lean_handler.py turns it on for one test.
AI_GC_FREEZE = False
