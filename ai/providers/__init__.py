"""One module per vendor, each a :class:`ai.providers.base.BaseLLMProvider`."""
