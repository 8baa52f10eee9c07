"""Embeddings: ``POST /api/v1/app/ai/embeddings`` (the gateway's own shape) and
``POST /api/v1/openai/embeddings`` (OpenAI's, for ``client.embeddings.create``).

Both validate their body here, then go through :func:`ai.services.embeddings.embed`: the same
authentication, API-key model rules, rate limits, budgets and ledger as chat (endpoints
``embeddings`` and ``openai_embeddings``). The OpenAI route answers errors in OpenAI's shape
and encodes vectors as base64 when asked (what the SDK asks by default, and decodes): the
little-endian float32 bytes of each vector.
"""

from __future__ import annotations

import base64
import sys
import time
from array import array
from typing import Annotated, Any, Literal

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from rest_framework.request import Request

from ai import governance
from ai.api.base import AsyncAPIView, json_response
from ai.api.bodies import MODEL_MESSAGES, ModelId, ModelName, Provider, UsageBody
from ai.api.openai_compat import OpenAIView
from ai.api.openai_format import names_a_model
from ai.api.schema import extend_schema
from ai.api.validation import RequestBody, Says, fail, validate
from ai.api.views import ERRORS, REQUEST_ID
from ai.providers.base import EmbeddingResponse
from ai.services import embeddings, gateway
from ai.services.embeddings import EmbeddingCall

#: The most texts one request may carry (OpenAI's own limit per request).
MAX_INPUTS = 2048
#: The largest ``dimensions`` accepted (the largest models give 3072; the upstream refuses
#: what its model cannot do).
MAX_DIMENSIONS = 16384


def _texts(value: Any) -> Any:
    """Refuse token arrays (``[1, 2]``, ``[[1, 2]]``) by name: the gateway sends text, and
    tokens of one vendor's tokenizer mean nothing to another's."""
    tokens = (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int | list) and not isinstance(v, bool) for v in value)
    )
    if tokens:
        raise fail(
            "token_input",
            "Token arrays are not supported: send the text, as a string or an array of strings.",
        )
    return value


def _non_empty(value: str | list[str]) -> str | list[str]:
    texts = [value] if isinstance(value, str) else value
    if not texts:
        raise fail("empty_input", "Must contain at least one string.")
    if len(texts) > MAX_INPUTS:
        raise fail("too_many_inputs", "Must contain at most {limit} strings.", limit=MAX_INPUTS)
    for index, text in enumerate(texts):
        if not text:
            where = "" if isinstance(value, str) else f" (item {index})"
            raise fail("empty_text", "Must not be an empty string{where}.", where=where)
    return value


Input = Annotated[
    str | list[str],
    BeforeValidator(_texts),
    AfterValidator(_non_empty),
    Field(description=f"A text, or an array of at most {MAX_INPUTS} texts (none empty)."),
    Says("Must be a string or an array of strings.", item="Must be a string."),
]
Dimensions = Annotated[
    Annotated[int, Field(ge=1, le=MAX_DIMENSIONS)] | None,
    Says(f"Must be an integer between 1 and {MAX_DIMENSIONS}."),
    Field(
        description="The size of the vectors, for models that can shorten them "
        "(`text-embedding-3-*`, `gemini-embedding-001`); the model's own size when absent."
    ),
]


class EmbeddingsRequest(RequestBody):
    """The gateway's embeddings body. Without `model`, the default provider's embedding model
    (or the first configured provider with embeddings)."""

    input: Input
    provider: Provider = None
    model: ModelName = None
    dimensions: Dimensions = None

    def to_call(self) -> EmbeddingCall:
        return EmbeddingCall(_tuple(self.input), self.provider, self.model, self.dimensions)


class OpenAIEmbeddingsRequest(RequestBody):
    """OpenAI's embeddings body (``client.embeddings.create``). ``user`` is accepted and not
    sent on."""

    input: Input
    model: Annotated[
        ModelId,
        AfterValidator(names_a_model),
        MODEL_MESSAGES,
        Field(description="An embedding model (`text-embedding-3-small`, "
              "`gemini-embedding-001`...) or `provider/model`."),
    ]  # fmt: skip
    dimensions: Dimensions = None
    encoding_format: Annotated[
        Literal["float", "base64"] | None,
        Says("Must be 'float' or 'base64'."),
        Field(description="`float` (the default) or `base64`: each vector's little-endian "
              "float32 bytes."),
    ] = None  # fmt: skip
    user: str | None = None

    def to_call(self) -> EmbeddingCall:
        return EmbeddingCall(_tuple(self.input), None, self.model, self.dimensions)


def _tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# --- answers ----------------------------------------------------------------------------------


class EmbeddingItem(BaseModel):
    index: int
    embedding: list[float]


