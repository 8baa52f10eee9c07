"""The API's request and response shapes, as DRF serializers for the OpenAPI schema.

Requests are validated by ``ai.api.validation`` (the same rules, without a serializer's cost on
every request); ``tests/api/test_schema.py`` checks that the fields here and there agree.
"""

from __future__ import annotations

from rest_framework import serializers

from ai.api.validation import COMPLEXITIES, MAX_MODEL_LENGTH, ROLES
from ai.services.factory import provider_names


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.CharField(help_text="Must not be blank.")


class _LLMOptions(serializers.Serializer):
    provider = serializers.ChoiceField(
        choices=provider_names(),
        required=False,
        allow_null=True,
        help_text="Use this provider (it must be configured on the gateway).",
    )
    model = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=MAX_MODEL_LENGTH,
        help_text="Use this model. Alone, it picks the provider its name belongs to.",
    )
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    max_tokens = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="At most the gateway's AI_MAX_TOKENS_LIMIT (32768 by default).",
    )
    stream = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=False,
        help_text="Answer as server-sent events (text/event-stream).",
    )


class CompletionsRequestSerializer(_LLMOptions):
    messages = MessageSerializer(
        many=True,
        help_text="The conversation, oldest first: at least one user message, "
        "at most AI_MAX_MESSAGES (500 by default).",
    )


class ChatRequestSerializer(_LLMOptions):
    prompt = serializers.CharField(help_text="The user's message. Must not be blank.")
    system = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class RoutedChatRequestSerializer(ChatRequestSerializer):
    complexity = serializers.ChoiceField(
        choices=COMPLEXITIES,
        required=False,
        allow_null=True,
        default="moderate",
        help_text="Picks the route (provider and model, with fallbacks).",
    )


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField(help_text="Part of prompt_tokens.")
    reasoning_tokens = serializers.IntegerField(help_text="Part of completion_tokens.")
    source = serializers.ChoiceField(
        choices=["reported", "estimated"],
        help_text="'estimated' when the upstream never reported its counts.",
    )


class CompletionResponseSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The request id (also in the X-Request-ID header).")
    content = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    finish_reason = serializers.CharField(help_text="stop, length, tool_calls, content_filter")
    usage = UsageSerializer()
    latency_ms = serializers.FloatField(help_text="Time spent in the upstream call.")
    cost = serializers.DecimalField(
        max_digits=20,
        decimal_places=10,
        coerce_to_string=True,
        allow_null=True,
        help_text="USD, as a decimal string; null when no price is known.",
    )


class RoutedCompletionResponseSerializer(CompletionResponseSerializer):
    complexity = serializers.ChoiceField(choices=COMPLEXITIES)


class RouteTargetSerializer(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    configured = serializers.BooleanField()


class StatusSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="Whether any provider can answer.")
    providers = serializers.ListField(child=serializers.CharField())
    default_provider = serializers.CharField()
    default_model = serializers.CharField()
    offline = serializers.BooleanField(
        help_text="True when answers come from the offline provider (no real model)."
    )
    mode = serializers.ChoiceField(choices=["live", "offline"])
    notice = serializers.CharField(allow_null=True)
    routes = serializers.DictField(
        child=serializers.ListField(child=RouteTargetSerializer()),
        help_text="Complexity -> its targets, tried in order.",
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors: field path (e.g. messages[1].role) -> messages.",
    )
    request_id = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
