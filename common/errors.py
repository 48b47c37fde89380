"""Named exceptions. Each message names the problem and the fix, on one line where it can."""

from __future__ import annotations

__all__ = [
    "PysparkJobsError",
    "ConfigError",
    "UnknownJobError",
    "ParamError",
    "ContractViolation",
    "SourceError",
    "EmptyOutput",
    "QaIsolationError",
    "CheckError",
    "RefError",
    "MigrationRefused",
]


class PysparkJobsError(Exception):
    """Base of every error the framework raises on purpose; the CLI prints these as one line."""


class ConfigError(PysparkJobsError):
    """Settings, credentials or environment are missing or inconsistent."""


class UnknownJobError(PysparkJobsError):
    """No registered job has the requested name."""


class ParamError(PysparkJobsError):
    """A run parameter (ds or a job param) is unknown or malformed."""


class ContractViolation(PysparkJobsError):
    """A DataFrame does not match its table contract; lists every violation."""

    def __init__(self, table: str, violations: list[str]) -> None:
        self.table = table
        self.violations = list(violations)
        super().__init__(
            f"{table}: {len(self.violations)} contract violation(s): " + "; ".join(self.violations)
        )


class SourceError(PysparkJobsError):
    """An input could not be read: table missing, database unreachable, schema drifted."""


class EmptyOutput(SourceError):
    """A run left an output with no rows: nothing was published (its inputs hold no data for ds yet)."""


class QaIsolationError(PysparkJobsError):
    """A qa run tried to write outside its branch namespace."""


class CheckError(PysparkJobsError):
    """The static check found errors (the report lists them)."""


class RefError(PysparkJobsError):
    """A git ref is unknown, or the jobs at it do not load (`check --against`)."""


class MigrationRefused(PysparkJobsError):
    """`migrate-table --apply` changed nothing: no change to make, a breaking one not allowed, or one needing a rewrite."""
