"""The gateway's request and response bodies as Pydantic models.

Request bodies are validated by these models (``ai.api.validation``) and turned into the one
:class:`~ai.services.gateway.LLMCall` the orchestration takes; the same models document the API
(``ai.api.openapi``). Response bodies are built by the views as plain dicts (cheaper); their
models here only document them.

Limits read from settings (``AI_MAX_TOKENS_LIMIT``, ``AI_MAX_MESSAGES``) and the provider
names are checked at call time, so ``override_settings`` and providers a host registers apply.
"""

from __future__ import annotations

import reprlib
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from ai.api import openapi as _openapi  # noqa: F401  (registers the schema extension)
from ai.api.anthropic_blocks import AnthropicCacheControl as CacheControl
from ai.api.validation import RequestBody, Says, fail, type_name
from ai.conf import ai_settings
from ai.providers.base import Message, ModelComplexity, Role, simple_messages
from ai.providers.parts import REASONING_EFFORTS, ChatOptions
from ai.services.classifier import AUTO
from ai.services.factory import provider_names
from ai.services.gateway import LLMCall

ROLES: tuple[str, ...] = tuple(r.value for r in Role)
COMPLEXITIES: tuple[str, ...] = tuple(c.value for c in ModelComplexity)
#: What a routed request may ask for: a complexity, or "auto" (``ai.services.classifier``).
ROUTED_COMPLEXITIES: tuple[str, ...] = (*COMPLEXITIES, AUTO)
RoleName = Literal[ROLES]  # type: ignore[valid-type]
ComplexityName = Literal[COMPLEXITIES]  # type: ignore[valid-type]
RoutedComplexityName = Literal[ROUTED_COMPLEXITIES]  # type: ignore[valid-type]
MAX_MODEL_LENGTH = 200
# Vendor model ids ("gpt-4o", "models/gemini-2.5-flash", "ft:gpt-4o:org:name:id") use these
# characters; a dot is never followed by another ("..").
MODEL_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_:/@+-]|\.[A-Za-z0-9_:/@+-])*\.?$"
#: At least one character that is not whitespace (checked in Rust, like every pattern here).
NOT_BLANK = r"\S"

_ROLES = {r.value: r for r in Role}
_COMPLEXITIES = {c.value: c for c in ModelComplexity}


class EnumAtCallTime:
    """JSON-schema metadata: an ``enum`` computed when the schema is generated."""

    def __init__(self, values: Any) -> None:
        self.values = values

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["enum"] = list(self.values())
        return schema


def _known_provider(name: str) -> str:
    names = provider_names()
    if name not in names:
        raise fail(
            "unknown_provider",
            "Unknown provider {name}. Valid providers: {valid}.",
            name=reprlib.repr(name),
            valid=", ".join(names),
        )
    return name


def _within_tokens_limit(value: int) -> int:
    limit = int(ai_settings.AI_MAX_TOKENS_LIMIT)
    if value > limit:
        raise fail("too_many_tokens", "Must be at most {limit}.", limit=limit)
    return value


def _provider_message(ctx: dict[str, Any]) -> str:
    return f"Must be a string, not {ctx['type']}. Valid providers: {', '.join(provider_names())}."


def _complexity_message(ctx: dict[str, Any]) -> str:
    value = ctx["input"]
    problem = (
        f"Unknown complexity {reprlib.repr(value)}."
        if isinstance(value, str)
        else f"Must be a string, not {type_name(value)}."
    )
    return f"{problem} Valid values: {', '.join(ROUTED_COMPLEXITIES)}."


# --- fields shared by the request bodies ------------------------------------------------------

