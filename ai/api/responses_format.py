"""The OpenAI Responses API wire format (``POST /responses``): the request body, translated to
the one :class:`~ai.services.gateway.LLMCall` every surface builds, and the ``response``
object it is answered with (``ai.api.responses_stream`` writes the streamed events).

The body is validated in two steps. The Pydantic model here checks the scalar fields (model,
temperature, max_output_tokens...), as the gateway's other bodies do; then the typed lists
(input items, tools, ``tool_choice``, ``text.format``) are checked and translated by
``ai.api.responses_items``, all their errors reported at once.

The gateway stores nothing: ``previous_response_id`` and ``conversation`` are refused (send the
whole conversation in ``input``), ``store`` is accepted and ``metadata`` only echoed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationError, WithJsonSchema

from ai.api.bodies import (
    EFFORT_SAYS,
    MODEL_MESSAGES,
    DropParams,
    MaxTokens,
    ModelId,
    ReasoningEffort,
    Stream,
    Temperature,
)
from ai.api.errors import InvalidRequest
from ai.api.model_names import names_a_model, routing_of
from ai.api.openai_format import ONLY_DEFAULT, ONLY_NULL
from ai.api.responses_items import (
    Errors,
    FunctionTool,
    messages_of,
    response_format_of,
    tool_choice_of,
    tool_of,
)
from ai.api.validation import RequestBody, Says, fail, field_errors
from ai.providers.base import FinishReason, Message, Role
from ai.providers.parts import REASONING_EFFORTS, ChatOptions, ResponseFormat, ToolChoice
from ai.services.gateway import LLMCall

NOT_STORED = (
    "Is not supported: this gateway does not store responses; send the whole conversation in input."
)
#: Why an answer is incomplete, by the gateway's finish reason.
_INCOMPLETE = {
    FinishReason.LENGTH.value: "max_output_tokens",
    FinishReason.CONTENT_FILTER.value: "content_filter",
}


# --- the request ------------------------------------------------------------------------------


class ResponsesTextConfig(RequestBody):
    unknown_field: ClassVar[str] = "Is not supported by this gateway."

    format: dict[str, Any] | None = Field(
        None,
        description='`{"type": "text"}` (the default), `{"type": "json_object"}`, or '
        '`{"type": "json_schema", "name", "schema", "strict"}`.',
    )


class ResponsesReasoning(RequestBody):
    unknown_field: ClassVar[str] = "Is not supported by this gateway."

    effort: Annotated[
        ReasoningEffort,
        # Without an enum: Chat Completions' reasoning_effort names the same one.
        WithJsonSchema({"type": "string", "nullable": True}),
        Field(description=f"One of {', '.join(REASONING_EFFORTS)}: {EFFORT_SAYS}"),
    ] = None
    # Reasoning summaries are not returned: only null (or absent) is taken.
    summary: Annotated[None, ONLY_NULL, Says("Is not supported by this gateway.")] = None
    generate_summary: Annotated[None, ONLY_NULL, Says("Is not supported by this gateway.")] = None


class ResponsesStreamOptions(RequestBody):
    include_obfuscation: bool | None = None


def _not_stored(value: Any) -> Any:
    if value is not None:
        raise fail("not_stored", NOT_STORED)
    return value


_INPUT_DESCRIPTION = (
    "A string (one user message), or the whole conversation as input items: messages "
    "(`role` user, system, developer or assistant; `content` a string or `input_text` / "
    "`input_image` parts), `function_call` items of earlier answers and their "
    "`function_call_output` results."
)


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    """A validated Responses request: the call, and what the ``response`` object echoes."""

    call: LLMCall
    echo: dict[str, Any] = field(default_factory=dict)


class ResponsesRequest(RequestBody):
    """A Responses API body (`POST /responses`). `model` is required; `provider/model` forces
    the provider, a route name (`simple`, `moderate`, `complex`, `search`, `auto`) routes."""

    unknown_field: ClassVar[str] = "Is not supported by this gateway."

    model: Annotated[
        ModelId,
        AfterValidator(names_a_model),
        MODEL_MESSAGES,
        Field(description="A model id (`gpt-4o-mini`, `claude-sonnet-4-5`...), `provider/model`, "
              "or a route: `simple`, `moderate`, `complex`, `search`, `auto`."),
    ]  # fmt: skip
    input: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[dict[str, Any]], Tag("items")],
        Discriminator(lambda v: "items" if isinstance(v, list) else "string"),
        Says(
            "Must be a string or an array of input items, not {type}.",
            item="Must be an object (an input item).",
        ),
        Field(description=_INPUT_DESCRIPTION),
    ]
    instructions: Annotated[
        str | None, Field(description="A system message put before the input.")
    ] = None
    tools: Annotated[
        list[dict[str, Any]] | None,
        Says(item="Must be an object (a tool)."),
        Field(description='Function tools: `{"type": "function", "name", "description", '
              '"parameters", "strict"}`. Other tool types are refused (400).'),
    ] = None  # fmt: skip
    tool_choice: Annotated[
        Annotated[
            Annotated[str, Tag("string")] | Annotated[dict[str, Any], Tag("object")],
            Discriminator(lambda v: "object" if isinstance(v, dict) else "string"),
        ]
        | None,
        Says("Must be auto, none, required or an object, not {type}."),
        Field(description='`auto`, `none`, `required` or `{"type": "function", "name"}`.'),
    ] = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: MaxTokens = None
    temperature: Temperature = None
    top_p: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    stream: Stream = None
    text: ResponsesTextConfig | None = None
    reasoning: ResponsesReasoning | None = None
    user: str | None = None
    metadata: Annotated[
        dict[str, str] | None, Field(description="Echoed in the response (not stored).")
    ] = None
    store: Annotated[bool | None, Field(description="Accepted; nothing is stored.")] = None
    previous_response_id: Annotated[
        str | None, AfterValidator(_not_stored), Field(description="Not supported (400).")
    ] = None
    conversation: Annotated[
        Any, AfterValidator(_not_stored), Field(description="Not supported (400).")
    ] = None
    # Accepted and ignored: they do not change the answer.
    stream_options: ResponsesStreamOptions | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    drop_params: DropParams = None
    # Accepted only with the value that means "the default behaviour".
    include: Annotated[Annotated[list[str], Field(max_length=0)] | None, ONLY_DEFAULT] = None
    background: Annotated[
        Literal[False] | None,
        ONLY_DEFAULT,
        WithJsonSchema({"type": "boolean", "nullable": True}),
        Field(description="Only `false`."),
    ] = None

    def to_call(self) -> ResponsesCall:
        """The call, or :class:`InvalidRequest` naming every bad input item, tool, tool choice
        or text format."""
        errors: Errors = {}
        messages, tools, choice, response_format = _typed_lists(
            self.input, self.tools, self.tool_choice, self.text and self.text.format, errors
        )
        if errors:
            raise InvalidRequest(errors)
        if self.instructions and self.instructions.strip():
            messages.insert(0, Message(Role.SYSTEM, self.instructions))
        options = ChatOptions(
            tools=tuple(t.tool() for t in tools),
            tool_choice=choice if tools else None,
            parallel_tool_calls=self.parallel_tool_calls if tools else None,
            response_format=response_format,
            top_p=self.top_p,
            user=self.user,
            reasoning_effort=self.reasoning.effort if self.reasoning else None,
            drop_unsupported=self.drop_params,
        )
        call = LLMCall(
            messages=tuple(messages),
            temperature=self.temperature,
            max_tokens=self.max_output_tokens,
            stream=bool(self.stream),
            options=options,
            **routing_of(self.model),
        )
        return ResponsesCall(call, self._echo(tools))

    def _echo(self, tools: list[FunctionTool]) -> dict[str, Any]:
        """The request's settings as the ``response`` object repeats them."""
        text = (self.text.format if self.text else None) or {"type": "text"}
        choice = self.tool_choice if self.tool_choice is not None else "auto"
        return {
            "instructions": self.instructions,
            "metadata": self.metadata or {},
            "parallel_tool_calls": True
            if self.parallel_tool_calls is None
            else self.parallel_tool_calls,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "tool_choice": choice,
            "tools": [t.echo() for t in tools],
            "text": {"format": text},
            "max_output_tokens": self.max_output_tokens,
            "user": self.user,
            "store": False,
            "truncation": self.truncation or "disabled",
            "reasoning": {"effort": self.reasoning.effort, "summary": None}
            if self.reasoning and self.reasoning.effort
            else None,
        }


