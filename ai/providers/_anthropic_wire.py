"""The translation core to and from Anthropic's Messages wire (``POST /v1/messages``).

Request: system turns become the ``system`` string (text blocks when one sets a prompt-cache
breakpoint); user and assistant turns keep their text, or become content blocks when they carry
more (``image``, ``tool_use``, a breakpoint); a ``TOOL`` turn becomes a user turn with a
``tool_result`` block. A ``cache`` mark (on a part, a turn, a tool) becomes the block's
``cache_control`` (a turn's: its last block's). Anthropic requires the roles to alternate, so
consecutive turns of one role are merged into one (parallel tool results become one user turn,
results first, as the API wants them). Structured output (``response_format`` json_schema /
json_object) goes out as a forced tool named after the schema, and that tool's input comes back
as the response text (LiteLLM does the same; anthropic 2.x's ``output_config`` is not in the
project's SDK reference, so it is not relied on).

Response: ``text`` blocks join into the content, ``tool_use`` blocks become :class:`ToolCall`
objects with their ``input`` as JSON text; streamed ``tool_use`` blocks become
:class:`ToolCallDelta` pieces numbered by call (0, 1, ...), not by content block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ai.conf import ai_settings
from ai.exceptions import UnsupportedParameterError
from ai.providers import reasoning
from ai.providers.base import ChatRequest, Message, Role
from ai.providers.parts import (
    CACHE_5M,
    FUNCTION,
    JSON_OBJECT,
    JSON_SCHEMA,
    NO_OPTIONS,
    NONE,
    REQUIRED,
    ChatOptions,
    ImagePart,
    TextPart,
    ToolCall,
    arguments_object,
)

#: ``max_tokens`` is required by the Messages API; used when a request sets none.
DEFAULT_MAX_TOKENS = 4096
#: The forced tool's name when a response format has no name of its own.
JSON_TOOL = "json_output"
#: The inline image types the Messages API takes.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
#: What ``POST /v1/messages/count_tokens`` takes of a messages body (it refuses the rest).
COUNT_TOKENS_FIELDS = ("model", "messages", "system", "tools", "tool_choice")

SUPPORTED_OPTIONS = frozenset(
    {
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "stop",
        "top_p",
        "top_k",
        "user",
        "metadata",
        "reasoning_effort",
    }
)
#: The least thinking budget the Messages API takes.
MIN_THINKING_BUDGET = 1024


def check_options(options: ChatOptions, provider: str) -> None:
    """The rules beyond :data:`SUPPORTED_OPTIONS`: structured output is a forced tool here, so
    it cannot share the request with tools of the caller's own; and what extended thinking
    (``reasoning_effort``) does not go with: ``top_k``, a ``top_p`` under 0.95, a forced tool
    choice, structured output (a forced tool again). Each refusal names its parameter, and
    ``drop_params`` may leave out the sampling ones."""
    fmt = options.response_format
    if fmt is not None and fmt.type in (JSON_OBJECT, JSON_SCHEMA) and options.tools:
        raise UnsupportedParameterError.of(
            "response_format",
            provider,
            "Anthropic gets structured output through a forced tool, which cannot be combined "
            "with tools.",
        )
    if not reasoning.budget(options.reasoning_effort):
        return
    if options.top_k is not None:
        raise _no_thinking_with("top_k", "cannot be set with reasoning_effort on Claude")
    if options.top_p is not None and options.top_p < 0.95:
        raise _no_thinking_with("top_p", "must be at least 0.95 with reasoning_effort on Claude")
    if json_tool(options) is not None:
        raise _no_thinking_with(
            "response_format",
            "cannot be combined with reasoning_effort on Claude (structured output is a forced "
            "tool there)",
        )
    choice = options.tool_choice
    if choice is not None and choice.mode in (REQUIRED, FUNCTION):
        raise _no_thinking_with(
            "tool_choice", "must be auto or none with reasoning_effort on Claude"
        )


def json_tool(options: ChatOptions) -> str | None:
    """The forced tool's name when the request asks for JSON output, else None."""
    fmt = options.response_format
    if fmt is None or fmt.type not in (JSON_OBJECT, JSON_SCHEMA):
        return None
    return fmt.name or JSON_TOOL


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The Messages API body for ``request`` (without ``stream``)."""
    system: list[Message] = []
    messages: list[dict[str, Any]] = []
    last_role = ""
    for m in request.messages:
        if m.role is Role.SYSTEM:
            system.append(m)
            continue
        role = "assistant" if m.role is Role.ASSISTANT else "user"
        plain = not (m.parts or m.tool_calls or m.role is Role.TOOL or m.cache)
        if role != last_role:
            messages.append({"role": role, "content": m.content if plain else _blocks(m)})
            last_role = role
        else:  # Anthropic wants the roles to alternate: one turn of both
            _merge(messages[-1], [{"type": "text", "text": m.content}] if plain else _blocks(m))
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    _add_thinking(body, request)
    if any(m.cache or m.parts for m in system):  # text blocks, breakpoints where they were set
        body["system"] = [block for m in system for block in _blocks(m)]
    elif system:
        body["system"] = "\n\n".join(m.content for m in system)
    if request.temperature is not None:
        # anthropic 2.x removed `temperature` from create(); the Messages API body still
        # takes it (whether the live API still honours it is unverified: reference §2.2).
        body["temperature"] = request.temperature
    if request.options is not NO_OPTIONS:
        _add_options(body, request.options)
    return body


def _add_thinking(body: dict[str, Any], request: ChatRequest) -> None:
    """Extended thinking for a ``reasoning_effort`` (:mod:`ai.providers.reasoning`), the budget
    at least the API's least (1,024). A request's ``max_tokens`` bounds thinking and answer
    together, so it must leave room for that; without one the request gets room for the usual
    answer besides the budget, at most ``AI_MAX_TOKENS_LIMIT``. Only the default temperature
    goes with thinking (the options' rules are :func:`check_options`'). Sent without thinking
    when Claude would need thinking blocks of its own back (a prefill, a tool loop:
    :func:`_ends_without_own_thinking`)."""
    thinking = reasoning.budget(request.options.reasoning_effort)
    if not thinking or _ends_without_own_thinking(request.messages):
        return
    thinking = max(thinking, MIN_THINKING_BUDGET)
    given = request.max_tokens
    if given is None:
        given = min(DEFAULT_MAX_TOKENS + thinking, int(ai_settings.AI_MAX_TOKENS_LIMIT))
    if given <= MIN_THINKING_BUDGET:
        raise _no_thinking_with(
            "max_tokens",
            f"must be above {MIN_THINKING_BUDGET} with reasoning_effort on Claude (it bounds "
            "the thinking and the answer together)",
        )
    if request.temperature is not None and request.temperature != 1:
        raise _no_thinking_with("temperature", "cannot be set with reasoning_effort on Claude")
    body["max_tokens"] = given
    body["thinking"] = {"type": "enabled", "budget_tokens": min(thinking, given - 1)}


def _ends_without_own_thinking(messages: Sequence[Message]) -> bool:
    """Whether Claude would need thinking blocks of its own that no client of the OpenAI-shaped
    APIs sends back: the conversation ends with an assistant turn (a prefill), or its last
    assistant turn called tools (what follows it, tool results and any user text, is one user
    turn on this wire, still that tool loop)."""
    for m in reversed(messages):
        if m.role is Role.ASSISTANT:
            return m is messages[-1] or bool(m.tool_calls)
    return False


def _no_thinking_with(param: str, rule: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(f"{param} {rule}.", param=param, provider="anthropic")


def count_tokens_body(request: ChatRequest) -> dict[str, Any]:
    body = request_body(request)
    return {key: body[key] for key in COUNT_TOKENS_FIELDS if key in body}


def _merge(turn: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    content = turn["content"]
    if isinstance(content, str):
        content = turn["content"] = [{"type": "text", "text": content}] if content else []
    content.extend(blocks)
    if turn["role"] == "user":
        # tool_result blocks must open the user turn that answers the tool calls.
        content.sort(key=lambda block: block["type"] != "tool_result")
    content[:] = _without_empty_text(content)


def _cached(block: dict[str, Any], ttl: str | None) -> dict[str, Any]:
    """``block`` with a prompt-cache breakpoint when ``ttl`` is set (5m is Anthropic's
    default and goes without a ``ttl``)."""
    if ttl == CACHE_5M:
        block["cache_control"] = {"type": "ephemeral"}
    elif ttl is not None:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return block


def _blocks(m: Message) -> list[dict[str, Any]]:
    if m.role is Role.TOOL:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
        if m.is_error:
            block["is_error"] = True
        if m.parts:
            block["content"] = [_part(p) for p in m.parts]
        elif m.content:
            block["content"] = m.content
        return [_cached(block, m.cache)]
    blocks = _without_empty_text([_part(p) for p in m.content_parts()])
    for call in m.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments_object(call, "anthropic", "messages"),
            }
        )
    if m.cache and blocks and "cache_control" not in blocks[-1]:
        _cached(blocks[-1], m.cache)  # a breakpoint after the whole turn: on its last block
    return blocks


def _without_empty_text(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``blocks`` without empty text blocks (Anthropic refuses them; an assistant turn that only
    called tools has one); a breakpoint on one moves to the block before it."""
    kept: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "text" and not block["text"]:
            mark = block.get("cache_control")
            if mark is not None and kept and "cache_control" not in kept[-1]:
                kept[-1]["cache_control"] = mark
            continue
        kept.append(block)
    return kept


