"""The business jobs. Job modules hold metadata only; DataFrame code lives in `transforms`."""

__all__: list[str] = []
