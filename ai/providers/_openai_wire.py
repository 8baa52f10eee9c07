"""OpenAI Chat Completions' wire for :mod:`ai.providers.openai`: the request body from a
:class:`ChatRequest`, and tool calls, finish reasons and usage read back from responses and
stream chunks.

Pure functions over dicts (no SDK calls), cheap per message and per chunk. A plain-text request
builds the same small body as before tools existed: ``{"model", "messages": [{"role",
"content"}]}`` plus what was set. Reference:
https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

from typing import Any

from ai.providers.base import ChatRequest, FinishReason, Message, Role, Usage
from ai.providers.parts import (
    FUNCTION,
    JSON_SCHEMA,
    NO_OPTIONS,
    ChatOptions,
    ImagePart,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)

FINISH_REASONS: dict[str, str] = {
    "stop": FinishReason.STOP.value,
    "length": FinishReason.LENGTH.value,
    "tool_calls": FinishReason.TOOL_CALLS.value,
    "function_call": FinishReason.TOOL_CALLS.value,
    "content_filter": FinishReason.CONTENT_FILTER.value,
}

#: The :class:`ChatOptions` Chat Completions takes; it has no ``top_k``.
SUPPORTED_OPTIONS = frozenset(
    {
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "stop",
        "top_p",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "metadata",
        "reasoning_effort",
    }
)
#: Body fields the gateway owns: an ``extra`` field may not replace them.
RESERVED = frozenset({"model", "messages", "stream", "stream_options"})
#: ``response_format.json_schema.name`` is required by OpenAI; ours is optional.
DEFAULT_SCHEMA_NAME = "response"

_TOOL = Role.TOOL


def body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The ``POST /chat/completions`` body for ``request``."""
    params: dict[str, Any] = {
        "model": request.model,
        "messages": [
            # The plain-text turn inline: the common case pays for no call.
            _message(m)
            if m.has_media or m.tool_calls or m.role is _TOOL
            else {"role": m.role.value, "content": m.content}
            for m in request.messages
        ],
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_tokens is not None:
        params["max_completion_tokens"] = request.max_tokens
    if request.options is not NO_OPTIONS:
        _add_options(params, request.options)
    if stream:
        params["stream"] = True
        # Without it OpenAI streams no usage at all.
        params["stream_options"] = {"include_usage": True}
    return params


def _message(m: Message) -> dict[str, Any]:
    if m.role is _TOOL:
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.result_text}
    out: dict[str, Any] = {"role": m.role.value}
    if m.has_media:
        out["content"] = [_part(p) for p in m.parts]
    else:
        # An assistant turn that only calls tools has null content, as OpenAI sends it.
        out["content"] = m.content if m.content or not m.tool_calls else None
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    return out


def _part(part: Any) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.as_url}
        if part.detail:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    return {"type": "text", "text": part.text}


def _add_options(params: dict[str, Any], options: ChatOptions) -> None:
    if options.tools:
        params["tools"] = [_tool(t) for t in options.tools]
    if options.tool_choice is not None:
        params["tool_choice"] = _tool_choice(options.tool_choice)
    if options.parallel_tool_calls is not None:
        params["parallel_tool_calls"] = options.parallel_tool_calls
    if options.response_format is not None:
        params["response_format"] = _response_format(options.response_format)
    if options.stop:
        params["stop"] = list(options.stop)
    for name in (
        "top_p",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "user",
        "reasoning_effort",
    ):
        value = getattr(options, name)
        if value is not None:
            params[name] = value
    if options.metadata:
        params["metadata"] = dict(options.metadata)
    for name, value in options.extra.items():  # as the client sent them; ours win
        if name not in RESERVED:
            params.setdefault(name, value)


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters:
        function["parameters"] = dict(tool.parameters)
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode == FUNCTION:
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode  # auto | none | required


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != JSON_SCHEMA:
        return {"type": fmt.type}  # text | json_object
    schema: dict[str, Any] = {"name": fmt.name or DEFAULT_SCHEMA_NAME}
    if fmt.description:
        schema["description"] = fmt.description
    if fmt.schema is not None:
        schema["schema"] = dict(fmt.schema)
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": JSON_SCHEMA, "json_schema": schema}


# -- reading -----------------------------------------------------------------------------------


def finish(value: str | None) -> str | None:
    """Our FinishReason value; a reason OpenAI adds later counts as a normal stop."""
    if not value:
        return None
    return FINISH_REASONS.get(value, FinishReason.STOP.value)


def usage(data: dict[str, Any] | None) -> Usage | None:
    """Our Usage from an OpenAI ``usage`` object (cached is part of prompt, reasoning of
    completion, as OpenAI counts them)."""
    if not data:
        return None
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return Usage.of(
        data.get("prompt_tokens") or 0,
        data.get("completion_tokens") or 0,
        total=data.get("total_tokens"),
        cached=prompt_details.get("cached_tokens") or 0,
        reasoning=completion_details.get("reasoning_tokens") or 0,
    )


def tool_calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    """The function calls of a non-streamed ``message`` (other tool types are skipped).
    Raises KeyError / TypeError for a malformed one."""
    calls = message.get("tool_calls")
    if not calls:
        return ()
    return tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "{}")
        for c in calls
        if c.get("type", "function") == "function"
    )


def tool_call_deltas(items: list[dict[str, Any]]) -> list[ToolCallDelta]:
    """A stream chunk's ``delta.tool_calls``: the first piece of call ``index`` has its id and
    function name, later ones argument fragments. Raises KeyError / TypeError when malformed."""
    out = []
    for item in items:
        function = item.get("function") or {}
        out.append(
            ToolCallDelta(
                item["index"],
                item.get("id"),
                function.get("name"),
                function.get("arguments") or "",
            )
        )
    return out
