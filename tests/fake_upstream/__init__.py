"""A fake upstream that speaks OpenAI's, Anthropic's and Gemini's real wire protocols on 127.0.0.1.

Tests drive the official SDKs against it; benchmarks and demos start it on its own:
``python -m tests.fake_upstream --port 9100``. See scenario.py for the directives a request can
carry in its text to make the fake misbehave (``[[fake:status=429 retry_after=2]]``).
"""

from tests.fake_upstream.scenario import Scenario, fake_prompt_tokens, reply_deltas
from tests.fake_upstream.server import FakeUpstream

__all__ = ["FakeUpstream", "Scenario", "fake_prompt_tokens", "reply_deltas"]
