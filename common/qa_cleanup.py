"""`pyspark-jobs qa cleanup`: remove the qa deployments of branches nobody needs any more.

A branch's qa deployment is its databases `qa_<slug>__<db>`, their data under
`<qa_root>/<slug>/` and its artifacts under `<store>/<slug>/`. They are removed when git says
the branch is merged into main or deleted, or when the newest of its files is older than the
idle limit. Production is never a candidate: `qa_`-less databases are never looked at, the
reserved slugs (`prod`, ...) and the production branch's slug are skipped, and a database or
table whose location lies outside `<qa_root>/<slug>/` (or a managed table, whose drop would
delete its files wherever they are) is refused, not dropped. Iceberg tables, which Spark lists as
managed, are dropped from the metastore only (no PURGE) and their files go with the branch's
directory: so they too must keep every file path inside it.
"""

from __future__ import annotations

import logging
import posixpath
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol
from urllib.parse import urlsplit

from common.errors import ParamError
from common.slug import RESERVED_SLUGS, branch_slug, is_valid_slug

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["Candidate", "Git", "GitBranches", "apply_cleanup", "parse_age", "plan_cleanup"]

log = logging.getLogger(__name__)
_AGE = re.compile(r"^(\d+)([dh])$")
PROD_BRANCH = "main"


def parse_age(text: str) -> float:
    """`14d` or `36h` in seconds."""
    found = _AGE.fullmatch(text.strip())
    if not found:
        raise ParamError(f"--older-than {text!r}: use days or hours, e.g. 14d or 36h")
    return int(found.group(1)) * (86400 if found.group(2) == "d" else 3600)


class GitBranches(Protocol):
    def branches(self) -> set[str]: ...  # every branch that exists
    def merged(self) -> set[str]: ...  # the branches merged into the production branch


@dataclass(frozen=True)
class Git:
    """Branches as the remote knows them (run `git fetch --prune` first)."""

    repo: Path
    remote: str = "origin"
    main: str = PROD_BRANCH

    def _refs(self, *options: str) -> set[str]:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(self.repo),
                "for-each-ref",
                "--format=%(refname:short)",
                *options,
                f"refs/remotes/{self.remote}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        prefix = f"{self.remote}/"
        return {r.removeprefix(prefix) for r in out.split() if r.startswith(prefix) and r != f"{prefix}HEAD"}

    def branches(self) -> set[str]:
        return self._refs()

    def merged(self) -> set[str]:
        return self._refs("--merged", f"{self.remote}/{self.main}")


def _normal(uri: str) -> str:
    parts = urlsplit(uri if "://" in uri or uri.startswith("file:") else f"file://{uri}")
    scheme = {"s3a": "s3", "s3n": "s3"}.get(parts.scheme, parts.scheme or "file")
    return f"{scheme}://{parts.netloc}{posixpath.normpath(parts.path or '/')}"


def _inside(uri: str, root: str) -> bool:
    uri, root = _normal(uri), _normal(root)
    return uri.startswith(root.rstrip("/") + "/")


@dataclass
class Candidate:
    slug: str
    reason: str
    databases: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def lines(self, verb: str) -> list[str]:
        if self.refused:
            return [f"refused {self.slug} ({self.reason}): {r}" for r in self.refused]
        return [f"{verb} {self.slug} ({self.reason}): {what}" for what in (*self.databases, *self.paths)]


# Iceberg table properties that put a table's files somewhere other than under its location.
_ICEBERG_PATHS = ("write.data.path", "write.metadata.path", "write.object-storage.path", "write.folder-storage.path")


def _table_refusals(spark: SparkSession, table: str, allowed: str) -> list[str]:
    from common.contracts import ICEBERG
    from common.io.table_format import described

    details = described(spark, table)
    where, kind = details.get("Location", ""), details.get("Type", "")
    if details.get("Provider", "").lower() == ICEBERG:
        properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
        paths = [("location", where)] + [(k, properties[k]) for k in _ICEBERG_PATHS if properties.get(k)]
        return [f"iceberg table {table} keeps files at {path} ({what}), outside {allowed}"
                for what, path in paths if not _inside(path, allowed)]
    if kind.upper() != "EXTERNAL":
        return [f"table {table} is {kind or 'not EXTERNAL'}: dropping it would delete {where}"]
    if not _inside(where, allowed):
        return [f"table {table} is at {where}, outside {allowed}"]
    return []


