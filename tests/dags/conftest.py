"""Fixtures of the DAG-side tests: a YARN client configuration with a stand-in spark-submit."""

from __future__ import annotations

import pytest

from common.slug import branch_slug
from tests.helpers import put_artifact_stub

BRANCH = "feature/yarn-test"
ARTIFACT = f"s3://pj-artifacts/builds/{branch_slug(BRANCH)}/0123abcd"
APP = "application_1733140000000_0042"
RM = "127.0.0.1:9"  # nothing listens: a failed run's log fetch fails fast

YARN_SITE = f"""<configuration>
  <property><name>yarn.resourcemanager.webapp.address</name><value>{RM}</value></property>
</configuration>"""


@pytest.fixture
def yarn(tmp_path, monkeypatch, aws):
    """A YARN client configuration and a spark-submit that reports APP and exits with `code`."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "yarn-site.xml").write_text(YARN_SITE)
    monkeypatch.setenv("HADOOP_CONF_DIR", str(conf))
    put_artifact_stub(ARTIFACT)

    def submit(code: int) -> None:
        script = tmp_path / "spark-submit"
        script.write_text(f"#!/bin/sh\necho 'INFO Client: Submitted application {APP}'\n"
                          f"echo '\t tracking URL: http://{RM}/proxy/{APP}/'\nexit {code}\n")
        script.chmod(0o755)
        monkeypatch.setenv("PYSPARK_JOBS_SPARK_SUBMIT", str(script))
    return submit
