"""Branch slugs: one safe, stable name per git branch.

A slug is used as an S3 key segment, an Airflow DAG id part and a database name, so it is
lowercase ``[a-z0-9_]``, starts with a letter and is at most ``SLUG_MAX_LEN`` characters.

Two branches never share a slug:

* a branch name that already is a valid slug (``main``, ``release_2024``) is its own slug;
* any other name is cleaned up and gets ``__`` plus a hash of the *original* name, so
  ``Feature/X`` and ``feature/x`` differ. A cleaned-up base never contains ``__`` and an
  unchanged name may not contain it either, so a hashed slug can't equal an unchanged one.

Standard library only: the build scripts, the framework core and the DAG files import it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "RESERVED_SLUGS",
    "SLUG_MAX_LEN",
    "InvalidBranchName",
    "branch_slug",
    "is_valid_slug",
]

SLUG_MAX_LEN = 40
HASH_LEN = 10  # 40 bits of sha256: collisions need ~10^6 branches, not a concern
HASH_SEP = "__"

# Names that mean something else where slugs are used: the production pointer in the
# artifact store, Spark/Hive's own databases, MySQL's system schemas. A branch with such a
# name gets a hash suffix like any other name that had to be changed.
RESERVED_SLUGS = frozenset(
    {
        "prod",
        "production",
        "current",
        "default",
        "global_temp",
        "information_schema",
        "performance_schema",
        "mysql",
        "sys",
    }
)

_VALID = re.compile(r"[a-z][a-z0-9_]*")
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


class InvalidBranchName(ValueError):
    """The branch name can't be turned into a slug (empty or blank)."""


def is_valid_slug(slug: str) -> bool:
    """True if ``slug`` could have come out of :func:`branch_slug` unchanged."""
    return (
        isinstance(slug, str)
        and 0 < len(slug) <= SLUG_MAX_LEN
        and _VALID.fullmatch(slug) is not None
        and not slug.endswith("_")
    )


def _unchanged_ok(name: str) -> bool:
    return is_valid_slug(name) and HASH_SEP not in name and name not in RESERVED_SLUGS


def _clean(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = _NOT_ALLOWED.sub("_", ascii_name.lower()).strip("_")
    if not base:
        base = "branch"
    elif not base[0].isalpha():
        base = f"b_{base}"
    return base


def branch_slug(name: str) -> str:
    """The slug of git branch ``name``; raises :class:`InvalidBranchName` if it is blank."""
    if not isinstance(name, str):
        raise InvalidBranchName(f"branch name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise InvalidBranchName("branch name is empty: pass the git branch, e.g. --branch main")
    if _unchanged_ok(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LEN]
    room = SLUG_MAX_LEN - len(HASH_SEP) - HASH_LEN
    base = _clean(name)[:room].rstrip("_")
    return f"{base}{HASH_SEP}{digest}"
