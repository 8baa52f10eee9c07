"""The Anthropic Messages API request, translated to the gateway's translation core
(``ai.providers.parts``), for the Anthropic-compatible endpoints (``ai.api.anthropic_compat``).
Answers, stream events and errors in Anthropic's shape: ``ai.api.anthropic_wire``.

The body is a Pydantic model with the rules of the gateway's own (``ai.api.validation``):
strict types, every bad field named by its path (``messages[1].content[0].source.data``:
validate with ``ai.api.anthropic_blocks.validate_body``), unknown fields refused. What the
core cannot carry and that would change the answer (extended thinking, server tools,
documents) is refused with a 400 naming it. ``cache_control`` breakpoints travel as the core's
``cache`` marks (on a part, a turn, a tool) to Anthropic, which caches the prompt up to them;
the other vendors cache prompts on their own and do not get them.

Block by block:

* ``system``: a string or text blocks -> one system turn (the blocks its text parts when one
  sets a cache breakpoint);
* ``text`` / ``image`` (base64 or url source) in a user turn -> its parts;
* ``tool_use`` in an assistant turn -> :class:`ToolCall` (``input`` as JSON text);
* ``tool_result`` in a user turn -> one ``TOOL`` turn per result, before the turn's other
  blocks, naming the function of the earlier ``tool_use`` it answers; ``is_error`` travels
  with it (Anthropic gets the flag, Gemini an ``error`` response, OpenAI and the compatible
  vendors ``"Error: "`` in front of the text: they have no flag);
* ``tool_choice`` auto / any / tool / none -> auto / required / function / none, and
  ``disable_parallel_tool_use`` -> ``parallel_tool_calls=False``;
* ``metadata.user_id`` -> ``ChatOptions.user``;
* ``cache_control`` -> ``cache`` (its TTL, 5m by default) on the text or image part (system
  blocks included), the tool result's turn (also from a text block inside it), the tool;
  inside an assistant turn, on the turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import orjson
from pydantic import AfterValidator, Field

from ai.api.anthropic_blocks import (
    ROLE_BLOCKS,
    UNSUPPORTED,
    AnthropicCacheControl,
    AnthropicMessage,
    AnthropicMetadata,
    AnthropicTextBlock,
    AnthropicThinkingDisabled,
    AnthropicToolDefinition,
    NoThinking,
    ToolChoiceBody,
    string_or,
)
from ai.api.bodies import MODEL_MESSAGES, DropParams, ModelId, Stream, conversation_rules
from ai.api.errors import InvalidRequest
from ai.api.model_names import names_a_model, routing_of
from ai.api.validation import RequestBody, Says, fail
from ai.conf import ai_settings
from ai.providers.base import Message, Role
from ai.providers.parts import (
    AUTO,
    FUNCTION,
    NONE,
    REQUIRED,
    ChatOptions,
    ImagePart,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from ai.services.gateway import LLMCall

_CHOICE_MODES = {"auto": AUTO, "any": REQUIRED, "tool": FUNCTION, "none": NONE}

# --- the bodies -------------------------------------------------------------------------------


def _within_tokens_limit(value: int) -> int:
    limit = int(ai_settings.AI_MAX_TOKENS_LIMIT)
    if value > limit:
        raise fail("too_many_tokens", "Must be at most {limit}.", limit=limit)
    return value


_ttl = AnthropicCacheControl.mark


def _system_turns(system: str | list[AnthropicTextBlock] | None) -> list[Message]:
    """The system prompt as one system turn (none when blank); blocks with cache breakpoints
    stay its text parts, so Anthropic gets the same blocks back, cached up to the same place."""
    if system is None:
        return []
    if isinstance(system, str):
        turn = Message(Role.SYSTEM, system)
    else:
        turn = Message.of_parts(Role.SYSTEM, [TextPart(b.text, cache=_ttl(b)) for b in system])
    return [turn] if turn.content.strip() else []


class _AnthropicConversation(RequestBody):
    """What both endpoints take: model, system, messages, tools."""

    unknown_field: ClassVar[str] = UNSUPPORTED

    model: Annotated[
        ModelId,
        AfterValidator(names_a_model),
        MODEL_MESSAGES,
        Field(description="A Claude model goes to Anthropic; any other model (`gpt-4o-mini`, "
              "`gemini-2.5-flash`, `provider/model`) or route (`simple`, `moderate`, "
              "`complex`, `search`, `auto`) is translated."),
    ]  # fmt: skip
    messages: Annotated[
        list[AnthropicMessage],
        Field(min_length=1),
        AfterValidator(conversation_rules),
        Says(
            list_type="Must be an array of messages, not {type}.",
            too_short="Must contain at least one message.",
            item='Must be an object with "role" and "content".',
        ),
    ]
    system: Annotated[
        string_or(list[AnthropicTextBlock]) | None,
        Says("Must be a string or an array of text blocks, not {type}."),
    ] = None
    tools: list[AnthropicToolDefinition] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: Annotated[AnthropicThinkingDisabled | None, NoThinking] = None
    drop_params: DropParams = None

    def translate(self, **more: Any) -> tuple[tuple[Message, ...], ChatOptions]:
        """The core's messages and options (``more``: the options only a Messages body has).
        Raises :class:`InvalidRequest` naming each block its role may not send, and each tool
        result or tool choice that names no known tool."""
        errors: dict[str, list[str]] = {}
        messages = _messages(self, errors)
        tools = tuple(
            Tool(t.name, t.description or "", t.input_schema, t.strict, cache=_ttl(t))
            for t in self.tools or ()
        )
        choice, parallel = None, None
        body = self.tool_choice
        if body is not None:
            choice = ToolChoice(_CHOICE_MODES[body.type], getattr(body, "name", None))
            if getattr(body, "disable_parallel_tool_use", None):
                parallel = False
            if body.type in ("any", "tool") and not tools:
                errors["tool_choice"] = [f"{body.type!r} needs tools."]
            elif choice.name and choice.name not in {t.name for t in tools}:
                errors["tool_choice.name"] = [f"No tool is named {choice.name!r}."]
        if errors:
            raise InvalidRequest(errors)
        options = ChatOptions(
            tools=tools,
            tool_choice=choice,
            parallel_tool_calls=parallel,
            drop_unsupported=self.drop_params,
            **more,
        )
        return messages, options

    def _call(self, messages: tuple[Message, ...], options: ChatOptions, **fields: Any) -> LLMCall:
        return LLMCall(messages=messages, options=options, **routing_of(self.model), **fields)


class AnthropicCountTokensRequest(_AnthropicConversation):
    """``POST /v1/messages/count_tokens``: a Messages body without the sampling fields."""

    def to_call(self) -> LLMCall:
        return self._call(*self.translate())


class AnthropicMessagesRequest(_AnthropicConversation):
    """``POST /v1/messages``."""

    max_tokens: Annotated[
        int,
        Field(ge=1, description="Required. At most the gateway's AI_MAX_TOKENS_LIMIT."),
        AfterValidator(_within_tokens_limit),
        Says("Must be a positive integer.", missing="This field is required."),
    ]
    stop_sequences: list[Annotated[str, Field(min_length=1)]] | None = None
    temperature: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    top_p: Annotated[
        Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
        Says("Must be a number between 0 and 1."),
    ] = None
    top_k: Annotated[
        Annotated[int, Field(ge=0)] | None, Says("Must be a non-negative integer.")
    ] = None
    metadata: AnthropicMetadata | None = None
    stream: Stream = None

    def to_call(self) -> LLMCall:
        messages, options = self.translate(
            stop=tuple(self.stop_sequences or ()),
            top_p=self.top_p,
            top_k=self.top_k,
            user=self.metadata.user_id if self.metadata else None,
        )
        return self._call(
            messages,
            options,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=bool(self.stream),
        )


# --- messages ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Turns:
    """The core's turns, built message by message."""

    out: list[Message]
    #: tool_use id -> function name, over the assistant turns so far.
    calls: dict[str, str]
    errors: dict[str, list[str]]

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _messages(body: _AnthropicConversation, errors: dict[str, list[str]]) -> tuple[Message, ...]:
    turns = _Turns(_system_turns(body.system), {}, errors)
    for i, message in enumerate(body.messages):
        at = f"messages[{i}].content"
        if isinstance(message.content, str):
            role = Role.USER if message.role == "user" else Role.ASSISTANT
            if role is Role.USER and not message.content.strip():
                turns.error(at, "Must not be blank.")
            turns.out.append(Message(role, message.content))
        elif message.role == "user":
            _user(message.content, turns, at)
        else:
            _assistant(message.content, turns, at)
    return tuple(turns.out)


