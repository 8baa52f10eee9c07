"""One module per vendor, each a :class:`ai.services.base.BaseLLMProvider`."""