def _typed_lists(
    given: Any, tools: Any, tool_choice: Any, text_format: Any, errors: Errors
) -> tuple[list[Message], list[FunctionTool], ToolChoice | None, ResponseFormat | None]:
    """The input (None: not checked), tools, tool choice and text format, checked and
    translated (``ai.api.responses_items``)."""
    messages = [] if given is None else messages_of(given, errors)
    functions = [tool for i, raw in enumerate(tools or ()) if (tool := tool_of(raw, i, errors))]
    choice = tool_choice_of(tool_choice, functions, errors)
    return messages, functions, choice, response_format_of(text_format, errors)


def parse_request(data: dict[str, Any]) -> ResponsesCall:
    """The call a Responses body asks for, or :class:`InvalidRequest` naming every bad field:
    when the body's own fields fail, its typed lists are checked too, where their shape lets
    them be, so one answer reports all."""
    try:
        request = ResponsesRequest.model_validate(data)
    except ValidationError as err:
        errors = field_errors(ResponsesRequest, err)
        more: Errors = {}
        text = _shaped(data, "text", dict, errors) or {}
        _typed_lists(
            _shaped(data, "input", str | list, errors),
            _shaped(data, "tools", list, errors),
            _shaped(data, "tool_choice", str | dict, errors),
            text.get("format"),
            more,
        )
        raise InvalidRequest({**more, **errors}) from None
    return request.to_call()


