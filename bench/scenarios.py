"""What the harness sends: the same chat, direct to each vendor's wire on the fake upstream and
through the gateway's real endpoint (JWT auth, routing, usage recording on)."""

from __future__ import annotations

import orjson

from bench.loadgen import Target

PROMPT = "Say hello to the benchmark"
GATEWAY_PATH = "/api/v1/app/ai/completions"
PROMPT_BODY = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]})

#: provider -> model the gateway is asked for (real names, so pricing and routing are real).
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5-20250929",
    "gemini": "gemini-2.5-flash",
    "offline": "offline-echo",
}
UPSTREAM_PROVIDERS = ("openai", "anthropic", "gemini")

#: Fake keys: the fake accepts any key but "bad-key".
KEYS = {"openai": "sk-bench-openai", "anthropic": "sk-ant-bench", "gemini": "AIza-bench"}
ANTHROPIC_VERSION = "2026-10-21"


def _json(obj: object) -> bytes:
    return orjson.dumps(obj)


def direct(provider: str, upstream: str, *, stream: bool, chunks: int, text: str = PROMPT):
    """The request the provider's SDK would send, straight to the fake upstream."""
    model = MODELS[provider]
    if provider == "openai":
        body: dict = {"model": model, "messages": [{"role": "user", "content": text}]}
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        headers = {"Authorization": f"Bearer {KEYS['openai']}"}
        return Target(
            f"{upstream}/v1/chat/completions",
            _json(body),
            _headers(headers, stream),
            "openai",
            chunks if stream else None,
        )
    if provider == "anthropic":
        body = {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": text}]}
        if stream:
            body["stream"] = True
        headers = {
            "Authorization": f"Bearer {KEYS['anthropic']}",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        return Target(
            f"{upstream}/v1/messages",
            _json(body),
            _headers(headers, stream),
            "anthropic",
            chunks if stream else None,
        )
    if provider == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        headers = {"x-goog-api-key": KEYS["gemini"]}
        return Target(
            f"{upstream}/v1beta/models/{model}:{verb}",
            _json(body),
            _headers(headers, stream),
            "gemini",
            chunks if stream else None,
        )
    raise ValueError(f"no direct wire for {provider!r}")


def gateway(
    provider: str, base: str, token: str, *, stream: bool, chunks: int | None, text: str = PROMPT
) -> Target:
    """The same chat through the gateway's completions endpoint, as an API client sends it."""
    body = {
        "messages": [{"role": "user", "content": text}],
        "provider": provider,
        "model": MODELS[provider],
        "stream": stream,
    }
    headers = {"Authorization": f"Bearer {token}"}
    expect = chunks if stream and provider in UPSTREAM_PROVIDERS else None
    return Target(
        f"{base}{GATEWAY_PATH}", _json(body), _headers(headers, stream), "gateway", expect
    )


def _headers(extra: dict[str, str], stream: bool) -> dict[str, str]:
    accept = "text/event-stream" if stream else "application/json"
    return {"Content-Type": "application/json", "Accept": accept, **extra}


def gateway_env(*, upstream: str, database_url: str, transport: str) -> dict[str, str]:
    """Settings for gateway_project: every provider pointed at the fake, usage on."""
    return {
        "DJANGO_SETTINGS_MODULE": "gateway_project.settings",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "OPENAI_API_KEY": KEYS["openai"],
        "ANTHROPIC_API_KEY": KEYS["anthropic"],
        "GOOGLE_API_KEY": KEYS["gemini"],
        "OPENAI_BASE_URL": f"{upstream}/v1",
        "ANTHROPIC_BASE_URL": upstream,
        "GOOGLE_GEMINI_BASE_URL": upstream,
        "AI_HTTP_TRANSPORT": transport,
        "AI_OFFLINE_ENABLED": "true",
        "AI_DEFAULT_PROVIDER": "openai",
        "AI_USAGE_ENABLED": "true",
        "AI_LOG_LEVEL": "WARNING",
        "JWT_ACCESS_MINUTES": "1440",
    }
