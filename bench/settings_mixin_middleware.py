"""gateway_project's settings with its AI_API_MIDDLEWARE run as Django runs any
``MiddlewareMixin`` middleware (each hook through ``sync_to_async``), not in the loop
(``ai.middleware.ON_LOOP``): what running the pure middlewares in the loop saves."""

from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware

from gateway_project.settings import *  # noqa: F403


class Security(SecurityMiddleware):
    """Not in ON_LOOP (another path): run as Django runs it."""


class Common(CommonMiddleware):
    pass


class XFrameOptions(XFrameOptionsMiddleware):
    pass


AI_API_MIDDLEWARE = [f"{__name__}.{name}" for name in ("Security", "Common", "XFrameOptions")]
