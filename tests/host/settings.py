"""The host project's settings: the test suite's basics plus what a real host adds."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "tests.host.urls"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tests.host.app.HostHeaderMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# As the README's install steps leave it: no DEFAULT_SCHEMA_CLASS.
REST_FRAMEWORK: dict = {}
ASGI_APPLICATION = "tests.host.asgi.application"
