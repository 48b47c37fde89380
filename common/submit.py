"""One job run as a spark-submit: the same arguments on EMR (a step) and locally (a process).

`SubmitSpec` holds what a run is (job, ds, env, branch, artifact, params, Spark conf);
`emr_step()` and `local_command()` differ only in how they start: EMR's command-runner with
`--master yarn --deploy-mode cluster`, locally `--master local-cluster[...]` in client mode
with the driver on a local interpreter. Everything after that prefix is `submit_args()`, so
what runs on a laptop is what runs on the cluster.

Standard library only: Airflow workers and DAG files import it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from common.errors import ParamError
from common.job import ds_range
from common.settings import HIVE_CLIENT_CONF, ICEBERG_SPARK_CONF, SHIPPED_JARS

__all__ = ["AIRFLOW_CONF", "ARCHIVE_ALIAS", "ARTIFACT_CONF", "ARTIFACT_FILES", "LINEAGE_PARENT_CONF", "LOCAL_MASTER",
           "SubmitSpec", "SubmitSpecError", "lineage_conf", "role_arn_problem"]

ARCHIVE_ALIAS = "environment"  # --archives environment.tar.gz#environment
# The MySQL driver and Iceberg ship with the branch and are passed with --jars: a stock cluster has neither.
ARTIFACT_FILES = ("environment.tar.gz", "jobs.zip", "main.py", *SHIPPED_JARS)
ARCHIVE_PYTHON = f"./{ARCHIVE_ALIAS}/bin/python"
LOCAL_MASTER = "local-cluster[2,1,1024]"
EMR_COMMAND_RUNNER = "command-runner.jar"
_ENVS = ("local", "qa", "prod")
_TEMPLATE = re.compile(r"^\{\{.*\}\}$")
_DS = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The runtime role a step runs under (EMR's ExecutionRoleArn; on YARN, s3a assumes it).
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_ARN_FORM = "arn:aws:iam::<12-digit account>:role/<name>"
# Hadoop's own provider: the application's S3 calls use the role's temporary credentials, got
# from STS with the node's credentials (fs.s3a.assumed.role.credentials.provider, by default
# fs.s3a.access.key/secret.key) and renewed before they expire.
S3A_ASSUMED_ROLE = "org.apache.hadoop.fs.s3a.auth.AssumedRoleCredentialProvider"
# The archive's interpreter for the driver (yarn cluster mode: it runs in the application
# master's container) and for every executor. spark.pyspark.python is what the driver sends
# with each Python task, so it is the setting executors really obey; the two env settings
# cover code that reads PYSPARK_PYTHON itself. PYSPARK_JOBS_CATALOG=cluster makes the job use
# the cluster's catalog (common/session.py); on local-cluster the yarn settings are inert.
BASE_CONF: Mapping[str, str] = MappingProxyType(
    {
        "spark.pyspark.python": ARCHIVE_PYTHON,
        "spark.yarn.appMasterEnv.PYSPARK_PYTHON": ARCHIVE_PYTHON,
        "spark.executorEnv.PYSPARK_PYTHON": ARCHIVE_PYTHON,
        "spark.yarn.appMasterEnv.PYSPARK_JOBS_CATALOG": "cluster",
        **ICEBERG_SPARK_CONF,
        **HIVE_CLIENT_CONF,
    }
)

# What a run's OpenLineage events say about where it came from (common/lineage_events.py),
# passed as Spark conf so that it reaches the driver the same way in client and cluster mode.
# The parent keys are the ones OpenLineage's own Spark integration reads.
LINEAGE_PARENT_CONF: Mapping[str, str] = MappingProxyType({
    "namespace": "spark.openlineage.parentJobNamespace",
    "name": "spark.openlineage.parentJobName",
    "run_id": "spark.openlineage.parentRunId",
    "root_namespace": "spark.openlineage.rootParentJobNamespace",
    "root_name": "spark.openlineage.rootParentJobName",
    "root_run_id": "spark.openlineage.rootParentRunId",
})
AIRFLOW_CONF = "spark.pyspark_jobs.airflow."  # + dag_id, task_id, run_id, try_number, map_index
ARTIFACT_CONF = "spark.pyspark_jobs.artifact."  # + branch, commit, dirty, content_hash (manifest.json)
_AIRFLOW_KEYS = ("dag_id", "task_id", "run_id", "try_number", "map_index")
_ARTIFACT_KEYS = ("branch", "commit", "dirty", "content_hash")


def role_arn_problem(value: str) -> str | None:
    """Why `value` is not an IAM role's ARN, or None when it is one."""
    if _ROLE_ARN.fullmatch(value):
        return None
    return f"{value!r} is not an IAM role ARN; use {ROLE_ARN_FORM}"


