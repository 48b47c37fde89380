"""`pyspark-jobs check --against REF`: every output contract against the one at a git ref.

Each change is classified by common.contract_change (safe or breaking) and names the jobs that
read what it affects. A breaking change fails the check unless the change also adds or
modifies `migrations/<database>.<table>.toml`, the reviewed migration `pyspark-jobs
migrate-table` applies (docs/CHECK.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from common.contract_change import Change, contract_changes
from common.job_snapshot import Snapshot, changed_files, default_ref, resolve_ref, snapshot, snapshot_at

__all__ = ["Verdict", "compare", "migration_path", "check_against"]

# Changes a reader feels only if it declares the column; the others concern every reader.
_COLUMN_KINDS = {"drop_column", "rename_column", "widen_type", "narrow_type", "change_type",
                 "nullable_to_not_null", "not_null_to_nullable"}


def migration_path(table: str) -> str:
    return f"migrations/{table}.toml"


@dataclass(frozen=True)
class Verdict:
    """One change to one table, the jobs reading what it affects, and whether it passes."""

    table: str
    text: str
    breaking: bool
    readers: tuple[str, ...]
    migrated: bool  # the table's migration file is part of the change

    @property
    def fails(self) -> bool:
        return self.breaking and not self.migrated

    def render(self) -> str:
        tag = "safe    " if not self.breaking else ("migrated" if self.migrated else "BREAKING")
        read = f"read by {', '.join(self.readers)}" if self.readers else "no job reads it"
        migration = f"; migration {migration_path(self.table)} is part of the change" if self.migrated else ""
        return f"{tag} {self.text}; {read}{migration}"


def _readers(change: Change, new: Snapshot) -> tuple[str, ...]:
    readers = new.readers(change.table)
    if change.kind in _COLUMN_KINDS:
        wanted = {change.column, change.old if change.kind in ("drop_column", "rename_column") else None}
        return tuple(job for job, columns in readers.items() if wanted & set(columns))
    return tuple(readers)


def compare(old: Snapshot, new: Snapshot, migrations: set[str]) -> list[Verdict]:
    """A verdict per change, table by table; `migrations` holds the tables whose migration changed."""
    before, after = old.tables, new.tables
    verdicts = []
    for table in sorted(before.keys() | after.keys()):
        migrated = table in migrations
        if table not in after:
            text = f"{table}: no job writes the table any more"
            verdicts.append(Verdict(table, text, True, tuple(new.readers(table)), migrated))
            continue
        if table not in before:
            continue  # a new table breaks no reader
        for change in contract_changes(table, before[table], after[table]):
            verdicts.append(Verdict(table, change.describe(), change.breaking, _readers(change, new), migrated))
    return verdicts


def check_against(root: Path, ref: str | None, *, out: TextIO) -> bool:
    """Print every contract change against `ref` (default: the merge base with main); True when none fails."""
    commit, how = default_ref(root) if not ref else (resolve_ref(root, ref), ref)
    label = f"{how} ({commit[:12]})"
    old, new = snapshot_at(root, commit, label), snapshot(root)
    files = changed_files(root, commit)
    migrations = {
        path.removeprefix("migrations/").removesuffix(".toml")
        for path, status in files.items()
        if path.startswith("migrations/") and path.endswith(".toml") and status in ("A", "M")
    }
    verdicts = compare(old, new, migrations)
    for verdict in verdicts:
        print(verdict.render(), file=out)
    failing = sum(v.fails for v in verdicts)
    print(
        f"contracts against {label}: {len(verdicts)} change(s), {sum(v.breaking for v in verdicts)} breaking, "
        f"{failing} without a migration",
        file=out,
    )
    return failing == 0
