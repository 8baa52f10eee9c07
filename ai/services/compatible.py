"""OpenAI-compatible providers declared in settings (Ollama, vLLM, LM Studio, Groq, Together,
Mistral, DeepSeek, OpenRouter, Perplexity...): what each is called, where it is and what it
serves. The provider class is :class:`ai.providers.compatible.CompatibleProvider`; the factory
(:mod:`ai.services.factory`) builds one per name.

Declared in the Django setting ``AI_PROVIDERS``::

    AI_PROVIDERS = {
        "groq": {
            "base_url": "https://api.groq.com/openai/v1",
            "api_key": "gsk_...",
            "models": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
            "default_model": "llama-3.3-70b-versatile",  # optional: the first model
            "prices": {"llama-3.3-70b-versatile": {"input": "0.59", "output": "0.79"}},
            "supports": ["tools", "tool_choice", "stop", "top_p", "seed"],  # optional
        },
        "together": {..., "embedding_model": "BAAI/bge-base-en-v1.5"},  # for /embeddings
        "ollama": {"base_url": "http://localhost:11434/v1", "models": ["llama3.2"]},
    }

or in environment variables, ``AI_PROVIDER_<NAME>_BASE_URL``, ``AI_PROVIDER_<NAME>_API_KEY``
and ``AI_PROVIDER_<NAME>_MODELS`` (comma-separated), and optionally ``..._DEFAULT_MODEL`` and
``..._EMBEDDING_MODEL``, ``<NAME>`` being the provider's name in capitals (``LM_STUDIO``:
``lm_studio``). A field the setting leaves out is taken from the environment, so a key can live
in the environment and the rest in settings.

A provider is configured when it has a base URL; one without a key (a local server) is sent a
placeholder key, never another provider's. ``prices`` are USD per million tokens (``input``,
``output``, optional ``cached_input``; the model ``"*"`` prices every model), used when the price
table (``ai.models.ModelPrice``) has none: a model priced nowhere costs 0 on a provider without a
key (a local server) and is "price unknown" on one with a key (:func:`declared_price`).
``supports`` lists the :class:`ai.providers.parts.ChatOptions` names the vendor honours (default:
all of OpenAI's); ``embedding_model`` is the model of an embeddings request naming none (none:
it must name one).

The declarations are read on first use and again after any Django setting changes
(``setting_changed``) or :func:`ai.services.factory.clear_llm_cache`; the environment is read at
those moments too (scanning it on every request would cost more than the request's routing).
Problems (a name that is not a name, a missing base URL, an unknown option) are reported by the
system check ``ai.E050``; such a declaration is still listed so the check can name it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.signals import setting_changed

from ai.conf import ai_settings
from ai.providers.parts import OPTION_NAMES

#: What a provider's name may look like: it is the ``<name>`` of ``<name>/<model>``.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
ENV_PREFIX = "AI_PROVIDER_"
#: Environment variable suffix -> declaration field.
ENV_FIELDS = {
    "_BASE_URL": "base_url",
    "_API_KEY": "api_key",
    "_MODELS": "models",
    "_DEFAULT_MODEL": "default_model",
    "_EMBEDDING_MODEL": "embedding_model",
}
FIELDS = frozenset(
    {"base_url", "api_key", "models", "default_model", "prices", "supports", "embedding_model"}
)
PRICE_FIELDS = frozenset({"input", "output", "cached_input"})


@dataclass(frozen=True, slots=True)
class Declaration:
    """One OpenAI-compatible provider as declared. ``problems`` says what is wrong with it (for
    the system check); a declaration with problems is not configured."""

    name: str
    base_url: str | None = None
    api_key: str | None = None
    models: tuple[str, ...] = ()
    default_model: str | None = None
    #: Model (or ``"*"``) -> price per million tokens: ``{"input", "output", "cached_input"}``.
    prices: Mapping[str, Mapping[str, Decimal | None]] = field(default_factory=dict)
    #: ChatOptions names it honours; None: every option OpenAI's Chat Completions takes.
    supports: frozenset[str] | None = None
    #: The model of an embeddings request that names none (None: it must name one).
    embedding_model: str | None = None
    #: Where it was declared: ``"AI_PROVIDERS"``, ``"environment"`` or both.
    source: str = "AI_PROVIDERS"
    problems: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.base_url) and not self.problems

    def serves(self, model: str) -> bool:
        """Whether ``model`` is one of its declared models (chat or embedding)."""
        return model in self.models or model == self.embedding_model

    @property
    def model(self) -> str:
        """The model a request naming none gets: ``default_model``, else the first model."""
        return self.default_model or (self.models[0] if self.models else "")


_declared: dict[str, Declaration] | None = None


def declared() -> dict[str, Declaration]:
    """Every declared provider by name, in declaration order (settings first, then the
    environment), clashes with built-in names and problems included."""
    global _declared
    if _declared is None:
        _declared = _read(ai_settings.AI_PROVIDERS, os.environ)
    return _declared


def forget() -> None:
    """Read the declarations again on next use (settings or environment changed)."""
    global _declared
    _declared = None


def _forget_on_change(*, setting: str, **_: Any) -> None:
    if setting.startswith("AI_"):
        forget()


setting_changed.connect(_forget_on_change, dispatch_uid="ai.services.compatible.forget")


def env_name(name: str, suffix: str) -> str:
    """The environment variable for ``name``'s field: ``AI_PROVIDER_GROQ_API_KEY``."""
    return f"{ENV_PREFIX}{name.upper().replace('-', '_').replace('.', '_')}{suffix}"


