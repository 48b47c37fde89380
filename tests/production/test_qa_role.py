"""The QA boundary enforced by AWS, not by the framework: a qa step runs under the deployment's
runtime role, and job code that writes production gets AccessDenied from S3.

A moto server of its own that enforces IAM (its admin requests first, then `reset-auth`):
- the role `pyspark-jobs-qa` may read the whole lake and write only below `qa/`;
- the node's own user may do nothing but assume that role (so job code that drops the role for
  the node's keys is refused too).
The step is a local Spark session with the node's settings plus exactly the `--conf` settings
the yarn launcher passes for the deployment's role (s3a's AssumedRoleCredentialProvider, through
moto's STS). On EMR the same ARN goes to AddJobFlowSteps as ExecutionRoleArn: checked on the
request the EMR launcher sends. About 40 seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from common.deployments import DeploymentConfigError, load_deployment
from common.session import S3A_JARS
from common.settings import load_settings
from common.submit import SubmitSpec, SubmitSpecError
from tests.chaos.faults import free_port
from tests.conftest import ROOT
from tests.helpers import load_dev_script

pytestmark = [pytest.mark.services, pytest.mark.slow]

LAKE = "pyspark-jobs-lake"
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pyspark-jobs-qa"
PROD_KEY = "prod/demo/nations/part-00000.csv"
PROD_CSV = b"n_nationkey,n_name\n0,ALGERIA\n1,ARGENTINA\n2,BRAZIL\n"
# moto checks a signature by signing the request again with botocore, which never signs
# User-Agent; the AWS SDK for Java (s3a's) does, as AWS allows. Checked as AWS checks it:
MOTO_AS_AWS_CHECKS = ("import sys, botocore.auth; botocore.auth.SIGNED_HEADERS_BLACKLIST.remove('user-agent'); "
                      "from moto.server import main; main(sys.argv[1:])")
ADMIN_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _client(service: str, endpoint: str, keys: dict):  # noqa: ANN202 - a boto3 client
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **keys)


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: list[str], resources: list[str]) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


@pytest.fixture(scope="module")
def enforcing_moto():
    """(endpoint, node keys, auditor keys) of a moto that enforces IAM from the moment it is set up."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-c", MOTO_AS_AWS_CHECKS, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto did not start on {endpoint}") from None
                time.sleep(0.3)
        s3, iam = _client("s3", endpoint, ADMIN_KEYS), _client("iam", endpoint, ADMIN_KEYS)
        s3.create_bucket(Bucket=LAKE)
        s3.put_object(Bucket=LAKE, Key=PROD_KEY, Body=PROD_CSV)
        bucket, objects = f"arn:aws:s3:::{LAKE}", f"arn:aws:s3:::{LAKE}/*"
        trust = _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/emr-node"},
                         "Action": "sts:AssumeRole"})  # only the nodes may take the role
        iam.create_role(RoleName="pyspark-jobs-qa", AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName="pyspark-jobs-qa", PolicyName="qa-boundary", PolicyDocument=_policy(
            _allow(["s3:ListBucket", "s3:GetBucketLocation"], [bucket]),
            _allow(["s3:GetObject"], [objects]),
            _allow(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], [f"{bucket}/qa/*"]),
        ))
        keys = {}
        for user, policy in (("emr-node", _allow(["sts:AssumeRole"], [ROLE])),
                             ("auditor", _allow(["s3:ListBucket", "s3:GetObject"], [bucket, objects]))):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="only", PolicyDocument=_policy(policy))
            made = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = {"aws_access_key_id": made["AccessKeyId"], "aws_secret_access_key": made["SecretAccessKey"]}
        request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=5).close()  # from here on every request is authorised
        yield endpoint, keys["emr-node"], keys["auditor"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _prod_objects(endpoint: str, auditor: dict) -> dict[str, bytes]:
    s3 = _client("s3", endpoint, auditor)
    listed = s3.list_objects_v2(Bucket=LAKE, Prefix="prod/").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=LAKE, Key=o["Key"])["Body"].read() for o in listed}


