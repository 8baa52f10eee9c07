"""The host's asgi.py, as the README's install section writes it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.host.settings")
django_app = get_asgi_application()

from ai.asgi import gateway_application  # noqa: E402  (after Django is set up)

application = gateway_application(django_app, preload=False)