def lineage_conf(*, namespace: str, dag_id: str, task_id: str, run_id: str, try_number: int,
                 map_index: int = -1, manifest: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Spark conf naming the Airflow task try that runs a job (its parent run) and the artifact.

    The parent run id is derived from the task try, so every event of one try names one parent;
    the root is the DAG run."""
    task = f"{dag_id}.{task_id}"
    parent = uuid.uuid5(uuid.NAMESPACE_URL, f"airflow:{namespace}/{task}/{run_id}/{try_number}/{map_index}")
    root = uuid.uuid5(uuid.NAMESPACE_URL, f"airflow:{namespace}/{dag_id}/{run_id}")
    parent_values = {"namespace": namespace, "name": task, "run_id": str(parent),
                     "root_namespace": namespace, "root_name": dag_id, "root_run_id": str(root)}
    conf = {LINEAGE_PARENT_CONF[key]: value for key, value in parent_values.items()}
    airflow = (dag_id, task_id, run_id, try_number, map_index)
    conf.update({AIRFLOW_CONF + key: str(value) for key, value in zip(_AIRFLOW_KEYS, airflow)})
    manifest = manifest or {}
    conf.update({ARTIFACT_CONF + key: str(manifest[key]).lower() if key == "dirty" else str(manifest[key])
                 for key in _ARTIFACT_KEYS if manifest.get(key) not in (None, "")})
    return conf


class SubmitSpecError(ValueError):
    """A SubmitSpec field is invalid; the message names the field and the fix."""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in sorted((mapping or {}).items())})


@dataclass(frozen=True)
class SubmitSpec:
    """What one run is. `ds` may be an Airflow template such as "{{ ds }}" until rendered.
    With `ds_to` it is a backfill: every ds from `ds` to `ds_to` in one application
    (`run --ds-from --ds-to`); `force` allows more than a year of them."""

    job: str
    ds: str
    env: str
    artifact: str  # base URI holding environment.tar.gz, jobs.zip, main.py (s3://..., or a folder)
    branch: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    conf: Mapping[str, str] = field(default_factory=dict)
    ds_to: str | None = None
    force: bool = False
    execution_role: str | None = None  # the IAM role the application's AWS calls run under

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "conf", _frozen(self.conf))
        if not self.job or any(c.isspace() for c in self.job):
            raise SubmitSpecError(f"job {self.job!r} must be a job name such as 'tpch.q01'")
        if not (_DS.match(self.ds) or _TEMPLATE.match(self.ds)):
            raise SubmitSpecError(f"ds {self.ds!r} must be YYYY-MM-DD or a template such as '{{{{ ds }}}}'")
        if self.ds_to is not None:
            if not (_DS.match(self.ds_to) or _TEMPLATE.match(self.ds_to)):
                raise SubmitSpecError(f"ds_to {self.ds_to!r} must be YYYY-MM-DD or a template such as "
                                      "'{{ params.ds_to }}'")
            if _DS.match(self.ds) and _DS.match(self.ds_to):
                try:
                    ds_range(self.ds, self.ds_to, force=self.force)
                except ParamError as exc:
                    raise SubmitSpecError(f"the backfill ds..ds_to (the run's --ds-from, --ds-to): {exc}") from None
        if self.env not in _ENVS:
            raise SubmitSpecError(f"env {self.env!r} must be one of {', '.join(_ENVS)}")
        if self.env == "qa" and not self.branch:
            raise SubmitSpecError("env qa needs a branch: qa outputs go to that branch's namespace")
        if not self.artifact:
            raise SubmitSpecError("artifact must be the base URI of a packaged branch (dist/<slug> or s3://...)")
        for key in self.params:
            if not key or "=" in key or key == "ds":
                raise SubmitSpecError(f"param name {key!r} is invalid (no '=', and ds is not a param)")
        clash = sorted(set(self.conf) & set(BASE_CONF))
        if clash:
            raise SubmitSpecError(f"conf {clash[0]} is set by the framework; it makes the archive's Python run")
        if self.execution_role is not None:
            problem = role_arn_problem(self.execution_role)
            if problem:
                raise SubmitSpecError(f"execution_role {problem}")
            clash = sorted(set(self.conf) & set(self.role_conf()))
            if clash:
                raise SubmitSpecError(f"conf {clash[0]} is set by the framework: the step's S3 credentials are "
                                      "its execution role's (the node's own: fs.s3a.assumed.role.credentials.provider)")

    def uri(self, name: str) -> str:
        return f"{self.artifact.rstrip('/')}/{name}"

    def app_args(self) -> list[str]:
        """The application's own arguments: `run JOB --ds D --env E [--branch B] [--param k=v]`,
        for a backfill `--ds-from D --ds-to D2 [--force]` instead of `--ds D`."""
        days = ["--ds", self.ds] if self.ds_to is None else \
            ["--ds-from", self.ds, "--ds-to", self.ds_to, *(["--force"] if self.force else [])]
        args = ["run", self.job, *days, "--env", self.env]
        if self.branch:
            args += ["--branch", self.branch]
        for key, value in self.params.items():
            args += ["--param", f"{key}={value}"]
        return args

    def role_conf(self) -> dict[str, str]:
        """s3a settings under which the driver's and executors' every S3 call carries the role's
        credentials (submit_args(assume_role=True))."""
        if not self.execution_role:
            return {}
        return {"spark.hadoop.fs.s3a.aws.credentials.provider": S3A_ASSUMED_ROLE,
                "spark.hadoop.fs.s3a.assumed.role.arn": self.execution_role}

    def submit_args(self, *, assume_role: bool = False) -> list[str]:
        """Everything after master and deploy mode; identical for EMR and local runs. With
        `assume_role` (spark-submit on YARN: no EMR runs the step under its role) the
        application's s3a assumes the execution role itself."""
        args = [
            "--archives", f"{self.uri('environment.tar.gz')}#{ARCHIVE_ALIAS}",
            "--py-files", self.uri("jobs.zip"),
            "--jars", ",".join(self.uri(jar) for jar in SHIPPED_JARS),
        ]
        for key, value in {**BASE_CONF, **self.conf, **(self.role_conf() if assume_role else {})}.items():
            args += ["--conf", f"{key}={value}"]
        return [*args, self.uri("main.py"), *self.app_args()]

    @staticmethod
    def emr_prefix() -> list[str]:
        return ["spark-submit", "--deploy-mode", "cluster", "--master", "yarn"]

    def emr_args(self, *, assume_role: bool = False) -> list[str]:
        return [*self.emr_prefix(), *self.submit_args(assume_role=assume_role)]

    def emr_step(self, name: str, *, action_on_failure: str = "CONTINUE") -> dict[str, Any]:
        """The step for EmrHook/boto3 `add_job_flow_steps(Steps=[...])`."""
        if len(name) > 256:
            raise SubmitSpecError(f"EMR step names hold at most 256 characters; {name[:40]!r}... has {len(name)}")
        return {
            "Name": name,
            "ActionOnFailure": action_on_failure,
            "HadoopJarStep": {"Jar": EMR_COMMAND_RUNNER, "Args": self.emr_args()},
        }

    @staticmethod
    def local_prefix(spark_submit: str, driver_python: str, master: str = LOCAL_MASTER) -> list[str]:
        # Client mode: the driver runs here on an interpreter that has pyspark, since
        # ./environment exists only in the executors' working directories.
        return [
            spark_submit, "--deploy-mode", "client", "--master", master,
            "--conf", f"spark.pyspark.driver.python={driver_python}",
        ]

    def local_command(self, *, spark_submit: str, driver_python: str, master: str = LOCAL_MASTER) -> list[str]:
        return [*self.local_prefix(spark_submit, driver_python, master), *self.submit_args()]

    def rendered(self, ds: str) -> SubmitSpec:
        """This spec with a concrete ds (Airflow renders templates before execute)."""
        return replace(self, ds=ds)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields, e.g. for XCom; `SubmitSpec(**d)` rebuilds it."""
        return {
            "job": self.job, "ds": self.ds, "env": self.env, "artifact": self.artifact,
            "branch": self.branch, "params": dict(self.params), "conf": dict(self.conf),
            "ds_to": self.ds_to, "force": self.force, "execution_role": self.execution_role,
        }