def _from_environment(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        for suffix, name in ENV_FIELDS.items():
            if key.endswith(suffix) and len(key) > len(ENV_PREFIX) + len(suffix):
                provider = key[len(ENV_PREFIX) : -len(suffix)].lower()
                found.setdefault(provider, {})[name] = value
                break
    return found


def _read(setting: object, environ: Mapping[str, str]) -> dict[str, Declaration]:
    entries: dict[str, tuple[Any, str]] = {}
    if setting is not None and not isinstance(setting, Mapping):
        entries["AI_PROVIDERS"] = (setting, "AI_PROVIDERS")  # reported by the check
    elif setting:
        for name, spec in setting.items():
            entries[str(name)] = (spec, "AI_PROVIDERS")
    for name, fields in _from_environment(environ).items():
        spec = entries.get(name, (None, ""))[0]
        if spec is None:
            entries[name] = (fields, "environment")
        elif isinstance(spec, Mapping):
            # The setting's own fields win; the environment fills in the others (the key).
            merged = {**fields, **{k: v for k, v in spec.items() if v is not None}}
            entries[name] = (merged, "AI_PROVIDERS and environment")
    return {name: _declaration(name, spec, source) for name, (spec, source) in entries.items()}


def _declaration(name: str, spec: Any, source: str) -> Declaration:
    problems: list[str] = []
    if not NAME_PATTERN.fullmatch(name):
        problems.append(
            f"{name!r} is not a valid provider name (lowercase letters, digits, '_', '-' "
            "and '.', at most 32 characters): it is the <name> of '<name>/<model>'."
        )
    if not isinstance(spec, Mapping):
        problems.append(f"its declaration must be a dict, not {type(spec).__name__}.")
        return Declaration(name, source=source, problems=tuple(problems))
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(FIELDS))}."
        )
    base_url = _text(spec.get("base_url"), "base_url", problems)
    if not base_url:
        problems.append(
            f"it has no base_url: set AI_PROVIDERS[{name!r}]['base_url'] or the "
            f"{env_name(name, '_BASE_URL')} environment variable."
        )
    models = _models(spec.get("models"), problems)
    default_model = _text(spec.get("default_model"), "default_model", problems)
    return Declaration(
        name=name,
        base_url=base_url,
        api_key=_text(spec.get("api_key"), "api_key", problems),
        models=models,
        default_model=default_model,
        prices=_prices(spec.get("prices"), problems),
        supports=_supports(spec.get("supports"), problems),
        embedding_model=_text(spec.get("embedding_model"), "embedding_model", problems),
        source=source,
        problems=tuple(problems),
    )


def _text(value: Any, what: str, problems: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{what} must be a string, not {type(value).__name__}.")
        return None
    return value.strip() or None


def _models(value: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # the environment's comma-separated list
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(m, str) for m in value):
        problems.append("models must be a list of model names (or a comma-separated string).")
        return ()
    return tuple(dict.fromkeys(m.strip() for m in value if m.strip()))


def _supports(value: Any, problems: list[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple | set | frozenset):
        problems.append("supports must be a list of option names.")
        return None
    unknown = sorted(str(v) for v in value if v not in OPTION_NAMES)
    if unknown:
        problems.append(
            f"supports names unknown option(s) {', '.join(unknown)}; valid: "
            f"{', '.join(OPTION_NAMES)}."
        )
    return frozenset(v for v in value if v in OPTION_NAMES)


def _prices(value: Any, problems: list[str]) -> dict[str, dict[str, Decimal | None]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append('prices must be a dict: {model: {"input": ..., "output": ...}}.')
        return {}
    prices: dict[str, dict[str, Decimal | None]] = {}
    for model, price in value.items():
        if not isinstance(price, Mapping) or not {"input", "output"} <= set(price):
            problems.append(f"prices[{model!r}] must have input and output (USD per 1M tokens).")
            continue
        try:
            prices[str(model)] = {
                key: None if price.get(key) is None else Decimal(str(price[key]))
                for key in PRICE_FIELDS
            }
        except InvalidOperation:
            problems.append(f"prices[{model!r}] must hold numbers (USD per 1M tokens).")
    return prices


#: The price of a model of a provider declared without a key (a local server): nothing.
FREE: Mapping[str, Decimal | None] = {
    "input": Decimal(0),
    "output": Decimal(0),
    "cached_input": None,
}


def declared_price(provider: str, model: str) -> Mapping[str, Decimal | None] | None:
    """The price per million tokens (``input``, ``output``, ``cached_input``) the declaration of
    ``provider`` gives ``model`` (or ``"*"``), :data:`FREE` for any model of a provider declared
    without a key (a local server), else None (not a declared provider, or unpriced: the price
    table decides, and without a row there the cost is unknown)."""
    declaration = declared().get(provider)
    if declaration is None:
        return None
    price = declaration.prices.get(model) or declaration.prices.get("*")
    if price is not None:
        return price
    return FREE if declaration.api_key is None else None
