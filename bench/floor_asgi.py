"""ASGI entry point of the Django floor app (see bench/django_floor.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.django_floor")
application = get_asgi_application()
