"""The translation core's value objects (ai.providers.parts) and the Message extensions."""

from __future__ import annotations

import pytest

from ai.api.errors import describe
from ai.exceptions import UnsupportedParameterError
from ai.providers.base import Message, Role
from ai.providers.parts import (
    ChatOptions,
    ImagePart,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallBuilder,
    ToolCallDelta,
    ToolChoice,
    tool_names,
)

PNG = "iVBORw0KGgo="


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/cat.png", ImagePart(url="https://example.com/cat.png")),
        (f"data:image/png;base64,{PNG}", ImagePart(data=PNG, media_type="image/png")),
    ],
)
def test_image_from_url(url, expected):
    assert ImagePart.from_url(url) == expected
    assert ImagePart.from_url(url).as_url == url


@pytest.mark.parametrize(
    "url",
    [
        "data:text/plain;base64,aGk=",  # not an image
        "data:image/png,rawbytes",  # not base64
        "data:image/png;base64,***",  # invalid base64
    ],
)
def test_image_from_a_bad_data_url(url):
    with pytest.raises(ValueError, match="data"):
        ImagePart.from_url(url)


def test_message_of_parts():
    plain = Message.of_parts(Role.USER, [TextPart("a"), TextPart("b")])
    assert (plain.content, plain.parts) == ("a\nb", ())
    assert plain.content_parts() == (TextPart("a\nb"),)
    image = ImagePart(url="https://x/y.png")
    rich = Message.of_parts(Role.USER, [TextPart("look"), image])
    assert rich.content == "look"
    assert rich.parts == (TextPart("look"), image)
    assert rich.content_parts() == rich.parts
    assert Message(Role.ASSISTANT, "").content_parts() == ()


def test_canonical_tells_turns_and_options_apart():
    text = Message(Role.USER, "hi")
    assert text.canonical() == ["user", "hi"]  # plain text keys stay as they were
    image = Message.of_parts(Role.USER, [TextPart("hi"), ImagePart(url="https://x/1.png")])
    other = Message.of_parts(Role.USER, [TextPart("hi"), ImagePart(url="https://x/2.png")])
    assert image.canonical() != other.canonical() != text.canonical()
    tool = Tool("f", "", {"type": "object"})
    assert ChatOptions(tools=(tool,)).canonical() != ChatOptions().canonical()
    assert ChatOptions(seed=1).canonical() != ChatOptions(seed=2).canonical()
    assert ChatOptions(stop=("a",)).canonical() == ChatOptions(stop=("a",)).canonical()


def test_given_names_what_is_set():
    assert ChatOptions().given() == []
    options = ChatOptions(
        tools=(Tool("f"),),
        tool_choice=ToolChoice("required"),
        response_format=ResponseFormat("json_object"),
        top_p=0.0,
        parallel_tool_calls=False,
        metadata={},
        extra={"logit_bias": {"1": 2}},
    )
    assert options.given() == [
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "top_p",
        "logit_bias",
    ]


def test_refuse_names_the_first_unsupported_option():
    options = ChatOptions(stop=("x",), top_k=5, seed=1)
    options.refuse("p", frozenset({"stop", "top_k", "seed"}))
    with pytest.raises(UnsupportedParameterError) as err:
        options.refuse("acme", frozenset({"stop"}), why="no sampling knobs")
    assert err.value.param == "top_k"
    assert err.value.provider == "acme"
    assert err.value.message == "top_k is not supported by the acme provider: no sampling knobs"


def test_without_leaves_out_one_option_or_extra_field():
    options = ChatOptions(stop=("x",), seed=1, extra={"a": 1, "b": 2}, drop_unsupported=True)
    assert options.without("seed") == ChatOptions(
        stop=("x",), extra={"a": 1, "b": 2}, drop_unsupported=True
    )
    assert options.without("stop").given() == ["seed", "a", "b"]
    assert options.without("a").given() == ["stop", "seed", "b"]