def _tables(spark: SparkSession, database: str) -> list[str]:
    """The database's own tables: `listTables` also lists the session's temporary views."""
    return [t.name for t in spark.catalog.listTables(database) if not t.isTemporary]


def _refusals(spark: SparkSession, database: str, allowed: str) -> list[str]:
    found = []
    location = spark.catalog.getDatabase(database).locationUri
    if not _inside(location, allowed):
        found.append(f"database {database} is at {location}, outside {allowed}")
    for table in _tables(spark, database):
        found += _table_refusals(spark, f"{database}.{table}", allowed)
    return found


def plan_cleanup(
    spark: SparkSession,
    *,
    git: GitBranches,
    qa_root: str,
    store: str,
    older_than_s: float,
    now: float | None = None,
    only: Iterable[str] | None = None,
    prod_branch: str = PROD_BRANCH,
) -> list[Candidate]:
    """What would be removed, and why; nothing is touched."""
    from common.io.hive import HadoopFs

    fs, now = HadoopFs(spark), time.time() if now is None else now
    qa_root, store = qa_root.rstrip("/"), store.rstrip("/")
    databases: dict[str, list[str]] = {}
    for db in spark.catalog.listDatabases():
        if db.name.startswith("qa_") and "__" in db.name:
            databases.setdefault(db.name[3:].rsplit("__", 1)[0], []).append(db.name)
    slugs = set(databases) | set(fs.children(qa_root)) | set(fs.children(store))
    if only is not None:
        slugs &= {branch_slug(b) for b in only}
    protected = RESERVED_SLUGS | {branch_slug(prod_branch)}
    known = git.branches()
    if prod_branch not in known:  # no remote, or never fetched: every branch would look deleted
        raise ParamError(
            f"git knows no remote branch {prod_branch!r}, so it cannot tell live branches from deleted ones; "
            "run 'git fetch --prune' in a clone whose remote is the project's, then rerun"
        )
    live = {branch_slug(b) for b in known}
    merged = {branch_slug(b) for b in git.merged()}
    plan = []
    for slug in sorted(slugs - protected):
        if not is_valid_slug(slug):
            continue
        data, artifacts = f"{qa_root}/{slug}", f"{store}/{slug}"
        if slug not in live:
            reason = "branch deleted"
        elif slug in merged:
            reason = "branch merged"
        else:
            times = [t for t in (fs.newest(data), fs.newest(artifacts)) if t is not None]
            idle = now - max(times) if times else None
            if idle is not None and idle <= older_than_s:
                continue
            reason = "no qa files" if idle is None else f"idle {idle / 86400:.0f} days"
        candidate = Candidate(slug, reason, sorted(databases.get(slug, [])))
        candidate.paths = [p for p in (data, artifacts) if fs.newest(p) is not None or fs.children(p)]
        for database in candidate.databases:
            candidate.refused += _refusals(spark, database, data)
        plan.append(candidate)
    return plan


def apply_cleanup(spark: SparkSession, plan: list[Candidate]) -> None:
    """Drop each candidate's tables and databases, then delete its data and artifacts."""
    from common.io.hive import HadoopFs

    fs = HadoopFs(spark)
    for candidate in plan:
        if candidate.refused:
            for reason in candidate.refused:
                log.error("qa cleanup refused %s: %s", candidate.slug, reason)
            continue
        for database in candidate.databases:
            for table in _tables(spark, database):
                # no PURGE: an Iceberg table's files, like an external table's, go with the directory below
                spark.sql(f"DROP TABLE IF EXISTS `{database}`.`{table}`")
            spark.sql(f"DROP DATABASE IF EXISTS `{database}`")
        for path in candidate.paths:
            fs.delete(path)
