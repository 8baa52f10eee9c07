"""An async DRF ``APIView`` that stays on the event loop.

adrf's ``APIView`` runs DRF's sync ``initial()`` through ``sync_to_async``: a thread hop on
every request. :class:`AsyncAPIView` does the same steps itself, in the loop: wrap the request,
negotiate content, authenticate (awaiting ``aauthenticate`` where an authenticator has one),
check permissions and throttles, await the handler, turn any exception into the gateway's JSON
error (``ai.api.errors``), and add ``X-Request-ID`` to every response.

Under a WSGI server the whole dispatch runs on one background event loop per process
(``ai.api.wsgi``), so that a stream outlives the request's own short-lived loop.

Handlers return Django ``HttpResponse`` objects (see :func:`json_response`); a DRF ``Response``
also works but is rendered by Django in a worker thread.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import orjson
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ai import deferred
from ai.api import wsgi
from ai.api.authentication import GatewayJWTAuthentication
from ai.api.errors import JSON, InvalidRequest, error_response, gateway_payload
from ai.api.key_auth import ApiKeyAuthentication
from ai.api.parsers import ORJSONParser, body_limit, too_large
from ai.api.renderers import EventStreamRenderer, ORJSONRenderer
from ai.api.schema import GatewayAutoSchema
from ai.ids import new_request_id
from ai.keys import KeyInfo, bind

REQUEST_ID_HEADER = "X-Request-ID"
_JSON_PARSER = ORJSONParser()


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(orjson.dumps(data), status=status, content_type=JSON)
    if headers:
        for name, value in headers.items():
            response[name] = value
    return response


def _per_class(cls: type, name: str, build: Any) -> Any:
    value = cls.__dict__.get(name)
    if value is None:
        value = build()
        setattr(cls, name, value)
    return value


class FastContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, skipped for the common ``Accept`` values (none, ``*/*``, JSON), and
    run once per distinct ``Accept`` value and renderer list for the others (a stream's
    ``text/event-stream``, a browser's long list): DRF parses and orders the header on every
    request, ~50 µs of a streamed request here. The outcome depends only on those two when no
    format is asked for (no suffix, no query string), so it is remembered, at most
    :attr:`MEMO_SIZE` of them per process; refusals (406) are not remembered."""

    MEMO_SIZE: ClassVar[int] = 256
    #: (Accept value, renderer classes) -> (index of the chosen renderer, accepted media type).
    _memo: ClassVar[dict[tuple[str, tuple[type, ...]], tuple[int, str]]] = {}

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None):  # type: ignore[override]
        meta = request.META
        accept = meta.get("HTTP_ACCEPT")
        if not accept or accept in ("*/*", "application/json"):
            return renderers[0], renderers[0].media_type
        if format_suffix or meta.get("QUERY_STRING"):  # ?format= may choose: DRF decides
            return super().select_renderer(request, renderers, format_suffix)
        key = (accept, tuple(type(renderer) for renderer in renderers))
        known = self._memo.get(key)
        if known is not None:
            return renderers[known[0]], known[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        memo = self._memo
        if len(memo) < self.MEMO_SIZE:
            memo[key] = (renderers.index(renderer), media_type)
        return renderer, media_type


class AsyncAPIView(APIView):
    """Base of the gateway's views: async handlers (``async def get/post``), a gateway API key
    or a JWT required."""

    #: Marks the app's own API views: ``ai.asgi`` serves these on the fast path when the host
    #: sets ``AI_API_MIDDLEWARE``, decided from the resolved URL.
    ai_gateway_view: ClassVar[bool] = True
    view_is_async = True
    # The app's own schema class, whatever the host's REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"].
    schema = GatewayAutoSchema()
    renderer_classes: ClassVar[list] = [ORJSONRenderer, EventStreamRenderer]
    parser_classes: ClassVar[list] = [ORJSONParser]
    # The key first: it takes only ``Bearer aig_...`` and the x-api-key headers, and leaves any
    # other bearer value to the JWT authentication.
    authentication_classes: ClassVar[list] = [ApiKeyAuthentication, GatewayJWTAuthentication]
    permission_classes: ClassVar[list] = [IsAuthenticated]
    # DRF's throttles are sync and hit the cache on every request; rate limits belong in front.
    throttle_classes: ClassVar[list] = []
    content_negotiation_class = FastContentNegotiation

    #: uuid4 hex, set per request; also the usage record's request id.
    request_id: str
    #: Whether the handler calls upstreams only through the gateway's admission, which checks
    #: a revocation marker the authentication deferred (``ai.deferred``): saves a Redis
    #: round trip. Only for handlers that change nothing before admission.
    defers_confirmation: ClassVar[bool] = False

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if not isinstance(request, ASGIRequest) and not wsgi.on_background_loop():
            return await wsgi.run(self._dispatch(request, *args, **kwargs))
        return await self._dispatch(request, *args, **kwargs)

    async def _dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args = args
        self.kwargs = kwargs
        self.request_id = new_request_id()
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        deferred.allow(self.defers_confirmation)
        try:
            response = await self._respond(drf_request, *args, **kwargs)
        except deferred.StaleCredentials:
            # A deferred marker changed before anything left the gateway: authenticate again
            # (from the database this time) and serve the request anew.
            deferred.allow(False)
            response = await self._respond(drf_request, *args, **kwargs)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        self.response[REQUEST_ID_HEADER] = self.request_id
        # DRF's Request keeps itself and the view in parser_context (and the view keeps the
        # Request): a reference cycle per request that only a full collection frees. Parsers
        # are its only readers, and the body has been parsed (or never will be) by now.
        context = drf_request.parser_context
        if context:
            context.pop("request", None)
            context.pop("view", None)
        return self.response

    async def _respond(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            await self.ainitial(request, *args, **kwargs)
            method = request.method.lower()
            if method in self.http_method_names:
                handler = getattr(self, method, self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            response = handler(request, *args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except deferred.StaleCredentials:
            raise
        except Exception as exc:
            response = self.handle_exception(exc)
        await deferred.confirm()  # a marker still deferred (an error before admission)
        return response

    async def ainitial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's ``initial()``, with authentication awaited."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        request.version, request.versioning_scheme = self.determine_version(
            request, *args, **kwargs
        )
        await self.aperform_authentication(request)
        self.check_permissions(request)
        self.check_throttles(request)

    async def aperform_authentication(self, request: Request) -> None:
        bind(None)  # the request's API key (ai.keys.current_key) until one authenticates
        for authenticator in request.authenticators:
            try:
                if hasattr(authenticator, "aauthenticate"):
                    result = await authenticator.aauthenticate(request)
                else:  # a host's sync authenticator may touch the database: off the loop
                    result = await sync_to_async(authenticator.authenticate)(request)
            except exceptions.APIException:
                request._not_authenticated()
                raise
            if result is not None:
                request._authenticator = authenticator
                request.user, request.auth = result
                if isinstance(request.auth, KeyInfo):
                    bind(request.auth)
                return
        request._not_authenticated()

    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            auth_header = self.get_authenticate_header(self.request)
            if auth_header:
                exc.auth_header = auth_header  # type: ignore[attr-defined]
            else:
                exc.status_code = 403
        response = error_response(exc, getattr(self, "request_id", None), self.error_payload)
        response.exception = True  # type: ignore[attr-defined]
        return response

    def error_payload(
        self, status: int, error: dict[str, Any], exc: BaseException
    ) -> dict[str, Any]:
        """The JSON body of an error answer, from the gateway's error dict (``code``,
        ``message``, ``request_id``, ...): a view that speaks a vendor's API answers in its
        shape by overriding this."""
        return gateway_payload(status, error, exc)

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if isinstance(response, Response):
            return super().finalize_response(request, response, *args, **kwargs)
        for name, value in self.headers.items():
            response[name] = value
        return response

    def get_authenticators(self) -> list:
        # Authenticators and parsers hold no per-request state: built once per class, not on
        # every request (simplejwt's authenticator looks the user model up in __init__).
        return _per_class(type(self), "_authenticators", super().get_authenticators)

    def get_parsers(self) -> list:
        return _per_class(type(self), "_parsers", super().get_parsers)

    @property
    def default_response_headers(self) -> dict[str, str]:
        # Computed once per class: DRF rebuilds it on every request.
        def build() -> dict[str, str]:
            headers = {"Allow": ", ".join(self.allowed_methods)}
            if len(self.renderer_classes) > 1:
                headers["Vary"] = "Accept"
            return headers

        return dict(_per_class(type(self), "_default_headers", build))

    # --- helpers for handlers -------------------------------------------------------------

    def json_body(self, request: Request) -> dict[str, Any]:
        """The parsed JSON object body. 413 when ``Content-Length`` (checked before reading)
        or the body itself exceeds ``AI_MAX_BODY_BYTES``; 415 for a non-JSON content type;
        400 for malformed JSON or a body that is not an object. Parsed once per request (a
        request served anew, see :meth:`_dispatch`, reads it again from here)."""
        parsed = request.__dict__.get("_ai_json_body")
        if parsed is not None:
            return parsed
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > body_limit():
            raise too_large()
        if request._request.content_type == "application/json":
            # The usual case, parsed by the same parser without DRF's media-type negotiation
            # (~25 µs); anything else goes through request.data (its 415, its charset rules).
            data = _JSON_PARSER.parse(request._request)
        else:
            data = request.data
        if not isinstance(data, dict):
            raise InvalidRequest({"body": ["Expected a JSON object."]})
        request.__dict__["_ai_json_body"] = data
        return data
