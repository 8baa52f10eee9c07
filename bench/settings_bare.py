"""gateway_project's settings with ``AI_API_MIDDLEWARE = []``: the fast path with no middleware
at all, the floor the example project's list is compared with (``python -m bench.inprocess
--settings bench.settings_bare``)."""

from gateway_project.settings import *  # noqa: F403

AI_API_MIDDLEWARE: list[str] = []
