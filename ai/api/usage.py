"""Placeholder: replaced by the usage API implementation."""

from django.views import View


class UsageView(View):
    pass
