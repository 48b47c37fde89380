"""pyspark-jobs framework: jobs, contracts, readers/writers per environment, static check.

Nothing heavy is imported here: job metadata must be importable without pyspark.
"""

__all__: list[str] = []
__version__ = "0.1.0"
