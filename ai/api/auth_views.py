"""The token endpoints (simplejwt's serializers) as async views.

simplejwt's own views are sync: under ASGI Django would run the whole view in a worker thread.
Here only the part that must block (the password hash and the user lookup) leaves the loop,
through :func:`ai.db.run_db` like all the app's database work, and errors come back in the
gateway's JSON error format like every other endpoint.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)

from ai.api.base import AsyncAPIView, json_response
from ai.api.schema import extend_schema
from ai.db import run_db


class _AsyncTokenView(AsyncAPIView):
    authentication_classes: ClassVar[list] = []
    permission_classes: ClassVar[list] = [AllowAny]
    serializer_class: ClassVar[type]

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials are a 401 (with a challenge), as in simplejwt's own views.
        return 'Bearer realm="api"'

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("context", {"request": getattr(self, "request", None)})
        return self.serializer_class(*args, **kwargs)

    async def post(self, request: Request) -> Any:
        serializer = self.get_serializer(data=self.json_body(request))

        def validate() -> dict:
            try:
                serializer.is_valid(raise_exception=True)
            except TokenError as err:
                raise InvalidToken(err.args[0]) from err
            return serializer.validated_data

        return json_response(await run_db(validate))


@extend_schema(tags=["auth"], summary="Exchange a username and password for JWT tokens")
class TokenObtainPairView(_AsyncTokenView):
    serializer_class = TokenObtainPairSerializer


@extend_schema(tags=["auth"], summary="Exchange a refresh token for a new access token")
class TokenRefreshView(_AsyncTokenView):
    serializer_class = TokenRefreshSerializer