Provider = Annotated[
    Annotated[str, AfterValidator(_known_provider), EnumAtCallTime(provider_names)] | None,
    Says(_provider_message),
    Field(description="Use this provider (it must be configured on the gateway)."),
]
#: A model id (required or not is the body's choice).
ModelId = Annotated[str, Field(min_length=1, max_length=MAX_MODEL_LENGTH, pattern=MODEL_PATTERN)]
MODEL_MESSAGES = Says(
    "Is not a valid model name.",
    string_type="Must be a non-empty string.",
    string_too_short="Must be a non-empty string.",
    string_too_long="Must be at most {max_length} characters.",
)
ModelName = Annotated[
    ModelId | None,
    MODEL_MESSAGES,
    Field(description="Use this model. Alone, it picks the provider its name belongs to."),
]
Temperature = Annotated[
    Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] | None,
    Says("Must be a number between 0 and 2."),
]
MaxTokens = Annotated[
    Annotated[int, Field(ge=1), AfterValidator(_within_tokens_limit)] | None,
    Says("Must be a positive integer."),
    Field(description="At most the gateway's AI_MAX_TOKENS_LIMIT (32768 by default)."),
]
Stream = Annotated[
    bool | None,
    Says("Must be a boolean."),
    Field(description="Answer as server-sent events (text/event-stream)."),
]


def conversation_rules(messages: list[Any]) -> list[Any]:
    """At most ``AI_MAX_MESSAGES`` messages, at least one from the user."""
    limit = int(ai_settings.AI_MAX_MESSAGES)
    if len(messages) > limit:
        raise fail("too_many_messages", "Must contain at most {limit} messages.", limit=limit)
    for message in messages:
        if message.role == "user":
            return messages
    raise fail("no_user_message", "Must contain at least one user message.")


_INVALID_ROLE = f"Invalid role ({{got}}). Valid roles: {', '.join(ROLES)}."


class ChatMessage(RequestBody):
    role: Annotated[RoleName, Says(_INVALID_ROLE, missing=_INVALID_ROLE)]
    content: Annotated[
        str,
        Field(pattern=NOT_BLANK, description="Must not be blank."),
        Says(
            "Must be a string, not {type}.",
            missing="Must be a string; this field is required.",
            string_pattern_mismatch="Must not be blank.",
        ),
    ]
    cache_control: Annotated[
        CacheControl | None,
        Field(
            description='A prompt-cache breakpoint after this message, `{"type": "ephemeral"}` '
            '(optional `"ttl"`: `"5m"` or `"1h"`): a Claude target caches the prompt up to '
            "here (Anthropic's `cache_control`); other vendors cache on their own."
        ),
    ] = None


Conversation = Annotated[
    list[ChatMessage],
    Field(
        min_length=1,
        description="The conversation, oldest first: at least one user message, "
        "at most AI_MAX_MESSAGES (500 by default).",
    ),
    AfterValidator(conversation_rules),
    Says(
        list_type="Must be an array of messages, not {type}.",
        too_short="Must contain at least one message.",
        item='Must be an object with "role" and "content".',
    ),
]
Prompt = Annotated[
    str,
    Field(pattern=NOT_BLANK, description="The user's message. Must not be blank."),
    Says(string_pattern_mismatch="Must not be blank."),
]


EFFORT_SAYS = (
    "how hard a reasoning model thinks: OpenAI's `reasoning_effort` as it is; a thinking budget "
    "for Claude and Gemini (AI_REASONING_BUDGETS). `max_tokens` bounds the thinking and the "
    "answer together."
)
#: ``reasoning_effort``, as every surface that takes it validates and documents it.
ReasoningEffort = Annotated[
    Literal[REASONING_EFFORTS] | None,  # type: ignore[valid-type]
    Says(f"Must be one of {', '.join(REASONING_EFFORTS)}."),
    Field(description=EFFORT_SAYS[0].upper() + EFFORT_SAYS[1:]),
]
#: ``drop_params`` (LiteLLM's), on the vendor-shaped surfaces.
DropParams = Annotated[
    bool | None,
    Field(description="Leave out the options the target cannot honour (a seed, penalties, a "
          "field only OpenAI knows) instead of answering 400; never tools, tool choice or "
          "structured output. Default: the AI_DROP_PARAMS setting. What was left out is named "
          "in the x-ai-route header."),
]  # fmt: skip


