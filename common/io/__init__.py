"""Readers and writers, resolved per environment and source."""

__all__: list[str] = []
