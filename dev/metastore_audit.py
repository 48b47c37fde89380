"""The metastore service's own record of the calls it served: its audit log, one line per call.

    calls = MetastoreCalls(var / "log" / "metastore.log", "tpch_reports")
    mark = calls.mark(); ...; calls.since(mark)  # Counter({"get_table": 12, "add_partitions": 1, ...})

Used by `make bench ONLY=publish` (the calls per output) and by the tests that hold the writer
to the calls it must make. The log is the local stack's (dev/services.py); Hive 2.3's audit line
names the call, and for most calls the database and table.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

__all__ = ["LISTINGS", "MetastoreCalls", "changes"]

# Calls that list a catalog's databases or tables: a run needs none of them.
LISTINGS = ("get_all_databases", "get_databases", "get_all_tables", "get_tables", "get_table_objects_by_name")
_AUDIT = re.compile(r"HiveMetaStore\.audit: .*\tcmd=(?:source:\S+ )?(\w+)\s*:?\s*(.*)$")
_NOT_CALLS = ("Cleaning", "Done")  # a worker thread's clean-up, audited too


class MetastoreCalls:
    """The calls naming one database that the service audited after a mark, and those naming no
    table (add_partitions, for one), or every call: the caller makes sure nothing else uses the
    service meanwhile."""

    def __init__(self, log: Path, database: str | None = None) -> None:
        self.log, self.database = log, database  # None: every call

    def mark(self) -> int:
        return self.log.stat().st_size

    def since(self, mark: int) -> Counter:
        with self.log.open("rb") as fh:
            fh.seek(mark)
            text = fh.read().decode(errors="replace")
        named = re.compile(rf"\b{re.escape(self.database or '')}\b")
        calls: Counter = Counter()
        for line in text.splitlines():
            found = _AUDIT.search(line)
            if found and found.group(1) not in _NOT_CALLS and (
                    self.database is None or not found.group(2).strip() or named.search(found.group(2))):
                calls[found.group(1)] += 1
        return calls


def changes(call: str) -> bool:
    """Whether a metastore call creates, alters or locks (the rest read)."""
    return call.startswith(("alter_", "create_", "add_", "drop_", "append_", "lock", "unlock"))
