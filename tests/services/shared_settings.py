"""The tests' settings for tests/services/test_shared_processes.py: the response cache on, a
cooldown after one failure, no retries."""

from tests.settings import *  # noqa: F403

AI_CACHE_TTL = 60
AI_COOLDOWN_FAILURES = 1
AI_COOLDOWN_SECONDS = 60
AI_MAX_RETRIES = 0

# The providers, pointed at the test process's fake upstream (tests.settings sets them None).
OPENAI_API_KEY = os.environ["OPENAI_API_KEY"]  # noqa: F405
ANTHROPIC_API_KEY = os.environ["ANTHROPIC_API_KEY"]  # noqa: F405
GOOGLE_API_KEY = os.environ["GOOGLE_API_KEY"]  # noqa: F405
OPENAI_BASE_URL = os.environ["OPENAI_BASE_URL"]  # noqa: F405
ANTHROPIC_BASE_URL = os.environ["ANTHROPIC_BASE_URL"]  # noqa: F405
GOOGLE_GEMINI_BASE_URL = os.environ["GOOGLE_GEMINI_BASE_URL"]  # noqa: F405
AI_OFFLINE_ENABLED = False
