"""``/api/v1/app/ai/keys``: a user's gateway API keys.

- ``GET .../keys``: the caller's keys (staff: everyone's, or ``?user=<id>``).
- ``POST .../keys``: create one; the answer holds the full key, once (only its hash is kept).
  Needs a JWT: a key cannot make keys (it would escape its own model list and limits).
- ``GET .../keys/<prefix>``: one key.
- ``DELETE .../keys/<prefix>`` or ``POST .../keys/<prefix>/revoke``: revoke it; refused on its
  next request in every process.

Nobody sees or revokes another user's key (404, as for a key that does not exist); staff may.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.utils import timezone
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request

from ai.api.base import AsyncAPIView, json_response
from ai.api.bodies import MAX_MODEL_LENGTH, NOT_BLANK
from ai.api.renderers import ORJSONRenderer
from ai.api.schema import extend_schema
from ai.api.validation import RequestBody, Says, fail, validate
from ai.db import run_db
from ai.keys import KeyInfo, clean_models

TAGS = ["keys"]
MAX_EXPIRES_IN = 10 * 366 * 86400
MAX_USD = 100_000_000
#: One model, provider/model or route name: no whitespace inside (around is stripped).
ONE_WORD = r"^\s*\S+\s*$"


def _models(entries: list[str]) -> list[str]:
    try:
        return clean_models(entries)
    except ValueError as err:
        raise fail("bad_model", "{problem}", problem=str(err)) from err


Budget = Annotated[
    Annotated[float, Field(gt=0, lt=MAX_USD, allow_inf_nan=False)] | None,
    Says(f"Must be a number of USD above 0 and below {MAX_USD}."),
]
PerMinute = Annotated[Annotated[int, Field(ge=1)] | None, Says("Must be a positive integer.")]


class KeyCreateRequest(RequestBody):
    """A new key. Only ``name`` is required."""

    name: Annotated[
        str,
        Field(min_length=1, max_length=100, pattern=NOT_BLANK, description="What it is for."),
        Says(
            "Must be a non-blank string of at most 100 characters.",
            missing="This field is required.",
        ),
    ]
    models: Annotated[
        list[Annotated[str, Field(max_length=MAX_MODEL_LENGTH, pattern=ONE_WORD)]] | None,
        AfterValidator(lambda v: None if v is None else _models(v)),
        Says(
            "Must be an array of model names.",
            item=f"Must be a model, provider/model, provider/* or route name "
            f"(1-{MAX_MODEL_LENGTH} characters).",
        ),
        Field(
            description="Models (`gpt-4o`), `provider/model`, `provider/*` or routes "
            "(`simple`, `moderate`, `complex`, `search`) the key may use. Absent or empty: all."
        ),
    ] = None
    rpm: PerMinute = Field(None, description="Requests per minute of this key.")
    tpm: PerMinute = Field(None, description="Tokens per minute of this key.")
    daily_budget_usd: Budget = Field(None, description="USD per day for this key.")
    monthly_budget_usd: Budget = Field(None, description="USD per month for this key.")
    expires_in: Annotated[
        Annotated[int, Field(ge=1, le=MAX_EXPIRES_IN)] | None,
        Says(f"Must be a number of seconds between 1 and {MAX_EXPIRES_IN}."),
    ] = Field(None, description="Seconds until the key expires. Absent: never.")
    user: Annotated[int | None, Says("Must be a user id.")] = Field(
        None, description="Staff only: the owner (default: you)."
    )


class KeyListParams(RequestBody):
    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)

    user: Annotated[int | None, Says("Must be a user id.")] = Field(
        None, description="Staff only: only this user's keys."
    )


class KeyResponse(BaseModel):
    """A key as the API shows it (never its secret)."""

    prefix: str
    name: str
    owner: dict[str, Any]
    state: str = Field(description="active, revoked or expired")
    created_at: str
    expires_at: str | None
    last_used_at: str | None = Field(description="Updated at most once a minute.")
    revoked_at: str | None
    allowed_models: list[str]
    rpm: int | None
    tpm: int | None
    daily_budget_usd: str | None
    monthly_budget_usd: str | None


class KeyCreatedResponse(KeyResponse):
    key: str = Field(description="The full key. Shown this once: only its hash is stored.")


class KeyListResponse(BaseModel):
    keys: list[KeyResponse]


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def describe(key: Any) -> dict[str, Any]:
    return {
        "prefix": key.prefix,
        "name": key.name,
        "owner": {"id": key.owner_id, "username": key.owner.get_username()},
        "state": key.state,
        "created_at": _when(key.created_at),
        "expires_at": _when(key.expires_at),
        "last_used_at": _when(key.last_used_at),
        "revoked_at": _when(key.revoked_at),
        "allowed_models": list(key.allowed_models or []),
        "rpm": key.rpm,
        "tpm": key.tpm,
        "daily_budget_usd": _usd(key.daily_budget_usd),
        "monthly_budget_usd": _usd(key.monthly_budget_usd),
    }


def _visible(user: Any) -> Any:
    from ai.models import ApiKey

    keys = ApiKey.objects.select_related("owner")
    return keys if user.is_staff else keys.filter(owner_id=user.pk)


def _list(user: Any, owner_id: int | None) -> dict[str, Any]:
    keys = _visible(user)
    if owner_id is not None:
        keys = keys.filter(owner_id=owner_id)
    return {"keys": [describe(k) for k in keys.order_by("-created_at", "-id")]}


def _get(user: Any, prefix: str) -> Any:
    from ai.models import ApiKey

    try:
        return _visible(user).get(prefix=prefix)
    except ApiKey.DoesNotExist as err:
        raise NotFound(f"No API key {prefix} of yours.") from err


def _create(user: Any, body: KeyCreateRequest) -> dict[str, Any]:
    from ai.models import ApiKey

    owner = user
    if body.user is not None and body.user != user.pk:
        if not user.is_staff:
            raise PermissionDenied("Only staff may create keys for another user.")
        owner = get_user_model().objects.filter(pk=body.user).first()
        if owner is None:
            raise NotFound("No such user.")

    def usd(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))

    key, full_key = ApiKey.issue(
        owner,
        body.name.strip(),
        allowed_models=body.models or [],
        rpm=body.rpm,
        tpm=body.tpm,
        daily_budget_usd=usd(body.daily_budget_usd),
        monthly_budget_usd=usd(body.monthly_budget_usd),
        expires_at=timezone.now() + timedelta(seconds=body.expires_in) if body.expires_in else None,
    )
    return {**describe(key), "key": full_key}


def _revoke(user: Any, prefix: str) -> dict[str, Any]:
    key = _get(user, prefix)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])  # post_save: a new marker, refused everywhere
    return describe(key)


class KeysView(AsyncAPIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="ai_keys_list",
        summary="Your API keys (staff: everyone's)",
        tags=TAGS,
        parameters=[KeyListParams],
        responses={200: KeyListResponse},
    )
    async def get(self, request: Request) -> HttpResponse:
        params = {k: v for k, v in request.query_params.items() if v != ""}
        query = validate(KeyListParams, params)
        if query.user is not None and query.user != request.user.pk and not request.user.is_staff:
            raise PermissionDenied("Only staff may see another user's keys.")
        return json_response(await run_db(_list, request.user, query.user))

    @extend_schema(
        operation_id="ai_keys_create",
        summary="Create an API key (the full key is in this answer only)",
        tags=TAGS,
        request=KeyCreateRequest,
        responses={201: KeyCreatedResponse},
    )
    async def post(self, request: Request) -> HttpResponse:
        if isinstance(request.auth, KeyInfo):
            raise PermissionDenied(
                "An API key cannot create keys: sign in with a token (JWT), the admin or "
                "`manage.py ai_keys create`."
            )
        body = validate(KeyCreateRequest, self.json_body(request))
        return json_response(await run_db(_create, request.user, body), status=201)


class KeyView(AsyncAPIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="ai_keys_get",
        summary="One of your API keys",
        tags=TAGS,
        responses={200: KeyResponse},
    )
    async def get(self, request: Request, prefix: str) -> HttpResponse:
        return json_response(await run_db(lambda: describe(_get(request.user, prefix))))

    @extend_schema(
        operation_id="ai_keys_delete",
        summary="Revoke an API key",
        tags=TAGS,
        responses={200: KeyResponse},
    )
    async def delete(self, request: Request, prefix: str) -> HttpResponse:
        return json_response(await run_db(_revoke, request.user, prefix))


class KeyRevokeView(AsyncAPIView):
    renderer_classes: ClassVar[list] = [ORJSONRenderer]

    @extend_schema(
        operation_id="ai_keys_revoke",
        summary="Revoke an API key",
        tags=TAGS,
        request=None,
        responses={200: KeyResponse},
    )
    async def post(self, request: Request, prefix: str) -> HttpResponse:
        return json_response(await run_db(_revoke, request.user, prefix))
