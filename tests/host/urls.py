from django.urls import include, path

from tests.host.app import whoami

urlpatterns = [
    path("api/v1/auth/whoami/", whoami),
    path("", include("ai.urls")),
    path("llm/", include("ai.urls", namespace="llm")),
    path("api/", include("ai.docs_urls")),
]
