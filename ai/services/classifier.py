"""The "auto" complexity: a request sorted into SIMPLE, MODERATE, COMPLEX or SEARCH locally.

``complexity: "auto"`` on the routed endpoint and the model ``auto`` on the OpenAI-compatible
surface call :func:`classify` before routing. It makes no upstream call, reads no database and
takes a few microseconds (``python -m bench.classifier``). It is deterministic: the same
messages and settings always give the same class and the same reasons (within a calendar year,
when ``recent_year`` is left to the clock).

Cues
----
Cue words are looked for in the **last user message** (a system prompt saying "think step by
step" says nothing about this request); length counts **every message**. At most
``scan_chars`` (4000) characters of that message are searched (its head and its tail, half
each), so a pasted log of a megabyte costs no more than a page. Words are matched whole, case,
punctuation and hyphens ignored ("Trade-offs" is the cue "trade offs"), by set lookups on one
``split()`` of the text: no regular expression runs over the prompt.

- **length**: tokens estimated as characters / ``chars_per_token`` (4) over all messages. From
  ``medium_tokens`` (60) it adds ``medium_weight`` (1), from ``long_tokens`` (300)
  ``long_weight`` (2), from ``very_long_tokens`` (1500) ``very_long_weight`` (4).
- **code**: a fenced block (```) or a line that reads as source (starting ``def f(``,
  ``function f(``, ``#include``, ``from x import``, ``const x =``, ``SELECT ... FROM``, a
  traceback; ending in ``;``, ``{`` or ``):``; or ``=>``, ``console.log(`` anywhere) add
  ``code_weight`` (2); otherwise words about code (python, javascript, c++, sql, regex,
  function, bug, traceback, refactor...) add ``code_hint_weight`` (1).
- **task**: a request to produce something (write, implement, build, create, generate,
  translate, summarize...) adds ``task_weight`` (1).
- **reasoning**: plain cues (analyze, compare, explain why, evaluate, step by step, pros and
  cons, trade-offs, plan, debug...): the first adds ``reasoning_weight`` (2), each further
  distinct one ``reasoning_extra_weight`` (1). Strong cues (prove, derive, theorem, rigorous,
  optimize, architecture, design a system, time complexity, from first principles...) add
  ``strong_reasoning_weight`` (4) each.
- **attachments**: each non-text content part (image, audio, file), when messages come as
  content parts, adds ``attachment_weight`` (2), counted up to 2 parts.
- **tools**: a request that offers tools adds ``tools_weight`` (2).
- **conversation**: from ``long_conversation_turns`` (8) user/assistant messages it adds
  ``conversation_weight`` (1).
- **search** (scored apart): strong cues (latest, news, current price, stock price, weather,
  "search the web", "look up", right now, this week, recent events, a URL, a year from
  ``recent_year`` on, 0 meaning last year by the clock...) weigh 2, weak ones (today, current,
  recent, yesterday, now, this year...) 1, unless part of a strong one ("current price").

Decision
--------
1. SEARCH when the search score reaches ``search_score`` (2) and the message has no code cue
   (code about today's date is not a question about today).
2. Otherwise the sum of the other cues: COMPLEX from ``complex_score`` (4), MODERATE from
   ``moderate_score`` (2), else SIMPLE.

Tuning
------
``AI_CLASSIFIER`` in Django settings, a dict merged over :data:`DEFAULTS` at each call (an
unknown key is ``ImproperlyConfigured`` naming the valid ones)::

    AI_CLASSIFIER = {"complex_score": 6, "long_tokens": 500}

The cue word lists are fixed (compiled once); the weights and thresholds are the dials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ai.conf import ai_settings
from ai.providers.base import ModelComplexity

#: The model name that asks for classification on the OpenAI-compatible surface.
AUTO = "auto"

#: Weights and thresholds; ``AI_CLASSIFIER`` overrides any of them (see the module docstring).
DEFAULTS: dict[str, int] = {
    "chars_per_token": 4,
    "scan_chars": 4000,
    "medium_tokens": 60,
    "long_tokens": 300,
    "very_long_tokens": 1500,
    "medium_weight": 1,
    "long_weight": 2,
    "very_long_weight": 4,
    "code_weight": 2,
    "code_hint_weight": 1,
    "task_weight": 1,
    "reasoning_weight": 2,
    "reasoning_extra_weight": 1,
    "strong_reasoning_weight": 4,
    "attachment_weight": 2,
    "tools_weight": 2,
    "long_conversation_turns": 8,
    "conversation_weight": 1,
    "recent_year": 0,
    "search_score": 2,
    "moderate_score": 2,
    "complex_score": 4,
}


class _Cues:
    """A list of cue words and phrases, matched as whole words on a :class:`_Words` (case,
    punctuation and hyphens ignored: "Trade-offs" is the cue "trade offs")."""

    def __init__(self, *phrases: str) -> None:
        self.phrases = tuple(" ".join(_normal(p).split()) for p in phrases)
        # (cue, its first word, the phrase padded with spaces or None for a single word)
        self._checks = tuple(
            (p, p.split()[0], f" {p} " if " " in p else None) for p in self.phrases
        )

        self._firsts = frozenset(first for _, first, _ in self._checks)

    def found(self, words: _Words) -> list[str]:
        """The cues present, in this list's order."""
        present = self._firsts & words.set
        if not present:  # the usual case, decided in C
            return []
        out = []
        for cue, first, padded in self._checks:
            if first in present and (padded is None or padded in words.padded):
                out.append(cue)
        return out


