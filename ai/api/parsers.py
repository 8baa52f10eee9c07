"""Request body parsing: JSON through orjson, with the body size bounded before parsing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from ai.api.errors import RequestTooLarge
from ai.conf import ai_settings


def body_limit() -> int:
    return int(ai_settings.AI_MAX_BODY_BYTES)


def too_large() -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than {body_limit()} bytes.")


class ORJSONParser(BaseParser):
    """``application/json`` parsed with orjson. Reads at most ``AI_MAX_BODY_BYTES`` + 1 bytes,
    so a body that lied about its length (or sent none) is still bounded."""

    media_type = "application/json"

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = body_limit()
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise too_large()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            # orjson's message names the position, never echoes the body.
            raise ParseError(f"Malformed JSON: {err}") from err
