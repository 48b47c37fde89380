"""Where a logical table lives in each environment (local, qa + branch, prod).

Job code names tables logically ("tpch_reports.q01"); this module is the only place that
maps them. A qa run writes to databases prefixed with its branch slug and reads production
(read-only) unless its own namespace already has the table from an upstream qa job.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from common.contracts import Table
from common.errors import ConfigError, QaIsolationError
from common.slug import branch_slug

__all__ = ["Environment", "ENVIRONMENTS"]

log = logging.getLogger(__name__)
ENVIRONMENTS = ("local", "qa", "prod")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Environment:
    name: str
    branch: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ENVIRONMENTS:
            raise ConfigError(f"unknown env {self.name!r}: use one of {', '.join(ENVIRONMENTS)}")
        if self.name == "qa" and not self.branch:
            raise ConfigError("env qa needs --branch NAME: qa outputs go to that branch's namespace")

    @property
    def slug(self) -> str | None:
        return branch_slug(self.branch) if self.name == "qa" and self.branch else None

    @property
    def qa_prefix(self) -> str:
        return f"qa_{self.slug}__"

    def output_name(self, table: Table) -> str:
        """The physical `database.table` an output is written to."""
        if self.name == "qa":
            return f"{self.qa_prefix}{table.database}.{table.table}"
        return table.name

    def output_location(self, table: Table, *, lake_root: str, qa_root: str) -> str:
        """Where an output's files live: an EXTERNAL table under the lake root, or for qa under
        the branch's own prefix, so a bucket policy can confine a branch to qa_root/<slug>/."""
        if self.name == "qa":
            return f"{qa_root.rstrip('/')}/{self.slug}/{table.database}/{table.table}"
        return f"{lake_root.rstrip('/')}/{table.database}/{table.table}"

    def input_name(self, table: Table, exists: Callable[[str], bool]) -> str:
        """The physical name an input is read from: qa prefers its own namespace."""
        if self.name == "qa":
            own = self.output_name(table)
            if exists(own):
                return own
        return table.name

    def check_write(self, physical: str) -> None:
        """Refuse a qa write that would land outside the branch namespace."""
        database, _, name = physical.partition(".")
        if not (_IDENT.fullmatch(database) and _IDENT.fullmatch(name)):
            log.error("refused write to %r from env %s: not a plain database.table name", physical, self.name)
            raise QaIsolationError(f"refused write to {physical!r}: not a plain database.table name")
        if self.name != "qa":
            return
        rest = database[len(self.qa_prefix) :]
        if database.startswith(self.qa_prefix) and (not _IDENT.fullmatch(rest) or "__" in rest):
            # branch `a` (prefix qa_a__) must not reach qa_a__3f9c0e1b2a__tpch, branch `A`'s namespace
            log.error("qa isolation: refused write to %s from branch %s", physical, self.branch)
            raise QaIsolationError(
                f"refused: qa run of branch {self.branch!r} tried to write {physical}, which is not "
                f"{self.qa_prefix}<database> for a plain database name; it may be another branch's namespace"
            )
        if not database.startswith(self.qa_prefix):
            log.error("qa isolation: refused write to %s from branch %s", physical, self.branch)
            raise QaIsolationError(
                f"refused: qa run of branch {self.branch!r} tried to write {physical}, a production "
                f"table; qa outputs must go to databases starting with {self.qa_prefix!r}"
            )