#: Punctuation read as a space (``+`` and ``#`` stay: c++, c#).
_SPACES = str.maketrans({c: " " for c in "!\"$%&'()*,-./:;<=>?@[\\]^_`{|}~"})


def _normal(text: str) -> str:
    return text.lower().translate(_SPACES)


class _Words:
    """The words of a text (one ``split``), as a set and, when a phrase needs it, joined by
    single spaces."""

    def __init__(self, text: str) -> None:
        self.list = _normal(text).split()
        self.set = frozenset(self.list)
        self._padded: str | None = None

    @property
    def padded(self) -> str:
        if self._padded is None:
            self._padded = f" {' '.join(self.list)} "
        return self._padded


#: A line that reads as source code: how it starts, or how it ends.
_SOURCE_STARTS = ("def ", "async def ", "fn ", "func ", "function ", "#include", "from ")
_SOURCE_ENDS = (";", "{", "};", "):")
_SOURCE_ANYWHERE = ("console.log(", "System.out.print", ") =>", "=> {", "function(", "</div>")
_IMPORT = re.compile(r"import [\w.]+(?: as \w+)?;?")
_CODE_HINT = _Cues(
    "python", "javascript", "typescript", "java", "rust", "golang", "kotlin", "swift", "c#",
    "c++", "sql", "regex", "regular expression", "bash", "shell script", "code", "function",
    "script", "compile", "compiler", "bug", "traceback", "stack trace", "exception", "refactor",
    "unit test", "api", "endpoint", "django", "react", "json", "yaml",
)  # fmt: skip
_TASK = _Cues(
    "write", "implement", "build", "create", "generate", "draft", "compose", "translate",
    "summarize", "summarise", "rewrite", "convert", "fix",
)  # fmt: skip
_REASONING = _Cues(
    "analyze", "analyse", "analysis", "analyzing", "compare", "comparing", "comparison",
    "contrast", "evaluate", "explain why", "explain how", "step by step", "pros and cons",
    "trade off", "trade offs", "tradeoffs", "justify", "critique", "implications", "plan",
    "strategy", "debug", "reason about", "in depth", "in detail", "assess", "recommend",
)  # fmt: skip
_STRONG_REASONING = _Cues(
    "prove", "proving", "proof", "derive", "derivation", "theorem", "lemma", "rigorous",
    "rigorously", "formally", "optimize", "optimise", "optimization", "architecture",
    "design a system", "system design", "time complexity", "space complexity", "big o",
    "from first principles", "research plan", "threat model", "distributed", "concurrency",
    "algorithm",
)  # fmt: skip
_SEARCH = _Cues(
    "latest", "news", "headlines", "current price", "stock price", "share price",
    "exchange rate", "weather", "forecast", "search the web", "search online", "web search",
    "look up", "google", "right now", "this week", "this month", "recent events", "breaking",
    "score of", "who won", "release date", "as of today",
)  # fmt: skip
_WEAK_SEARCH = _Cues(
    "today", "tonight", "yesterday", "tomorrow", "current", "currently", "recent", "recently",
    "now", "this year", "new", "upcoming",
)  # fmt: skip
_URL_MARKS = ("http://", "https://", "www.")