def test_iam_is_enforced_and_the_node_cannot_write_production_itself(enforcing_moto):
    endpoint, node, auditor = enforcing_moto
    with pytest.raises(ClientError) as denied:
        _client("s3", endpoint, node).put_object(Bucket=LAKE, Key="prod/demo/nations/x.csv", Body=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        _client("s3", endpoint, {"aws_access_key_id": "nobody", "aws_secret_access_key": "x"}).list_buckets()
    assert _prod_objects(endpoint, auditor) == {PROD_KEY: PROD_CSV}


def test_a_qa_step_under_the_role_reads_production_writes_qa_and_is_denied_production(enforcing_moto):
    endpoint, node, auditor = enforcing_moto
    from pj_airflow.yarn import YarnLauncher

    qa = load_deployment(ROOT / "dev" / "deployments.toml", "qa")
    assert qa.execution_role_arn == ROLE
    branch = f"qa-role-{uuid.uuid4().hex[:6]}"
    spec = SubmitSpec(job="demo.daily_revenue", ds="1995-03-15", env="qa", branch=branch, artifact="s3://a/b",
                      execution_role=qa.execution_role_arn)
    command = YarnLauncher.command(spec)
    passed = dict(arg.split("=", 1) for arg in command if arg.startswith("spark.hadoop.fs.s3a."))
    assert passed["spark.hadoop.fs.s3a.assumed.role.arn"] == ROLE
    node_conf = {  # the local cluster's core-site, on this moto with the node user's keys
        **load_dev_script("cluster").s3a_properties(),
        "fs.s3a.endpoint": endpoint, "fs.s3a.assumed.role.sts.endpoint": endpoint,
        "fs.s3a.access.key": node["aws_access_key_id"], "fs.s3a.secret.key": node["aws_secret_access_key"],
        "fs.s3a.attempts.maximum": "1", "fs.s3a.retry.limit": "1",
        # moto authorises a bulk delete (POST ?delete) against the bucket, not per key as AWS does
        "fs.s3a.multiobjectdelete.enable": "false",
    }
    jars = sorted(str(p) for p in (load_settings().jars / S3A_JARS).glob("*.jar"))
    env = {k: v for k, v in os.environ.items()  # no AWS keys, no project or cluster settings
           if not k.startswith(("AWS_", "PYSPARK_JOBS_", "SPARK_", "HADOOP_", "YARN_"))}
    env.update({"ROGUE_NODE_CONF": json.dumps(node_conf), "ROGUE_STEP_CONF": json.dumps(passed),
           "ROGUE_JARS": ",".join(jars), "ROGUE_QA_ROOT": f"s3a://{LAKE}/qa/{branch}"})
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("rogue_qa_step.py"))], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("ROGUE ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    results = json.loads(lines[-1][len("ROGUE "):])
    assert results["read_prod"] == {"allowed": True, "value": 3}, results
    assert results["write_qa"]["allowed"], results["write_qa"]
    for attempt in ("write_prod", "overwrite_prod", "write_prod_with_node_keys"):
        assert results[attempt]["allowed"] is False and results[attempt]["denied"], (attempt, results[attempt])
    assert results["read_prod_after"] == {"allowed": True, "value": 3}
    assert _prod_objects(endpoint, auditor) == {PROD_KEY: PROD_CSV}  # production untouched
    qa_keys = _client("s3", endpoint, auditor).list_objects_v2(Bucket=LAKE, Prefix=f"qa/{branch}/")
    assert any(o["Key"].endswith(".parquet") for o in qa_keys.get("Contents", []))


def _operator(tmp_path, monkeypatch, role_line: str, cluster: str):  # noqa: ANN202 - the operator
    from pj_airflow.operator import SparkJobOperator

    path = tmp_path / "deployments.toml"
    path.write_text(f'[qa]\nlake_root = "s3://l/p"\nqa_root = "s3://l/qa"\nlauncher = "emr"\n{role_line}\n')
    monkeypatch.setenv("PYSPARK_JOBS_DEPLOYMENTS", str(path))
    return SparkJobOperator(task_id="demo.daily_revenue", job="demo.daily_revenue", ds="1995-03-15", env="qa",
                            branch="feature/role", artifact_branch="feature/role", artifact_channel="feature-role",
                            artifact="s3://pj-artifacts/builds/feature-role/0123abcd",
                            deployment="qa", cluster_id=cluster, aws_conn_id=None, deferrable=False)


def test_the_emr_launcher_sends_the_deployments_role_with_the_step(tmp_path, monkeypatch, aws, emr_cluster):
    from pj_airflow.launchers import EmrLauncher

    op = _operator(tmp_path, monkeypatch, f'execution_role_arn = "{ROLE}"', emr_cluster)
    spec = op.build_spec("emr", op.deployment_config())
    assert spec.execution_role == ROLE
    launcher = EmrLauncher(cluster=emr_cluster, aws_conn_id=None, poll_interval=0.1, log=op.log)
    sent = []
    launcher.client.meta.events.register("provide-client-params.emr.AddJobFlowSteps",
                                         lambda params, **_: sent.append(dict(params)))
    launcher.submit(spec, "pyspark-jobs role test")
    assert sent[-1]["ExecutionRoleArn"] == ROLE
    # EMR runs the step under the role itself: the step's own s3a settings do not assume it again.
    assert not any("assumed.role" in arg for arg in sent[-1]["Steps"][0]["HadoopJarStep"]["Args"])


def test_a_bad_role_in_the_deployment_fails_the_task_before_any_step(tmp_path, monkeypatch, aws, emr_cluster):
    from airflow.sdk.exceptions import AirflowException

    op = _operator(tmp_path, monkeypatch, 'execution_role_arn = "pyspark-jobs-qa"', emr_cluster)
    with pytest.raises(AirflowException) as failed:
        op.execute({"ti": None})
    assert "\n" not in str(failed.value) and "execution_role_arn: 'pyspark-jobs-qa' is not an IAM role ARN" in str(failed.value)
    assert aws.list_steps(ClusterId=emr_cluster)["Steps"] == []


@pytest.mark.parametrize("value", ["qa-role", "arn:aws:iam::123:role/x", "arn:aws:s3:::bucket/qa",
                                   "arn:aws:iam::123456789012:user/qa"])
def test_a_role_that_is_not_a_role_arn_is_one_line_and_nothing_is_submitted(tmp_path, value):
    path = tmp_path / "deployments.toml"
    path.write_text(f'[qa]\nlake_root = "s3://l/p"\nqa_root = "s3://l/qa"\nlauncher = "emr"\n'
                    f'execution_role_arn = "{value}"\n')
    with pytest.raises(DeploymentConfigError) as bad:
        load_deployment(path, "qa")
    message = str(bad.value)
    assert "\n" not in message and "[qa] execution_role_arn" in message and value in message
    assert "arn:aws:iam::<12-digit account>:role/<name>" in message
    with pytest.raises(SubmitSpecError, match="is not an IAM role ARN"):
        SubmitSpec(job="demo.daily_revenue", ds="1995-03-15", env="qa", branch="b", artifact="s3://a/b",
                   execution_role=value)


def test_a_qa_deployment_on_a_cluster_without_a_role_is_refused(tmp_path):
    path = tmp_path / "deployments.toml"
    path.write_text('[qa]\nlake_root = "s3://l/p"\nqa_root = "s3://l/qa"\nlauncher = "yarn"\n')
    with pytest.raises(DeploymentConfigError, match=r"\[qa\] execution_role_arn: missing; qa steps on yarn"):
        load_deployment(path, "qa")