class _Options(RequestBody):
    provider: Provider = None
    model: ModelName = None
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    stream: Stream = False
    reasoning_effort: ReasoningEffort = None

    def _call(self, messages: tuple[Message, ...], **extra: Any) -> LLMCall:
        if self.reasoning_effort is not None:
            extra["options"] = ChatOptions(reasoning_effort=self.reasoning_effort)
        return LLMCall(
            messages=messages,
            provider=self.provider,
            model=self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=bool(self.stream),
            **extra,
        )


class CompletionsRequest(_Options):
    messages: Conversation

    def to_call(self) -> LLMCall:
        return self._call(
            tuple(
                Message(_ROLES[m.role], m.content, cache=CacheControl.mark(m))
                for m in self.messages
            )
        )


class ChatRequest(_Options):
    prompt: Prompt
    system: str | None = None

    def _messages(self) -> tuple[Message, ...]:
        system = self.system if self.system and self.system.strip() else None
        return tuple(simple_messages(self.prompt, system))

    def to_call(self) -> LLMCall:
        return self._call(self._messages())


class RoutedChatRequest(ChatRequest):
    complexity: Annotated[
        RoutedComplexityName | None,
        # Two enums in an anyOf: a plain enum of five would collide with the responses'
        # ComplexityEnum (same field name, other values) when spectacular names enums.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "enum": list(COMPLEXITIES)},
                    {"type": "string", "enum": [AUTO]},
                ],
                "nullable": True,
            }
        ),
        Field(
            description="Picks the route (provider and model, with fallbacks). `auto`: the "
            "gateway classifies the prompt locally (length, code, reasoning and search cues) "
            "and says what it chose, and why, in the answer's `routing`."
        ),
        Says(_complexity_message),
    ] = "moderate"

    def to_call(self) -> LLMCall:
        if self.complexity == AUTO:
            return self._call(self._messages(), auto=True)
        return self._call(self._messages(), complexity=_COMPLEXITIES[self.complexity or "moderate"])


# --- responses (documentation only) -----------------------------------------------------------


class UsageBody(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = Field(description="Part of prompt_tokens.")
    reasoning_tokens: int = Field(description="Part of completion_tokens.")
    cache_write_tokens: int = Field(
        description="Part of prompt_tokens: written to the vendor's prompt cache (Anthropic's "
        "`cache_control` breakpoints; priced above input)."
    )
    source: Literal["reported", "estimated"] = Field(
        description="'estimated' when the upstream never reported its counts."
    )


class CompletionResponse(BaseModel):
    id: str = Field(description="The request id (also in the X-Request-ID header).")
    content: str
    model: str = Field(description="The model that answered (`offline-echo` for the offline "
                       "provider, whatever was asked for).")  # fmt: skip
    provider: str
    finish_reason: str = Field(description="stop, length, tool_calls, content_filter")
    usage: UsageBody
    latency_ms: float = Field(description="Time spent in the upstream call.")
    cost: str | None = Field(
        description="USD, as a decimal string; null when no price is known.",
        json_schema_extra={"format": "decimal"},
    )


class RoutingBody(BaseModel):
    complexity: ComplexityName = Field(description="The class the classifier chose.")
    auto: bool = Field(description='True: the classifier chose (`complexity: "auto"`).')
    reasons: list[str] = Field(description="Each cue that counted, then the decision.")


class RoutedCompletionResponse(CompletionResponse):
    complexity: ComplexityName
    routing: RoutingBody | None = Field(
        None, description='With `complexity: "auto"` only: what the classifier chose and why.'
    )


class RouteTarget(BaseModel):
    provider: str
    model: str
    configured: bool


class StatusResponse(BaseModel):
    available: bool = Field(description="Whether any provider can answer.")
    providers: list[str]
    default_provider: str
    default_model: str
    offline: bool = Field(
        description="True when answers come from the offline provider (no real model)."
    )
    mode: Literal["live", "offline"]
    notice: str | None
    routes: dict[str, list[RouteTarget]] = Field(
        description="Complexity -> its targets, tried in order."
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable.")
    message: str
    fields: dict[str, list[str]] | None = Field(
        None, description="Validation errors: field path (e.g. messages[1].role) -> messages."
    )
    request_id: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail
