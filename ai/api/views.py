"""Placeholder: replaced by the API implementation."""

from django.views import View


class StatusView(View):
    pass


class CompletionsView(View):
    pass


class ChatView(View):
    pass


class RoutedChatView(View):
    pass
