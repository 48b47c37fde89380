"""`SparkJobOperator`: one job run for one ds, on EMR or locally, from the same SubmitSpec.

The launcher is picked when the task runs: the operator's `launcher`, else the environment
variable `PYSPARK_JOBS_LAUNCHER` (emr | yarn | local) of the worker, else the deployments
file's `launcher`, else the deployment's default (emr for prod and qa, local for the local
deployment). The artifact and the deployment's configuration (lake root, MySQL secrets,
cluster, Spark sizing: common/deployments.py) are resolved then too, so parsing a DAG file
reads no file, network or Variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from common.deployments import DeploymentConfig, DeploymentConfigError, load_deployment
from common.submit import SubmitSpec, SubmitSpecError, lineage_conf
from pj_airflow.artifacts import ArtifactNotFound, artifact_manifest, check_artifact, resolve_artifact
from pj_airflow.deployment import deployments_file
from pj_airflow.launchers import (
    LAUNCHERS,
    EmrLauncher,
    LaunchError,
    LocalLauncher,
    step_name,
)

__all__ = ["SparkJobOperator"]

_UNRESOLVED = "<resolved when the task runs>"


class SparkJobOperator(BaseOperator):
    """Run job `job` for `ds` (default "{{ ds }}") as a spark-submit of a packaged branch."""

    template_fields: Sequence[str] = ("ds", "job_params", "spark_conf", "cluster_id", "artifact")
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        job: str,
        env: str,
        artifact_branch: str,
        artifact_channel: str,
        branch: str | None = None,
        ds: str = "{{ ds }}",
        job_params: Mapping[str, str] | None = None,
        spark_conf: Mapping[str, str] | None = None,
        launcher: str | None = None,
        default_launcher: str = "emr",
        artifact: str | None = None,
        deployment: str | None = None,
        cluster_id: str | None = None,
        aws_conn_id: str | None = "aws_default",
        poll_interval: float = 30.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("task_id", job)
        super().__init__(**kwargs)
        for name, value in (("launcher", launcher), ("default_launcher", default_launcher)):
            if value is not None and value not in LAUNCHERS:
                raise ValueError(f"{name}={value!r}: use one of {', '.join(LAUNCHERS)}")
        # Validate at parse time what can be validated (job, env, branch, param names).
        SubmitSpec(job=job, ds=ds, env=env, artifact=_UNRESOLVED, branch=branch,
                   params=job_params or {}, conf=spark_conf or {})
        self.job = job
        self.env = env
        self.branch = branch
        self.ds = ds
        self.job_params = dict(job_params or {})
        self.spark_conf = dict(spark_conf or {})
        self.launcher = launcher
        self.default_launcher = default_launcher
        self.artifact_branch = artifact_branch
        self.artifact_channel = artifact_channel
        self.artifact = artifact
        self.deployment = deployment
        self.cluster_id = cluster_id
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval
        self._running: Any = None

    def deployment_config(self) -> DeploymentConfig:
        return load_deployment(deployments_file(), self.deployment) if self.deployment else DeploymentConfig(name="")

    def chosen_launcher(self, config: DeploymentConfig | None = None) -> str:
        name = (self.launcher or os.environ.get("PYSPARK_JOBS_LAUNCHER") or (config.launcher if config else "")
                or self.default_launcher)
        if name not in LAUNCHERS:
            raise AirflowException(f"PYSPARK_JOBS_LAUNCHER={name!r}: use one of {', '.join(LAUNCHERS)}")
        return name

    def build_spec(self, launcher: str, config: DeploymentConfig | None = None,
                   context: Mapping[str, Any] | None = None) -> SubmitSpec:
        """The run's spec; with the task's `context`, its conf names the task try and the
        artifact for the run's OpenLineage events (the parent run)."""
        artifact = resolve_artifact(launcher=launcher, branch=self.artifact_branch,
                                    channel=self.artifact_channel, explicit=self.artifact)
        # Every launcher gets the same arguments; on local-cluster the YARN settings are inert.
        conf = {**(config.spark_conf() if config else {}), **self.lineage_conf(context, artifact), **self.spark_conf}
        return SubmitSpec(job=self.job, ds=self.ds, env=self.env, artifact=artifact, branch=self.branch,
                          params=self.job_params, conf=conf)

    @staticmethod
    def lineage_conf(context: Mapping[str, Any] | None, artifact: str) -> dict[str, str]:
        """The task try (OpenLineage's parent run, in the namespace OPENLINEAGE_NAMESPACE names,
        as Airflow's OpenLineage provider does) and the artifact's manifest, as Spark conf."""
        if not context or "ti" not in context:
            return {}
        ti = context["ti"]
        map_index = getattr(ti, "map_index", None)
        return lineage_conf(namespace=os.environ.get("OPENLINEAGE_NAMESPACE") or "airflow", dag_id=ti.dag_id,
                            task_id=ti.task_id, run_id=ti.run_id, try_number=int(getattr(ti, "try_number", None) or 1),
                            map_index=-1 if map_index is None else int(map_index), manifest=artifact_manifest(artifact))

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            config = self.deployment_config()
            launcher = self.chosen_launcher(config)
            spec = self.build_spec(launcher, config, context)
            self.log.info("%s launcher, artifact %s", launcher, spec.artifact)
            check_artifact(spec.artifact)
            if launcher == "emr":
                ti = context["ti"]
                cluster = self.cluster_id or config.emr_cluster or os.environ.get("PYSPARK_JOBS_EMR_CLUSTER_ID", "")
                self._running = EmrLauncher(cluster=cluster, aws_conn_id=self.aws_conn_id, log=self.log,
                                            poll_interval=self.poll_interval, log_wait_s=config.log_wait_s)
                result = self._running.run(spec, step_name(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1)))
            elif launcher == "yarn":
                from pj_airflow.yarn import YarnLauncher

                self._running = YarnLauncher(log=self.log, conf_dir=config.yarn_conf_dir or None)
                result = self._running.run(spec)
            else:
                self._running = LocalLauncher(log=self.log)
                result = self._running.run(spec)
        except (LaunchError, ArtifactNotFound, SubmitSpecError, DeploymentConfigError) as exc:
            raise AirflowException(str(exc)) from None
        return {"launcher": launcher, "spec": spec.as_dict(), **result}

    def on_kill(self) -> None:
        if self._running is not None:
            self._running.kill()
