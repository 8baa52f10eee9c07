"""Response renderers: JSON through orjson, and text/event-stream for content negotiation.

The gateway's views build their responses directly (``ai.api.base.json_response`` and
``ai.api.sse.SSEResponse``), skipping DRF's deferred rendering, which Django would run in a
worker thread. These renderers exist so DRF's negotiation accepts what the views produce: without
:class:`EventStreamRenderer` a client sending ``Accept: text/event-stream`` would get a 406
before the view runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data)


class EventStreamRenderer(BaseRenderer):
    """Server-sent events. Streams are written by ``ai.api.sse``; anything DRF itself renders
    for a client that negotiated this type (errors, OPTIONS) is rendered as JSON."""

    media_type = "text/event-stream"
    format = "sse"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return b"" if data is None else orjson.dumps(data)