class EmbeddingsResponse(BaseModel):
    id: str = Field(description="The request id (also in the X-Request-ID header).")
    model: str = Field(description="The model that answered (`offline-embed` for the offline "
                       "provider, whatever was asked for).")  # fmt: skip
    provider: str
    data: list[EmbeddingItem] = Field(description="One vector per input, in input order.")
    usage: UsageBody
    latency_ms: float = Field(description="Time spent in the upstream call.")
    cost: str | None = Field(
        description="USD, as a decimal string; null when no price is known.",
        json_schema_extra={"format": "decimal"},
    )


def native_body(response: EmbeddingResponse, outcome: gateway.Outcome) -> dict[str, Any]:
    return {
        "id": outcome.request_id,
        "model": response.model,
        "provider": response.provider,
        "data": [{"index": i, "embedding": v} for i, v in enumerate(response.vectors)],
        "usage": response.usage.as_dict(),
        "latency_ms": round(response.latency_ms, 2),
        "cost": gateway.money(outcome.cost),
    }


def as_base64(vector: list[float]) -> str:
    """A vector as OpenAI's ``base64`` encoding writes it: little-endian float32 bytes."""
    floats = array("f", vector)
    if sys.byteorder != "little":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


def openai_body(response: EmbeddingResponse, encoding: str | None) -> dict[str, Any]:
    encode = as_base64 if encoding == "base64" else None
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(v) if encode else v}
            for i, v in enumerate(response.vectors)
        ],
        "model": response.model,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "total_tokens": response.usage.total_tokens,
        },
    }


# --- views ------------------------------------------------------------------------------------


async def _serve(
    view: AsyncAPIView, request: Request, call: EmbeddingCall, endpoint: str
) -> tuple[EmbeddingResponse, gateway.Outcome]:
    call = embeddings.resolve(call)
    outcome = gateway.Outcome(
        request_id=view.request_id,
        endpoint=endpoint,
        user_id=request.user.pk,
        complexity="",
        started=time.perf_counter(),
    )
    return await embeddings.embed(call, outcome), outcome


def _headers(response: HttpResponseBase, outcome: gateway.Outcome) -> HttpResponseBase:
    gateway.route_header(response, outcome)  # x-ai-route
    return governance.apply_headers(response, outcome)  # x-ratelimit-*


_DESCRIPTION = (
    "Without `model`: the default provider's embedding model, or the first configured "
    "provider with embeddings (OpenAI `text-embedding-3-small`, Gemini "
    "`gemini-embedding-001`, the offline provider's `offline-embed`). A bare model goes to "
    "the provider its name says (`text-embedding-` OpenAI, `gemini-` Gemini); "
    "`provider/model` names any other, e.g. an OpenAI-compatible provider's. The texts count "
    "against the rate limits and budgets, and an API key's `allowed_models` must allow the "
    "model (else 403). Token arrays as input are refused (400). One ledger row per request, "
    "with its tokens and cost."
)


class EmbeddingsView(AsyncAPIView):
    defers_confirmation = True  # upstreams only through the gateway's admission

    @extend_schema(
        operation_id="ai_embeddings",
        summary="Embeddings of one or more texts",
        description=_DESCRIPTION,
        tags=["ai"],
        parameters=[REQUEST_ID],
        request=EmbeddingsRequest,
        responses={200: EmbeddingsResponse, **ERRORS},
        examples=[
            OpenApiExample(
                "Two texts",
                value={"input": ["first document", "second document"], "dimensions": 256},
                request_only=True,
            )
        ],
    )
    async def post(self, request: Request) -> HttpResponseBase:
        call = validate(EmbeddingsRequest, self.json_body(request)).to_call()
        response, outcome = await _serve(self, request, call, embeddings.NATIVE_ENDPOINT)
        return _headers(json_response(native_body(response, outcome)), outcome)


class OpenAIEmbeddingsView(OpenAIView):
    defers_confirmation = True  # upstreams only through the gateway's admission

    @extend_schema(
        operation_id="openai_embeddings",
        summary="OpenAI-compatible embeddings",
        description="OpenAI's embeddings request and response, for `client.embeddings.create` "
        "(`encoding_format` `base64`, the SDK's default, is little-endian float32). "
        + _DESCRIPTION,
        tags=["openai-compatible"],
        request=OpenAIEmbeddingsRequest,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="A list of embeddings."),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid request."),
            401: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad or missing token."),
            403: OpenApiResponse(OpenApiTypes.OBJECT, description="Model not allowed."),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown model."),
            429: OpenApiResponse(OpenApiTypes.OBJECT, description="Rate limited."),
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        body = validate(OpenAIEmbeddingsRequest, self.json_body(request))
        response, outcome = await _serve(self, request, body.to_call(), embeddings.OPENAI_ENDPOINT)
        return _headers(json_response(openai_body(response, body.encoding_format)), outcome)
