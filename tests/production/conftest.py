"""The production-shaped stack for these tests: the branch published to S3 on moto, the TPC-H
lake tables served from S3, AWS clients on moto, the deployments of dev/deployments.toml."""

from __future__ import annotations

import os

import pytest

from tests.helpers import load_dev_script

stack = load_dev_script("stack")


@pytest.fixture(scope="session")
def stack_env():
    """This process as a worker of the prod-shaped deployment (AWS on moto, the deployments file)."""
    with stack.aws_environment():
        yield stack.environment()


@pytest.fixture(scope="session")
def s3_inputs(spark, stack_env):
    with stack.inputs_on_s3(spark) as locations:
        assert all(loc.startswith("s3://") for loc in locations.values()), locations
        yield locations


@pytest.fixture(scope="session")
def published(tmp_path_factory, stack_env):
    """Publish a branch to the artifact store on S3 (once per branch); its version's base URI."""
    done: dict[str, str] = {}
    dist = tmp_path_factory.mktemp("stack-dist")

    def publish(branch: str) -> str:
        if branch not in done:
            done[branch] = stack.publish_branch(branch, dist)
        return done[branch]

    publish.dist = dist
    return publish


@pytest.fixture(scope="session")
def yarn_conf_dir():
    conf = stack.cluster().CONF_DIR
    if not (conf / "yarn-site.xml").is_file():
        pytest.fail(f"no {conf}/yarn-site.xml: start the services ('make services')")
    return conf


@pytest.fixture
def clean_env(monkeypatch):
    """No MySQL or Trino password in this process's environment: a leak must come from the code."""
    for key in list(os.environ):
        if key.startswith("PYSPARK_JOBS_") and key.endswith("PASSWORD"):
            monkeypatch.delenv(key)