def _recent_years(words: _Words, text: str, since: int) -> list[str]:
    """The years from ``since`` on that ``text`` names ("2031"), sorted."""
    if "20" not in text:
        return []
    return sorted(w for w in words.set if len(w) == 4 and w.isdigit() and since <= int(w) < 2100)


def _source_lines(text: str) -> bool:
    """Whether ``text`` has a line that reads as code (see :data:`_SOURCE_STARTS`...)."""
    if any(mark in text for mark in _SOURCE_ANYWHERE):
        return True
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_SOURCE_STARTS) and ("(" in line or " import " in line):
            return True
        if line.endswith(_SOURCE_ENDS) or line.startswith("Traceback (most recent call"):
            return True
        if line.startswith(("const ", "let ", "var ")) and " = " in line:
            return True
        if line.startswith("class ") and line.endswith((":", "{")):
            return True
        if line.startswith("SELECT ") and " FROM " in line:
            return True
        if line.startswith("import ") and _IMPORT.fullmatch(line):
            return True
    return False


_TEXT_PARTS = frozenset({"text", "input_text"})


@dataclass(frozen=True, slots=True)
class Classification:
    """What :func:`classify` decided: the class, why (one short phrase per cue that counted,
    then the decision), and the numbers (each cue's points, ``score``, ``search``, ``tokens``)."""

    complexity: ModelComplexity
    reasons: tuple[str, ...]
    scores: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict[str, Any]:
        """The response's ``routing`` explanation."""
        return {"complexity": self.complexity.value, "auto": True, "reasons": list(self.reasons)}


def thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
    """:data:`DEFAULTS` with ``overrides`` (else ``AI_CLASSIFIER``) merged over them."""
    if overrides is None:
        overrides = ai_settings.AI_CLASSIFIER or {}
    if not overrides:
        return DEFAULTS
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(
            f"AI_CLASSIFIER has unknown keys {', '.join(unknown)}; valid keys: "
            f"{', '.join(DEFAULTS)}."
        )
    return {**DEFAULTS, **{k: int(v) for k, v in overrides.items()}}


def _role_content(message: Any) -> tuple[str, Any]:
    if isinstance(message, Mapping):
        return str(message.get("role", "")), message.get("content")
    return str(getattr(message, "role", "")), getattr(message, "content", None)