def _part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return _cached({"type": "text", "text": part.text}, part.cache)
    if part.url:
        source = {"type": "url", "url": part.url}
    elif part.media_type not in IMAGE_TYPES:
        raise UnsupportedParameterError(
            f"Anthropic takes JPEG, PNG, GIF and WebP images, not {part.media_type or 'untyped'}.",
            param="messages",
            provider="anthropic",
        )
    else:
        source = {"type": "base64", "media_type": part.media_type, "data": part.data}
    return _cached({"type": "image", "source": source}, part.cache)


def _add_options(body: dict[str, Any], options: ChatOptions) -> None:
    tools = [
        _cached(
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "input_schema": dict(tool.parameters) or {"type": "object", "properties": {}},
            },
            tool.cache,
        )
        for tool in options.tools
    ]
    choice: dict[str, Any] | None = None
    if options.tool_choice is not None:
        mode = options.tool_choice.mode
        if mode == FUNCTION:
            choice = {"type": "tool", "name": options.tool_choice.name}
        else:
            choice = {"type": {REQUIRED: "any", NONE: "none"}.get(mode, "auto")}
    forced = json_tool(options)
    if forced is not None:
        fmt = options.response_format
        assert fmt is not None
        tools.append(
            {
                "name": forced,
                "description": fmt.description or "Answer with JSON matching this schema.",
                "input_schema": dict(fmt.schema or {}) or {"type": "object"},
            }
        )
        choice = {"type": "tool", "name": forced}
    if tools:
        body["tools"] = tools
        if options.parallel_tool_calls is False and (choice or {}).get("type") != "none":
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            body["tool_choice"] = choice
    elif choice is not None and choice["type"] != "none":
        body["tool_choice"] = choice  # the upstream says what is wrong with it
    if options.stop:
        body["stop_sequences"] = list(options.stop)
    if options.top_p is not None:
        body["top_p"] = options.top_p
    if options.top_k is not None:
        body["top_k"] = options.top_k
    # Anthropic's metadata has one field, user_id; other metadata keys are not forwarded (they
    # are labels for the caller and change nothing in the answer).
    user = options.user or (options.metadata or {}).get("user_id")
    if user:
        body["metadata"] = {"user_id": user}


# -- responses ---------------------------------------------------------------------------------


def parse_content(
    blocks: list[dict[str, Any]], forced: str | None
) -> tuple[str, tuple[ToolCall, ...], bool]:
    """``(text, tool calls, answered by the forced JSON tool)`` of a response's content."""
    text: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text") or "")
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            if forced is not None and block.get("name") == forced:
                return arguments, (), True  # the JSON answer alone: any text would spoil it
            calls.append(ToolCall(block.get("id") or "", block.get("name") or "", arguments))
    return "".join(text), tuple(calls), False
