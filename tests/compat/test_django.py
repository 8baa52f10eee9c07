"""ai._compat.django: the Django internals the lean handler relies on are the ones it was
written against. A failure here means a Django release changed one of them: the gateway still
works (on the public fallback, see the module), but ai/_compat/django.py needs updating."""

from __future__ import annotations

import django

from ai._compat import django as compat


def test_signal_live_receivers_is_as_expected():
    assert compat.LIVE_RECEIVERS_OK, (
        f"Django {django.get_version()}: Signal._live_receivers changed; "
        "ai.asgi.send_signal now uses Signal.asend"
    )


def test_asgi_handler_handle_is_the_copied_release():
    assert compat.HANDLE_OK, (
        f"Django {django.get_version()}: ASGIHandler.handle differs from the copy in "
        "ai/_compat/django.py (Django 5.2); compare, update the copy and HANDLE_SHA256"
    )


def test_response_close_is_the_copied_release():
    assert compat.CLOSE_OK, (
        f"Django {django.get_version()}: HttpResponseBase.close (or _resource_closers / "
        "_handler_class) changed; update close_response and CLOSE_SHA256"
    )


def test_asgi_handler_send_response_is_the_copied_release():
    assert compat.SEND_RESPONSE_OK, (
        f"Django {django.get_version()}: ASGIHandler.send_response differs from the copy in "
        "ai/_compat/django.py (Django 5.2); compare, update send_response and "
        "SEND_RESPONSE_SHA256"
    )
