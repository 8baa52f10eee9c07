from django.apps import AppConfig


class AIConfig(AppConfig):
    name = "ai"
    verbose_name = "AI gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ai import (
            checks,  # noqa: F401  (registers system checks)
            routing,
        )
        from ai.api import revocation  # noqa: F401  (user changes revoke, in every process)
        from ai.redact import protect_app_loggers
        from ai.services import factory  # noqa: F401  (connects setting_changed)
        from ai.usage import pricing

        pricing.connect_signals()
        routing.connect_signals()
        protect_app_loggers()
