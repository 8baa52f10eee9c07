"""ai: an LLM gateway as a reusable Django app (OpenAI, Anthropic, Gemini behind one API)."""

__version__ = "0.1.0"
