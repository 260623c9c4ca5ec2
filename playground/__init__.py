"""LLM Playground: train a small GPT on your own text and look inside it."""

__version__ = "0.1.0"