@pytest.mark.parametrize(
    ("options", "setting", "kept", "dropped"),
    [
        pytest.param(
            ChatOptions(top_p=0.5, seed=1, presence_penalty=1.0, extra={"x": 1}),
            True,
            ChatOptions(top_p=0.5),
            ("seed", "presence_penalty", "x"),
            id="setting-on",
        ),
        pytest.param(
            ChatOptions(top_p=0.5, seed=1, drop_unsupported=True),
            False,
            ChatOptions(top_p=0.5, drop_unsupported=True),
            ("seed",),
            id="request-on-setting-off",
        ),
        pytest.param(
            ChatOptions(top_p=0.5, top_k=3), True, ChatOptions(top_p=0.5, top_k=3), (), id="none"
        ),
    ],
)
def test_fit_options_drops_what_the_provider_refuses_when_asked(
    settings, options, setting, kept, dropped
):
    from ai.providers.anthropic import AnthropicProvider

    settings.AI_DROP_PARAMS = setting
    assert AnthropicProvider().fit_options(options) == (kept, dropped)


@pytest.mark.parametrize(
    ("options", "setting", "param"),
    [
        pytest.param(ChatOptions(seed=1), False, "seed", id="setting-off"),
        pytest.param(ChatOptions(seed=1, drop_unsupported=False), True, "seed", id="request-off"),
        pytest.param(
            ChatOptions(
                tools=(Tool("f", "", {}),),
                response_format=ResponseFormat("json_object"),
                drop_unsupported=True,
            ),
            True,
            "response_format",
            id="never-structured-output",
        ),
    ],
)
def test_fit_options_refuses_when_not_asked_to_drop_or_never_drops(
    settings, options, setting, param
):
    from ai.providers.anthropic import AnthropicProvider

    settings.AI_DROP_PARAMS = setting
    with pytest.raises(UnsupportedParameterError) as err:
        AnthropicProvider().fit_options(options)
    assert err.value.param == param


def test_an_unsupported_parameter_is_a_400_naming_it():
    status, error, _ = describe(UnsupportedParameterError.of("seed", "anthropic"))
    assert status == 400
    assert error["code"] == "unsupported_parameter"
    assert error["fields"] == {"seed": ["seed is not supported by the anthropic provider."]}


def test_tool_call_builder_reassembles_fragments_in_index_order():
    builder = ToolCallBuilder()
    assert not builder
    for delta in [
        ToolCallDelta(1, "call_b", "second", ""),
        ToolCallDelta(0, "call_a", "first", '{"a"'),
        ToolCallDelta(1, arguments='{"b": 2}'),
        ToolCallDelta(0, arguments=": 1}"),
        ToolCallDelta(2, "call_c", "third"),
    ]:
        builder.add(delta)
    assert builder.calls() == (
        ToolCall("call_a", "first", '{"a": 1}'),
        ToolCall("call_b", "second", '{"b": 2}'),
        ToolCall("call_c", "third", "{}"),
    )


def test_tool_names_maps_call_ids_to_functions():
    messages = [
        Message(Role.USER, "x"),
        Message(Role.ASSISTANT, "", tool_calls=(ToolCall("c1", "f"), ToolCall("c2", "g"))),
    ]
    assert tool_names(messages) == {"c1": "f", "c2": "g"}


def test_reasoning_effort_and_drop_params_are_in_the_cache_key_only_when_set(settings):
    plain = ChatOptions(seed=1)
    low = ChatOptions(seed=1, reasoning_effort="low")
    assert low.canonical()[:-1] == plain.canonical()
    assert low.canonical()[-1] == ["low", 2048]
    settings.AI_REASONING_BUDGETS = {"low": 4096}  # another budget: another request
    assert low.canonical()[-1] == ["low", 4096]
    asked = ChatOptions(seed=1, drop_unsupported=True).canonical()
    assert asked[:-1] == plain.canonical() and asked[-1] == ["drop", True]
    assert len(plain.canonical()) == 11  # the keys of requests without them are what they were


def test_fit_options_leaves_out_an_extra_field_named_like_an_option(settings):
    from ai.providers.offline import OfflineProvider

    class Plain(OfflineProvider):  # honours no option and passes no extra field
        supported_options = frozenset()
        passes_extra = False

    # An OpenAI body's unknown "top_k" is an extra field: it is the one to leave out.
    options = ChatOptions(extra={"top_k": 5}, drop_unsupported=True)
    assert options.without("top_k") == ChatOptions(drop_unsupported=True)
    assert Plain().fit_options(options) == (ChatOptions(drop_unsupported=True), ("top_k",))
