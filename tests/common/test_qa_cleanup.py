"""qa cleanup on the real metastore and files: exactly the stale branches' databases, data and
artifacts go; production, the production branch's artifacts, live branches and anything whose
location lies outside its branch's qa prefix stay."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass

import pytest

from common.environments import Environment
from common.qa_cleanup import apply_cleanup, parse_age, plan_cleanup
from common.slug import branch_slug

DAY = 86400
TAG = uuid.uuid4().hex[:6]
STALE, MERGED, IDLE, LIVE = (f"pj-{kind}-{TAG}" for kind in ("stale", "merged", "idle", "live"))
EVIL = f"prod__{TAG}"  # its slug is changed (contains __) and its database points into production
STRAY = f"pj-stray-{TAG}"  # deleted; its database is in its qa prefix but an Iceberg table of it is in production
PROD_LOOKALIKE = "prod"  # slugs to prod__<hash>: a branch like any other, never production's pointer


@dataclass
class FakeGit:
    live: set[str]
    merged_into_main: set[str]

    def branches(self) -> set[str]:
        return self.live

    def merged(self) -> set[str]:
        return self.merged_into_main


def _files(root, *relative):  # noqa: ANN001, ANN202
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


@pytest.fixture
def deployments(spark, tmp_path):
    """Production, five qa branches and the artifact store, all under tmp_path."""
    lake, qa, store = tmp_path / "lake", tmp_path / "qa", tmp_path / "artifacts"
    prod_db = f"pj_test_prod_{TAG}"
    spark.range(3).write.parquet(str(lake / prod_db / "t"))
    spark.sql(f"CREATE DATABASE {prod_db} LOCATION '{(lake / prod_db).as_uri()}'")
    spark.sql(f"CREATE TABLE {prod_db}.t (id bigint) USING parquet LOCATION '{(lake / prod_db / 't').as_uri()}'")
    created = [prod_db]
    for branch in (STALE, MERGED, IDLE, LIVE, EVIL, PROD_LOOKALIKE, STRAY):
        slug = branch_slug(branch)
        database = Environment("qa", branch).qa_prefix + "pjc"
        home = (lake / prod_db) if branch == EVIL else qa / slug / "pjc"  # EVIL points at production
        if branch != EVIL:
            spark.range(2).write.parquet(str(home / "t"))
        spark.sql(f"CREATE DATABASE {database} LOCATION '{home.as_uri()}'")
        spark.sql(f"CREATE TABLE {database}.t (id bigint) USING parquet LOCATION '{(home / 't').as_uri()}'")
        created.append(database)
        _files(store, f"{slug}/v1/jobs.zip", f"{slug}/current.json")
        if branch in (STALE, LIVE, STRAY):  # Iceberg tables: Spark lists them as MANAGED
            where = lake / prod_db / f"ice_{TAG}" if branch == STRAY else home / "ice"
            spark.sql(f"CREATE TABLE {database}.ice (id bigint) USING iceberg LOCATION '{where.as_uri()}'")
            spark.sql(f"INSERT INTO {database}.ice VALUES (1), (2)")
    _files(store, "prod/current.json", "main/v1/jobs.zip")
    month_ago = time.time() - 30 * DAY
    for path in [*(qa / branch_slug(IDLE)).rglob("*"), *(store / branch_slug(IDLE)).rglob("*")]:
        os.utime(path, (month_ago, month_ago))
    yield lake, qa, store, prod_db
    for database in created:  # a cleanup may have removed an Iceberg table's files: the metastore drop copes
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


@pytest.mark.services
def test_cleanup_removes_exactly_the_stale_branches(spark, deployments):
    lake, qa, store, prod_db = deployments
    git = FakeGit({"main", MERGED, IDLE, LIVE, PROD_LOOKALIKE}, {"main", MERGED})
    ours = [STALE, MERGED, IDLE, LIVE, EVIL, PROD_LOOKALIKE, STRAY, "main", "prod"]
    kwargs = dict(git=git, qa_root=qa.as_uri(), store=store.as_uri(), older_than_s=parse_age("14d"), only=ours)

    spark.range(1).createOrReplaceTempView("pjc_session_view")  # listed with every database's tables
    plan = plan_cleanup(spark, **kwargs)
    assert {c.slug: c.reason for c in plan} == {
        branch_slug(STALE): "branch deleted",
        branch_slug(MERGED): "branch merged",
        branch_slug(IDLE): "idle 30 days",
        branch_slug(EVIL): "branch deleted",
        branch_slug(STRAY): "branch deleted",
    }
    (evil,) = [c for c in plan if c.slug == branch_slug(EVIL)]
    assert evil.refused and "outside" in evil.refused[0]
    (stray,) = [c for c in plan if c.slug == branch_slug(STRAY)]
    stray_db = Environment("qa", STRAY).qa_prefix + "pjc"
    assert stray.refused == [f"iceberg table {stray_db}.ice keeps files at "
                             f"{(lake / prod_db / f'ice_{TAG}').as_uri().replace('file:///', 'file:/')} (location), "
                             f"outside {(qa / branch_slug(STRAY)).as_uri()}"]
    stale = {branch_slug(b) for b in (STALE, MERGED, IDLE)}
    assert all(not c.refused for c in plan if c.slug in stale)

    apply_cleanup(spark, plan)
    spark.catalog.dropTempView("pjc_session_view")
    databases = {db.name for db in spark.catalog.listDatabases()}
    for branch in (STALE, MERGED, IDLE):
        slug = branch_slug(branch)
        assert f"qa_{slug}__pjc" not in databases
        assert not (qa / slug).exists() and not (store / slug).exists()
    for branch in (LIVE, PROD_LOOKALIKE, EVIL, STRAY):
        slug = branch_slug(branch)
        assert f"qa_{slug}__pjc" in databases and (store / slug / "current.json").exists()
    assert (qa / branch_slug(LIVE) / "pjc" / "t").is_dir()
    # Iceberg tables: the stale branch's is gone with its files; the live one's and the refused one's stay
    assert not (qa / branch_slug(STALE) / "pjc" / "ice").exists()
    for branch in (LIVE, STRAY):
        assert spark.table(f"{Environment('qa', branch).qa_prefix}pjc.ice").count() == 2
    assert prod_db in databases and spark.table(f"{prod_db}.t").count() == 3
    assert (store / "prod" / "current.json").exists() and (store / "main" / "v1" / "jobs.zip").exists()


@pytest.mark.services
def test_a_checkout_that_knows_no_remote_branches_removes_nothing(spark, deployments):
    lake, qa, store, prod_db = deployments
    with pytest.raises(Exception, match="git knows no remote branch 'main'.*git fetch --prune"):
        plan_cleanup(spark, git=FakeGit(set(), set()), qa_root=qa.as_uri(), store=store.as_uri(),
                     older_than_s=parse_age("14d"), only=[STALE, LIVE])
    assert (qa / branch_slug(STALE)).exists() and (store / branch_slug(STALE)).exists()


def test_ages_are_days_or_hours():
    assert (parse_age("14d"), parse_age("36h")) == (14 * DAY, 36 * 3600)
    with pytest.raises(Exception, match="use days or hours"):
        parse_age("2w")