def _text_and_attachments(content: Any) -> tuple[str, int]:
    """A message's text, and how many non-text parts it has (content as a string, or as
    OpenAI-style parts: ``{"type": "text", "text": ...}``, ``{"type": "image_url", ...}``)."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    attachments = 0
    for part in content if isinstance(content, Iterable) else ():
        kind = part.get("type") if isinstance(part, Mapping) else getattr(part, "type", None)
        if kind in _TEXT_PARTS or isinstance(part, str):
            text = part if isinstance(part, str) else _part_text(part)
            texts.append(text)
        else:
            attachments += 1
    return "\n".join(texts), attachments


def _part_text(part: Any) -> str:
    text = part.get("text") if isinstance(part, Mapping) else getattr(part, "text", "")
    return text if isinstance(text, str) else ""


def _quoted(cues: Sequence[str], limit: int = 4) -> str:
    return ", ".join(cues[:limit]) + (", ..." if len(cues) > limit else "")


def classify(
    messages: Sequence[Any], *, tools: bool = False, settings: Mapping[str, Any] | None = None
) -> Classification:
    """Sort a request into a :class:`~ai.providers.base.ModelComplexity`.

    ``messages``: the conversation, oldest first, as :class:`~ai.providers.base.Message` or
    dicts with ``role`` and ``content`` (a string or a list of content parts). ``tools``: the
    request offers tools. ``settings``: thresholds to use instead of ``AI_CLASSIFIER`` (merged
    over :data:`DEFAULTS` all the same). Pure: no I/O, no state.
    """
    t = thresholds(settings)
    chars = 0
    turns = 0
    attachments = 0
    last_user = ""
    for message in messages:
        role, content = _role_content(message)
        text, parts = _text_and_attachments(content)
        chars += len(text)
        if role in ("user", "assistant"):
            turns += 1
        if role == "user":
            last_user = text
            attachments += parts
    scan = t["scan_chars"]
    if len(last_user) > scan:
        last_user = f"{last_user[: scan // 2]}\n{last_user[-(scan - scan // 2) :]}"

    reasons: list[str] = []
    scores: dict[str, int] = {}
    tokens = chars // max(t["chars_per_token"], 1)
    scores["tokens"] = tokens

    # Search first: it decides on its own when it wins.
    words = _Words(last_user)
    search_cues = _SEARCH.found(words)
    weak_search = [w for w in _WEAK_SEARCH.found(words) if not any(w in s for s in search_cues)]
    lowered = last_user.lower()
    urls = any(mark in lowered for mark in _URL_MARKS)
    recent = t["recent_year"] or datetime.now(UTC).year - 1
    recent_years = _recent_years(words, last_user, recent)
    search = 2 * (len(search_cues) + len(recent_years) + urls) + len(weak_search)
    scores["search"] = search

    fenced = "```" in last_user or "~~~" in last_user
    source = not fenced and _source_lines(last_user)
    hints = _CODE_HINT.found(words)
    code = t["code_weight"] if fenced or source else (t["code_hint_weight"] if hints else 0)
    scores["code"] = code

    if search >= t["search_score"] and not code:
        cues = [*search_cues, *recent_years, *(["a URL"] if urls else []), *weak_search]
        reasons.append(f"search: {_quoted(cues)}")
        reasons.append(f"search score {search} >= {t['search_score']}")
        return Classification(ModelComplexity.SEARCH, tuple(reasons), scores)

    if tokens >= t["very_long_tokens"]:
        scores["length"] = t["very_long_weight"]
        reasons.append(f"length: ~{tokens} tokens (>= {t['very_long_tokens']})")
    elif tokens >= t["long_tokens"]:
        scores["length"] = t["long_weight"]
        reasons.append(f"length: ~{tokens} tokens (>= {t['long_tokens']})")
    elif tokens >= t["medium_tokens"]:
        scores["length"] = t["medium_weight"]
        reasons.append(f"length: ~{tokens} tokens (>= {t['medium_tokens']})")

    if fenced:
        reasons.append("code: a fenced block")
    elif source:
        reasons.append("code: source lines")
    elif hints:
        reasons.append(f"code words: {_quoted(hints)}")

    task = _TASK.found(words)
    if task:
        scores["task"] = t["task_weight"]
        reasons.append(f"task: {_quoted(task)}")

    plain = _REASONING.found(words)
    strong = _STRONG_REASONING.found(words)
    reasoning = len(strong) * t["strong_reasoning_weight"]
    if plain:
        reasoning += t["reasoning_weight"] + (len(plain) - 1) * t["reasoning_extra_weight"]
    if reasoning:
        scores["reasoning"] = reasoning
        reasons.append(f"reasoning: {_quoted(strong + plain)}")

    if attachments:
        scores["attachments"] = min(attachments, 2) * t["attachment_weight"]
        reasons.append(f"attachments: {attachments}")
    if tools:
        scores["tools"] = t["tools_weight"]
        reasons.append("tools offered")
    if turns >= t["long_conversation_turns"]:
        scores["conversation"] = t["conversation_weight"]
        reasons.append(f"conversation: {turns} turns (>= {t['long_conversation_turns']})")

    score = sum(v for k, v in scores.items() if k not in ("tokens", "search"))
    scores["score"] = score
    if score >= t["complex_score"]:
        complexity = ModelComplexity.COMPLEX
        reasons.append(f"score {score} >= complex {t['complex_score']}")
    elif score >= t["moderate_score"]:
        complexity = ModelComplexity.MODERATE
        reasons.append(f"score {score} >= moderate {t['moderate_score']}")
    else:
        complexity = ModelComplexity.SIMPLE
        reasons.append(f"score {score} < moderate {t['moderate_score']}")
    return Classification(complexity, tuple(reasons), scores)
