"""Integrations with training frameworks: ``transformers`` (``MTBenchCallback``); each imports its framework
only when imported itself, so the core install needs none of them."""