def _allowed(role: str, block: Any, turns: _Turns, at: str) -> bool:
    if block.type in ROLE_BLOCKS[role]:
        return True
    turns.error(
        at,
        f"A {role} message may not hold {block.type} blocks "
        f"(it takes: {', '.join(ROLE_BLOCKS[role])}).",
    )
    return False


def _user(blocks: list[Any], turns: _Turns, at: str) -> None:
    parts: list[Part] = []
    for j, block in enumerate(blocks):
        if not _allowed("user", block, turns, f"{at}[{j}]"):
            continue
        if block.type == "text":
            parts.append(TextPart(block.text, cache=_ttl(block)))
        elif block.type == "image":
            source = block.source
            if source.type == "url":
                parts.append(ImagePart(url=source.url, cache=_ttl(block)))
            else:
                parts.append(
                    ImagePart(data=source.data, media_type=source.media_type, cache=_ttl(block))
                )
        else:  # tool_result: its own turn, before the message's other blocks
            name = turns.calls.get(block.tool_use_id)
            if name is None:
                turns.error(f"{at}[{j}].tool_use_id", "No earlier tool_use block has this id.")
                continue
            turns.out.append(
                Message(
                    Role.TOOL,
                    block.text,
                    tool_call_id=block.tool_use_id,
                    name=name,
                    is_error=bool(block.is_error),
                    # A breakpoint on a text block inside the result ends the result.
                    cache=_ttl(block) or AnthropicCacheControl.last(block.content),
                )
            )
    if parts:
        turns.out.append(Message.of_parts(Role.USER, parts))


def _assistant(blocks: list[Any], turns: _Turns, at: str) -> None:
    texts: list[str] = []
    calls: list[ToolCall] = []
    cache = None  # a breakpoint inside an assistant turn ends up after the whole turn
    for j, block in enumerate(blocks):
        if not _allowed("assistant", block, turns, f"{at}[{j}]"):
            continue
        cache = _ttl(block) or cache
        if block.type == "text":
            texts.append(block.text)
        else:
            calls.append(ToolCall(block.id, block.name, orjson.dumps(block.input).decode()))
            turns.calls[block.id] = block.name
    turns.out.append(
        Message(Role.ASSISTANT, "\n".join(texts), tool_calls=tuple(calls), cache=cache)
    )
