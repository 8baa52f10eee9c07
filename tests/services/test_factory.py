import pytest

from ai.exceptions import ProviderNotConfiguredError, UnknownProviderError
from ai.providers.offline import OfflineProvider
from ai.services import (
    clear_llm_cache,
    get_available_providers,
    get_llm_provider,
    is_ai_available,
)
from tests.fresh import run_python


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_llm_cache()
    yield
    clear_llm_cache()


def test_default_provider_comes_from_settings(settings):
    settings.AI_DEFAULT_PROVIDER = "offline"
    assert isinstance(get_llm_provider(), OfflineProvider)


def test_instances_are_cached_until_cleared():
    first = get_llm_provider("offline")
    assert get_llm_provider("offline") is first
    clear_llm_cache()
    assert get_llm_provider("offline") is not first


def test_missing_key_raises_value_error_naming_the_setting(settings):
    settings.ANTHROPIC_API_KEY = None
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY") as info:
        get_llm_provider("anthropic")
    assert isinstance(info.value, ProviderNotConfiguredError)


def test_unknown_provider_lists_the_valid_ones():
    with pytest.raises(UnknownProviderError, match="openai, anthropic, gemini, offline"):
        get_llm_provider("perplexity")


def test_available_providers_follow_the_keys(settings):
    settings.OPENAI_API_KEY = None
    settings.ANTHROPIC_API_KEY = None
    settings.GOOGLE_API_KEY = None
    settings.AI_OFFLINE_ENABLED = False
    assert get_available_providers() == []
    assert not is_ai_available()
    settings.GOOGLE_API_KEY = "AIza-x"
    settings.OPENAI_API_KEY = "sk-x"
    assert get_available_providers() == ["openai", "gemini"]
    assert is_ai_available()


def test_settings_change_clears_the_cache(settings):
    first = get_llm_provider("offline")
    settings.AI_OFFLINE_DELAY_MS = 1
    assert get_llm_provider("offline") is not first


def test_default_models_match_the_provider_classes():
    from django.utils.module_loading import import_string

    from ai.services.factory import DEFAULT_MODELS, PROVIDER_CLASSES

    assert set(DEFAULT_MODELS) == set(PROVIDER_CLASSES.values())
    for path, model in DEFAULT_MODELS.items():
        assert import_string(path).default_model == model


def test_naming_an_unconfigured_provider_does_not_import_its_sdk():
    # A fresh interpreter: this one has imported every SDK already.
    code = (
        "import django, sys, asyncio;"
        "django.setup();"
        "from ai.services.router import get_llm_router;"
        "plan = asyncio.run(get_llm_router().plan(provider='anthropic'));"
        "print(plan[0].model, 'anthropic' in sys.modules)"
    )
    assert run_python(code).split() == ["claude-sonnet-4-5-20250929", "False"]
