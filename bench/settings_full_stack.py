"""gateway_project's settings without AI_API_MIDDLEWARE: every request, the gateway's included,
through the project's whole MIDDLEWARE (``python -m bench.inprocess --settings
bench.settings_full_stack``). What a host that does not opt in gets."""

from gateway_project.settings import *  # noqa: F403

del AI_API_MIDDLEWARE  # noqa: F821