def _shaped(data: dict[str, Any], name: str, shape: Any, errors: Errors) -> Any:
    """``data[name]`` if it has the shape its typed checks need and no error of its own."""
    value = data.get(name)
    if not isinstance(value, shape) or any(
        path == name or path.startswith((f"{name}[", f"{name}.")) for path in errors
    ):
        return None
    return value


# --- the response -----------------------------------------------------------------------------


def response_id(request_id: str) -> str:
    return f"resp_{request_id}"


def message_id(request_id: str, number: int = 0) -> str:
    """The id of the answer's message ``number`` (a stream may have text after a call)."""
    return f"msg_{request_id}" if not number else f"msg_{request_id}_{number}"


def incomplete_reason(finish_reason: str | None) -> str | None:
    """``incomplete_details.reason`` for an answer that ended so, else None (complete)."""
    return _INCOMPLETE.get(finish_reason or "")


def function_call_id(request_id: str, index: int) -> str:
    return f"fc_{request_id}_{index}"


def responses_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's usage dict (``Usage.as_dict``) as the Responses API's ``usage``."""
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {
            "cached_tokens": usage["cached_tokens"],
            "cache_write_tokens": usage.get("cache_write_tokens", 0),
        },
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        "total_tokens": usage["total_tokens"],
    }


def output_text(text: str) -> dict[str, Any]:
    """A message's ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(
    request_id: str, text: str, status: str = "completed", *, number: int = 0
) -> dict[str, Any]:
    """A ``message`` output item (without content while in progress)."""
    content = [output_text(text)]
    return {
        "type": "message",
        "id": message_id(request_id, number),
        "status": status,
        "role": "assistant",
        "content": content if status != "in_progress" else [],
    }


def function_call_item(
    request_id: str, index: int, call: Mapping[str, str], status: str = "completed"
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": function_call_id(request_id, index),
        "call_id": call["id"] or f"call_{request_id}_{index}",
        "name": call["name"],
        "arguments": call["arguments"],
        "status": status,
    }


def response_object(
    request_id: str,
    echo: Mapping[str, Any],
    *,
    model: str,
    created_at: int,
    status: str = "in_progress",
    output: list[dict[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
    finish_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``response`` object. With a ``finish_reason`` it is finished: ``completed``, or
    ``incomplete`` with the reason (``max_output_tokens``, ``content_filter``)."""
    incomplete = incomplete_reason(finish_reason)
    if finish_reason is not None:
        status = "incomplete" if incomplete else "completed"
    body: dict[str, Any] = {
        "id": response_id(request_id),
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "model": model,
        "output": output or [],
        "previous_response_id": None,
        "reasoning": None,
        "usage": None if usage is None else responses_usage(usage),
        **echo,
    }
    if status == "completed":
        body["completed_at"] = int(time.time())
    return body


def output_of(request_id: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The output items of a finished answer (``gateway.complete``'s body or a stream's done
    event): the text as one message (also when empty, unless the model only called
    functions), then one ``function_call`` item per call."""
    calls = body.get("tool_calls") or []
    status = "incomplete" if body["finish_reason"] in _INCOMPLETE else "completed"
    output = []
    if body["content"] or not calls:
        output.append(message_item(request_id, body["content"], status))
    output.extend(function_call_item(request_id, i, c) for i, c in enumerate(calls))
    return output


def response_of(
    request_id: str, echo: Mapping[str, Any], body: Mapping[str, Any], created_at: int
) -> dict[str, Any]:
    """The ``response`` object answering a non-streaming request (``body``: the answer of
    ``gateway.complete``) created at ``created_at`` (Unix seconds)."""
    return response_object(
        request_id,
        echo,
        model=body["model"],
        created_at=created_at,
        output=output_of(request_id, body),
        usage=body["usage"],
        finish_reason=body["finish_reason"],
    )
