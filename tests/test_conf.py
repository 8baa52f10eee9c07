"""Provider settings: ``AI_*`` Django setting, else the unprefixed setting, else the environment
variable, else the default; read at call time. The "not configured" error names what works."""

from __future__ import annotations

import pytest

from ai.conf import FALLBACKS, ai_settings, setting_hint
from ai.exceptions import ProviderNotConfiguredError
from ai.services import clear_llm_cache, get_available_providers, get_llm_provider
from ai.services.factory import not_configured_message


@pytest.fixture(autouse=True)
def _clean(settings, monkeypatch):
    """No provider setting in either form, and none in the environment."""
    for new, old in FALLBACKS.items():
        for name in (new, old):
            if hasattr(settings, name):
                delattr(settings, name)
        monkeypatch.delenv(old, raising=False)
    clear_llm_cache()
    yield
    clear_llm_cache()


def test_the_environment_variable_is_the_default(monkeypatch):
    assert ai_settings.AI_ANTHROPIC_API_KEY is None
    assert "anthropic" not in get_available_providers()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    assert ai_settings.AI_ANTHROPIC_API_KEY == "sk-ant-from-env"  # read at call time
    assert ai_settings.ANTHROPIC_API_KEY == "sk-ant-from-env"  # the old name is an alias
    assert ai_settings.source("AI_ANTHROPIC_API_KEY") == "environment ANTHROPIC_API_KEY"
    assert "anthropic" in get_available_providers()


def test_the_unprefixed_setting_still_works_and_beats_the_environment(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings.OPENAI_API_KEY = "sk-from-setting"
    assert ai_settings.AI_OPENAI_API_KEY == "sk-from-setting"
    assert ai_settings.source("OPENAI_API_KEY") == "OPENAI_API_KEY"


def test_the_ai_setting_wins(settings, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-env")
    settings.GOOGLE_API_KEY = "AIza-host-own-use"  # the host's own, for something else
    settings.AI_GOOGLE_API_KEY = "AIza-gateway"
    assert ai_settings.GOOGLE_API_KEY == ai_settings.AI_GOOGLE_API_KEY == "AIza-gateway"
    assert ai_settings.source("GOOGLE_API_KEY") == "AI_GOOGLE_API_KEY"


def test_a_defined_setting_wins_even_when_empty(settings, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings.AI_OPENAI_API_KEY = None  # the host turns the provider off, whatever the env says
    assert ai_settings.AI_OPENAI_API_KEY is None
    assert "openai" not in get_available_providers()


def test_base_urls_and_api_version_resolve_the_same_way(settings, monkeypatch):
    assert ai_settings.GOOGLE_GEMINI_API_VERSION == "v1beta"  # the default
    monkeypatch.setenv("GOOGLE_GEMINI_API_VERSION", "v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://env.example")
    assert ai_settings.AI_GOOGLE_GEMINI_API_VERSION == "v1"
    assert ai_settings.ANTHROPIC_BASE_URL == "http://env.example"
    settings.AI_ANTHROPIC_BASE_URL = "http://setting.example"
    assert ai_settings.ANTHROPIC_BASE_URL == "http://setting.example"


def test_unknown_names_are_refused():
    with pytest.raises(AttributeError):
        _ = ai_settings.AI_NO_SUCH_THING


@pytest.mark.parametrize(
    ("provider", "setting", "env"),
    [
        ("openai", "AI_OPENAI_API_KEY", "OPENAI_API_KEY"),
        ("anthropic", "AI_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        ("gemini", "AI_GOOGLE_API_KEY", "GOOGLE_API_KEY"),
    ],
)
def test_not_configured_names_the_setting_and_the_variable(provider, setting, env):
    expected = (
        f"The {provider} provider is not configured: set {setting} in your Django settings "
        f"(or the {env} environment variable)."
    )
    assert not_configured_message(provider) == expected
    with pytest.raises(ProviderNotConfiguredError) as info:
        get_llm_provider(provider)
    assert info.value.message == expected
    assert setting_hint(env) == setting_hint(setting)


def test_not_configured_offline(settings):
    settings.AI_OFFLINE_ENABLED = False
    with pytest.raises(ProviderNotConfiguredError, match="set AI_OFFLINE_ENABLED = True"):
        get_llm_provider("offline")


def test_a_key_from_the_environment_builds_the_provider(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-123")
    provider = get_llm_provider("anthropic")
    assert provider.name == "anthropic"


def test_a_remembered_value_is_forgotten_when_settings_change(settings):
    from ai.conf import ai_settings

    settings.AI_MAX_RETRIES = 5
    assert ai_settings.AI_MAX_RETRIES == 5
    assert ai_settings.AI_MAX_RETRIES == 5  # now from the instance, without asking Django
    settings.AI_MAX_RETRIES = 1
    assert ai_settings.AI_MAX_RETRIES == 1


def test_provider_settings_follow_the_environment_without_a_settings_change(settings, monkeypatch):
    from ai.conf import ai_settings

    settings.OPENAI_API_KEY = None
    del settings.OPENAI_API_KEY
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-one")
    assert ai_settings.AI_OPENAI_API_KEY == "sk-env-one"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-two")
    assert ai_settings.OPENAI_API_KEY == "sk-env-two"


@pytest.mark.parametrize(
    ("path", "setting", "variable"),
    [
        ("ai.providers.openai.OpenAIProvider", "AI_OPENAI_API_KEY", "OPENAI_API_KEY"),
        ("ai.providers.anthropic.AnthropicProvider", "AI_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        ("ai.providers.gemini.GeminiProvider", "AI_GOOGLE_API_KEY", "GOOGLE_API_KEY"),
    ],
)
def test_a_provider_without_its_key_names_what_to_set(path, setting, variable):
    from django.utils.module_loading import import_string

    from ai.exceptions import ProviderNotConfiguredError

    with pytest.raises(ProviderNotConfiguredError) as caught:
        import_string(path)()._make_client()
    assert f"set {setting} in your Django settings (or the {variable} environment" in str(
        caught.value
    )
