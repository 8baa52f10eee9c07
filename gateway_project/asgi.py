"""ASGI entry point: ``uvicorn gateway_project.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
django_application = get_asgi_application()

if os.environ.get("SERVE_STATIC", "true").lower() in ("1", "true", "yes"):
    # The example host serves the admin's static files itself, so `run.sh` needs no web server in
    # front. Only paths under STATIC_URL take this detour; put a CDN/nginx in front in production.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_application = ASGIStaticFilesHandler(django_application)

from ai.asgi import gateway_application  # noqa: E402  (after Django is set up)

# The ASGI lifespan, and (settings.AI_API_MIDDLEWARE) the gateway's views on the fast path.
application = gateway_application(django_application)
