"""The "auto" complexity classifier: a table of prompts and the class each gets, the cues that
only a conversation carries (attachments, tools, length, turns), and the operator's dials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from ai.providers.base import Message, ModelComplexity, Role
from ai.services.classifier import DEFAULTS, Classification, classify, thresholds

SIMPLE, MODERATE, COMPLEX, SEARCH = (
    ModelComplexity.SIMPLE,
    ModelComplexity.MODERATE,
    ModelComplexity.COMPLEX,
    ModelComplexity.SEARCH,
)
NEXT_YEAR = datetime.now(UTC).year + 1

TABLE = [
    # Short questions and chit-chat.
    ("hi", SIMPLE),
    ("Thanks!", SIMPLE),
    ("What is the capital of France?", SIMPLE),
    ("How are you today?", SIMPLE),  # one weak search cue is not a search
    ("What is Python?", SIMPLE),  # one code word is not a coding task
    ("Translate 'good morning' into Spanish.", SIMPLE),
    ("Write a haiku about autumn.", SIMPLE),
    ("Why is the sky blue?", SIMPLE),
    # Some work, or one reasoning cue.
    ("Write a Python function that reverses a string.", MODERATE),
    ("Compare Python and Go for building web backends.", MODERATE),
    ("Summarize the plot of Hamlet and explain why Hamlet delays his revenge.", MODERATE),
    ("Explain step by step how to change a flat tire.", MODERATE),
    ("What are the Trade-Offs of microservices? Discuss in depth.", MODERATE),  # 2 + 1
    ("Why does this crash?\n```python\nitems = [1, 2]\nprint(items[5])\n```", MODERATE),
    ("What does this do?\ndef total(xs):\n    return sum(xs)", MODERATE),
    ("Write a JavaScript function that returns today's date.", MODERATE),  # code beats "today"
    ("Is C++ faster than Java?", SIMPLE),  # code words only
    ("What's wrong?\nTraceback (most recent call last):\n  File 'app.py'\nKeyError: 'x'", MODERATE),
    ("Why is it undefined?\nconst total = items.length;", MODERATE),
    # Proofs, derivations, design, optimisation, or several cues together.
    ("Prove that there are infinitely many prime numbers.", COMPLEX),
    ("Derive the closed form of the Fibonacci sequence from first principles.", COMPLEX),
    (
        "Design a system architecture for a chat app serving 10 million users, and analyze "
        "the trade-offs.",
        COMPLEX,
    ),
    ("Optimize this:\n```python\ndef f(n):\n    return sum(i * i for i in range(n))\n```", COMPLEX),
    ("Implement a lock-free queue in C++ and explain its time complexity.", COMPLEX),
    ("Analyze and compare the economic policies of Keynes and Hayek in detail.", COMPLEX),
    # Needs fresh information from the web.
    ("What's the latest news about the Federal Reserve?", SEARCH),
    ("What is the current price of Bitcoin?", SEARCH),
    ("What's the weather in Paris today?", SEARCH),
    ("Search the web for reviews of the Framework laptop.", SEARCH),
    ("Summarize https://example.com/article", SEARCH),
    (f"Who will host the World Cup in {NEXT_YEAR}?", SEARCH),  # a recent year
    ("Who won the match last night? Look up the score.", SEARCH),
]


def _user(text: str) -> list[Message]:
    return [Message(Role.USER, text)]


@pytest.mark.parametrize(("prompt", "expected"), TABLE, ids=[p[:40] for p, _ in TABLE])
def test_table(prompt, expected):
    result = classify(_user(prompt))
    assert result.complexity == expected, result.reasons
    assert result.reasons  # always says why, the decision last
    assert "score" in result.reasons[-1]


def test_the_table_covers_every_class():
    assert len(TABLE) >= 20
    assert {expected for _, expected in TABLE} == set(ModelComplexity)


def test_reasons_name_the_cues_that_counted():
    result = classify(_user("Prove the theorem step by step."))
    assert result == Classification(
        COMPLEX,
        ("reasoning: prove, theorem, step by step", "score 10 >= complex 4"),
    )
    assert result.scores["reasoning"] == 4 + 4 + 2
    assert result.as_dict() == {
        "complexity": "complex",
        "auto": True,
        "reasons": ["reasoning: prove, theorem, step by step", "score 10 >= complex 4"],
    }


def test_search_reasons():
    result = classify(_user("Latest news on the current price of gold?"))
    assert result.complexity == SEARCH
    assert result.reasons[0] == "search: latest, news, current price"
    assert result.scores["search"] == 6


def test_deterministic_and_the_same_for_messages_or_dicts():
    prompt = "Compare the two designs and recommend one."
    as_messages = classify([Message(Role.SYSTEM, "Be brief."), Message(Role.USER, prompt)])
    as_dicts = classify(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]
    )
    assert (
        as_messages
        == as_dicts
        == classify([Message(Role.SYSTEM, "Be brief."), Message(Role.USER, prompt)])
    )
    assert as_messages.scores == as_dicts.scores


def test_cue_words_in_the_system_prompt_do_not_count():
    system = "You analyze, compare and prove things step by step. Search the web for news."
    result = classify([Message(Role.SYSTEM, system), Message(Role.USER, "hi")])
    assert result.complexity == SIMPLE


def test_only_the_last_user_message_carries_the_cues():
    messages = [
        Message(Role.USER, "Prove Fermat's little theorem."),
        Message(Role.ASSISTANT, "Done."),
        Message(Role.USER, "thanks"),
    ]
    assert classify(messages).complexity == SIMPLE


def test_length_alone():
    words = "the cat sat on the mat and looked out of the window at the rain "
    assert classify(_user(words * 5)).complexity == SIMPLE  # ~80 tokens: +1
    assert classify(_user(words * 20)).complexity == MODERATE  # ~330 tokens: +2
    long = classify(_user(words * 100))  # ~1600 tokens: +4
    assert long.complexity == COMPLEX
    assert long.reasons[0].startswith("length: ~16")


def test_a_long_conversation_adds_to_the_score():
    history = [Message(Role.USER if i % 2 == 0 else Role.ASSISTANT, "ok") for i in range(8)]
    prompt = Message(Role.USER, "Write a limerick.")
    assert classify([prompt]).complexity == SIMPLE  # task: 1
    result = classify([*history, prompt])  # 9 turns: +1
    assert result.complexity == MODERATE
    assert "conversation: 9 turns (>= 8)" in result.reasons


def test_attachments_count_when_content_comes_as_parts():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    text = {"type": "text", "text": "What is in this picture?"}
    assert classify([{"role": "user", "content": [text]}]).complexity == SIMPLE
    result = classify([{"role": "user", "content": [text, image]}])
    assert result.complexity == MODERATE
    assert "attachments: 1" in result.reasons
    two = classify([{"role": "user", "content": [text, image, image]}])
    assert two.complexity == COMPLEX


def test_tools_add_to_the_score():
    messages = _user("What time is it in Tokyo?")
    assert classify(messages).complexity == SIMPLE
    result = classify(messages, tools=True)
    assert result.complexity == MODERATE
    assert "tools offered" in result.reasons


def test_a_huge_message_is_scanned_at_its_head_and_tail_only():
    middle = "lorem ipsum " * 50_000  # 600 kB
    result = classify(_user(f"Summarize this.\n{middle}\nPlease prove it."))
    assert result.complexity == COMPLEX
    assert "reasoning: prove" in result.reasons
    hidden = classify(_user(f"{middle[:10_000]} prove {middle[:10_000]}"))
    assert "reasoning: prove" not in hidden.reasons  # in neither the head nor the tail


def test_thresholds_from_settings_change_the_class(settings):
    prompt = _user("Compare Python and Go for building web backends.")  # score 3
    assert classify(prompt).complexity == MODERATE
    settings.AI_CLASSIFIER = {"complex_score": 3}
    result = classify(prompt)
    assert result.complexity == COMPLEX
    assert result.reasons[-1] == "score 3 >= complex 3"
    settings.AI_CLASSIFIER = {"reasoning_weight": 0, "code_hint_weight": 0}
    assert classify(prompt).complexity == SIMPLE


def test_search_threshold_from_settings(settings):
    prompt = _user("How are you today?")
    settings.AI_CLASSIFIER = {"search_score": 1}
    assert classify(prompt).complexity == SEARCH


def test_explicit_settings_win_over_the_django_setting(settings):
    settings.AI_CLASSIFIER = {"complex_score": 100}
    prompt = _user("Prove that sqrt(2) is irrational.")
    assert classify(prompt).complexity == MODERATE
    assert classify(prompt, settings={}).complexity == COMPLEX
    assert classify(prompt, settings={"strong_reasoning_weight": 1}).complexity == SIMPLE


def test_an_unknown_setting_is_a_configuration_error_naming_the_valid_keys(settings):
    settings.AI_CLASSIFIER = {"complex_treshold": 3}
    with pytest.raises(ImproperlyConfigured) as caught:
        classify(_user("hi"))
    assert "complex_treshold" in str(caught.value)
    assert "complex_score" in str(caught.value)


def test_defaults_when_unset():
    assert thresholds() is DEFAULTS
    assert thresholds({"long_tokens": "500"})["long_tokens"] == 500
