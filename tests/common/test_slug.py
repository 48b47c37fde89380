"""Branch slugs: safe as S3 keys, DAG ids and database names, and never shared by two branches."""

from __future__ import annotations

import re

import pytest

from common.slug import (
    RESERVED_SLUGS,
    SLUG_MAX_LEN,
    InvalidBranchName,
    branch_slug,
    is_valid_slug,
)

SAFE = re.compile(r"[a-z][a-z0-9_]*")

HOSTILE = [
    "main",
    "develop",
    "release_2024",
    "feature/X",
    "feature/x",
    "Feature/x",
    "FEATURE/X",
    "feature-x",
    "feature_x",
    "feature__x",
    "feature/../../prod",
    "../../etc/passwd",
    "..",
    ".",
    "/",
    "a/b/c/",
    "fix: spaces and; semicolons",
    "drop table x; --",
    "s3://bucket/key",
    "fïx-ünïcödé",
    "修复/分支",
    "🚀",
    "123-numeric-start",
    "_leading_underscore",
    "trailing_",
    "tab\tand\nnewline",
    "x" * 300,
    "x" * 299 + "y",
    "prod",
    "default",
    "PROD",
    "current",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_slug_is_safe(name):
    slug = branch_slug(name)
    assert SAFE.fullmatch(slug), slug
    assert len(slug) <= SLUG_MAX_LEN
    assert is_valid_slug(slug)
    assert "/" not in slug and "." not in slug


def test_no_two_branches_share_a_slug():
    slugs = {branch_slug(name) for name in HOSTILE}
    assert len(slugs) == len(HOSTILE)


def test_plain_names_are_their_own_slug():
    assert branch_slug("main") == "main"
    assert branch_slug("develop") == "develop"
    assert branch_slug("release_2024") == "release_2024"


def test_names_differing_only_in_case_differ():
    assert branch_slug("Feature/X") != branch_slug("feature/x")
    assert branch_slug("Main") != branch_slug("main")


def test_changed_names_keep_a_readable_base_and_a_hash():
    slug = branch_slug("feature/JIRA-123-nations")
    assert re.fullmatch(r"feature_jira_123_nations__[0-9a-f]{10}", slug), slug


def test_a_branch_named_like_a_hashed_slug_cannot_take_it():
    taken = branch_slug("feature/x")
    assert branch_slug(taken) != taken


def test_dot_dot_cannot_escape_the_prefix():
    slug = branch_slug("feature/../../prod")
    assert slug.startswith("feature_prod__")
    assert slug != "prod"


# Pinned here, not read from the code: a name dropped from RESERVED_SLUGS must fail a test.
# The production pointer of the artifact store, Spark/Hive's databases, MySQL's schemas.
RESERVED = ("prod", "production", "current", "default", "global_temp", "information_schema",
            "performance_schema", "mysql", "sys")


def test_the_reserved_set_is_exactly_the_pinned_names():
    assert sorted(RESERVED_SLUGS) == sorted(RESERVED)


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_names_get_a_hash(name):
    slug = branch_slug(name)
    assert slug != name
    assert slug.startswith(f"{name}__")


def test_long_names_are_cut_and_stay_distinct():
    a, b = branch_slug("x" * 300), branch_slug("x" * 299 + "y")
    assert len(a) == len(b) == SLUG_MAX_LEN
    assert a != b


def test_unicode_is_transliterated_where_possible():
    assert branch_slug("fïx-ünïcödé").startswith("fix_unicode__")
    assert branch_slug("🚀").startswith("branch__")


def test_leading_digit_gets_a_letter():
    assert branch_slug("123-numeric-start").startswith("b_123_numeric_start__")


def test_slugs_are_stable():
    # Fixed expectations: a slug changing between releases would orphan published artifacts.
    assert branch_slug("feature/X") == "feature_x__13578b02c3"


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_empty_branch_is_a_clear_error(name):
    with pytest.raises(InvalidBranchName, match="branch name is empty"):
        branch_slug(name)


def test_non_string_is_a_clear_error():
    with pytest.raises(InvalidBranchName, match="must be a string"):
        branch_slug(None)  # type: ignore[arg-type]
