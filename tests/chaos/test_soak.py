"""A soak on the production shape: the demonstration DAG's backfill twin computes 60 consecutive
days through Airflow (`airflow dags test` of `qa__<slug>__demo_daily_revenue_backfill` with
`ds_from`/`ds_to`), its task submitting the EMR step's arguments in YARN cluster mode (the qa
deployment of dev/deployments.toml: S3 on moto under the qa runtime role, the metastore
service, MySQL credentials from Secrets Manager), from the branch's artifact published to S3.

Then every one of the 60 partitions of the three reports is checked against the reports
computed by hand from the source rows (tests/helpers.demo_reports_by_hand), and three of them
(the first, middle and last day) against fresh single-day runs in this process (local Spark,
another qa namespace, local disk). Fresh runs of all 60 days would add about three minutes of
the same code to CI for no check the hand-computed reports do not already make.
Every log, argument, launch script, JSON summary, lineage event and artifact file the soak
left is scanned for the MySQL password. The figures docs/RELIABILITY.md quotes are printed.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from common.environments import Environment
from common.runner import RunConfig, run_job
from common.settings import load_settings
from common.slug import branch_slug
from tests.chaos.faults import require_loopback
from tests.helpers import demo_reports_by_hand, demo_reports_published, drop_qa_databases, load_dev_script
from tests.production.conftest import published, s3_inputs, stack_env, yarn_conf_dir  # noqa: F401 - fixtures
from tests.production.test_emr_step_on_yarn import stack_dirs
from tests.reliability.test_secrets_everywhere import Leaks, Secret

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.services, pytest.mark.slow]

BRANCH = "chaos/soak"
FRESH = "chaos/soak-fresh"
FIRST = date(1995, 4, 1)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range(60)]
FRESH_DAYS = [DAYS[0], DAYS[29], DAYS[-1]]
APP = re.compile(r"application_\d+_\d+")
demo, stack = load_dev_script("demo"), load_dev_script("stack")


@pytest.fixture(scope="module")
def soak(spark, published, s3_inputs, tmp_path_factory):  # noqa: F811 - the fixtures imported above
    local = stack.cluster()
    require_loopback(local.s3_endpoint(), local.metastore_uri(), local.HOST)
    for branch in (BRANCH, FRESH):
        drop_qa_databases(spark, branch)
    artifact = published(BRANCH)
    home = tmp_path_factory.mktemp("soak-airflow")
    env = {**demo.airflow_env(BRANCH, load_settings().var), **stack.environment(), "AIRFLOW_HOME": str(home),
           "PYSPARK_JOBS_DEPLOYMENT": "qa", "PYSPARK_JOBS_DEPLOYMENTS": str(stack.ROOT / "dev" / "deployments.toml"),
           "PYSPARK_JOBS_ARTIFACT_URI": artifact}
    env.pop("PYSPARK_JOBS_LAUNCHER")  # the deployments file says yarn
    demo.migrate_once(env)
    dag_id = f"qa__{branch_slug(BRANCH)}__demo_daily_revenue_backfill"
    started = time.monotonic()
    run = subprocess.run(
        [str(demo.BIN / "airflow"), "dags", "test", dag_id, DAYS[-1],
         "--conf", json.dumps({"ds_from": DAYS[0], "ds_to": DAYS[-1]})],
        env=env, capture_output=True, text=True, timeout=1500, check=False)
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    fresh_started = time.monotonic()
    for ds in FRESH_DAYS:
        run_job(RunConfig(job="demo.daily_revenue", ds=ds, env="qa", branch=FRESH, count_inputs=False), spark)
    fresh_seconds = time.monotonic() - fresh_started
    yield {"run": run, "output": output, "seconds": seconds, "home": home, "artifact": artifact,
           "fresh_seconds": fresh_seconds}
    for branch in (BRANCH, FRESH):
        drop_qa_databases(spark, branch)


def test_sixty_days_through_airflow_on_yarn_equal_the_reports_by_hand_and_fresh_runs(
    spark, soak, yarn_conf_dir  # noqa: F811
):
    assert soak["run"].returncode == 0 and "state=success" in soak["output"], soak["output"][-5000:]
    apps = sorted(set(APP.findall(soak["output"])))
    assert len(apps) == 1, apps  # one step, one YARN application for the 60 days
    tries = re.findall(r"try_number=(\d+)", soak["output"])
    soaked = demo_reports_published(spark, Environment("qa", BRANCH))
    fresh = demo_reports_published(spark, Environment("qa", FRESH))
    by_hand = demo_reports_by_hand(spark, DAYS)
    rows = 0
    for report in ("segment", "mode", "top"):
        assert sorted(soaked[report]) == DAYS, report
        for ds in DAYS:
            assert soaked[report][ds] == by_hand[ds][report], (report, ds)
            rows += len(soaked[report][ds])
        assert sorted(fresh[report]) == FRESH_DAYS, report
        for ds in FRESH_DAYS:
            assert soaked[report][ds] == fresh[report][ds], (report, ds)
    assert len({str(by_hand[ds]["top"]) for ds in DAYS}) == 60  # 60 different days, not one 60 times
    driver_log = "\n".join(p.read_text(errors="replace") for p in (stack_dirs(yarn_conf_dir)["logs"] / apps[0]).rglob("stderr"))
    lost = len(re.findall(r"Lost task|ExecutorLostFailure|FetchFailed", driver_log))
    print(f"\nsoak: 1 Airflow task, tries {max(map(int, tries), default=1)}, 1 YARN application ({apps[0]}), "
          f"{len(DAYS)} partitions x 3 reports, {rows} rows compared by hand ({len(FRESH_DAYS)} days also with "
          "fresh single-day runs), "
          f"Spark task retries seen {lost}, failures 0; Airflow run {soak['seconds']:.0f}s, "
          f"fresh runs {soak['fresh_seconds']:.0f}s")


def test_no_password_in_anything_the_soak_left(soak, yarn_conf_dir):  # noqa: F811
    import boto3

    mysql = load_settings().mysql
    leaks = Leaks([Secret("MySQL", mysql.user, mysql.password)])
    leaks.check("airflow dags test's output (the task log, the step's arguments)", soak["output"])
    checked = leaks.check_tree(soak["home"] / "logs") if (soak["home"] / "logs").exists() else 0
    dirs = stack_dirs(yarn_conf_dir)
    for app in sorted(set(APP.findall(soak["output"]))):
        checked += leaks.check_tree(dirs["logs"] / app)  # container logs, JSON summaries, lineage events
        for script in (p for p in dirs["local"].rglob("launch_container.sh") if app in str(p)):
            leaks.check_file(script)
            checked += 1
    assert checked > 0, "nothing of the soak's was scanned"
    s3 = boto3.client("s3")
    bucket, _, prefix = soak["artifact"].removeprefix("s3://").partition("/")
    scan = soak["home"] / "artifact-scan"
    scan.mkdir(exist_ok=True)
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        local = scan / Path(obj["Key"]).name
        s3.download_file(bucket, obj["Key"], str(local))
        leaks.check_file(local, f"s3://{bucket}/{obj['Key']}")
    leaks.assert_none()
