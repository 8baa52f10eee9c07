"""The app's API. Include it at the root of a project, ``path("", include("ai.urls"))``, or
under a prefix, ``path("llm/", include("ai.urls"))`` (then every path below starts with
``/llm/``). The schema and docs page are separate and optional: ``ai.docs_urls``."""

from django.urls import path

from ai.api import (
    anthropic_compat,
    embeddings,
    health,
    keys,
    metrics,
    openai_compat,
    responses_compat,
    usage,
    views,
)
from ai.api.auth_views import TokenObtainPairView, TokenRefreshView

app_name = "ai"

urlpatterns = [
    path("api/v1/auth/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/v1/auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/v1/app/ai/status", views.StatusView.as_view(), name="status"),
    path("api/v1/app/ai/metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("api/v1/app/ai/health/live", health.LiveView.as_view(), name="health_live"),
    path("api/v1/app/ai/health/ready", health.ReadyView.as_view(), name="health_ready"),
    path("api/v1/app/ai/completions", views.CompletionsView.as_view(), name="completions"),
    path("api/v1/app/ai/chat", views.ChatView.as_view(), name="chat"),
    path("api/v1/app/ai/chat/routed", views.RoutedChatView.as_view(), name="chat_routed"),
    path("api/v1/app/ai/embeddings", embeddings.EmbeddingsView.as_view(), name="embeddings"),
    path("api/v1/app/ai/usage", usage.UsageView.as_view(), name="usage"),
    path("api/v1/app/ai/keys", keys.KeysView.as_view(), name="keys"),
    path("api/v1/app/ai/keys/<str:prefix>", keys.KeyView.as_view(), name="key"),
    path("api/v1/app/ai/keys/<str:prefix>/revoke", keys.KeyRevokeView.as_view(), name="key_revoke"),
    path(
        "api/v1/openai/chat/completions",
        openai_compat.OpenAIChatCompletionsView.as_view(),
        name="openai_chat_completions",
    ),
    path(
        "api/v1/openai/embeddings",
        embeddings.OpenAIEmbeddingsView.as_view(),
        name="openai_embeddings",
    ),
    path("api/v1/openai/models", openai_compat.OpenAIModelsView.as_view(), name="openai_models"),
    path(
        "api/v1/openai/responses",
        responses_compat.ResponsesView.as_view(),
        name="openai_responses",
    ),
    path(
        "api/v1/anthropic/v1/messages",
        anthropic_compat.AnthropicMessagesView.as_view(),
        name="anthropic_messages",
    ),
    path(
        "api/v1/anthropic/v1/messages/count_tokens",
        anthropic_compat.AnthropicCountTokensView.as_view(),
        name="anthropic_count_tokens",
    ),
]
