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
from airflow.sdk.exceptions import AirflowException, TaskDeferralError, TaskDeferralTimeout

from common.deployments import DeploymentConfig, DeploymentConfigError, load_deployment
from common.submit import SubmitSpec, SubmitSpecError, lineage_conf
from pj_airflow.artifacts import ArtifactNotFound, artifact_manifest, check_artifact, resolve_artifact
from pj_airflow.assets import output_assets
from pj_airflow.deployment import deployments_file
from pj_airflow.launchers import (
    ACTIVE,
    DONE,
    LAUNCHERS,
    EmrLauncher,
    LaunchError,
    LocalLauncher,
    step_name,
)
from pj_airflow.links import LINKS_KEY, SparkLogsLink, SparkUiLink

__all__ = ["SparkJobOperator"]

_UNRESOLVED = "<resolved when the task runs>"


def _flag(value: bool | str) -> bool:
    """`force` as given, or rendered from a template such as "{{ params.force }}"."""
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


class SparkJobOperator(BaseOperator):
    """Run job `job` for `ds` (default "{{ ds }}") as a spark-submit of a packaged branch.

    On EMR a retry adopts its try's step and a clear runs a new one (`step_name`); with
    `deferrable` the task waits for the step in the triggerer (`EmrStepTrigger`). Its outlets
    are the tables the job writes (pj_airflow.assets), plus any `outlets` given; their events
    name the days written.
    """

    template_fields: Sequence[str] = ("ds", "ds_to", "force", "job_params", "spark_conf", "cluster_id", "artifact")
    ui_color = "#f4a460"
    operator_extra_links = (SparkUiLink(), SparkLogsLink())

    def __init__(
        self,
        *,
        job: str,
        env: str,
        artifact_branch: str,
        artifact_channel: str,
        branch: str | None = None,
        ds: str = "{{ ds }}",
        ds_to: str | None = None,
        force: bool | str = False,
        job_params: Mapping[str, str] | None = None,
        spark_conf: Mapping[str, str] | None = None,
        launcher: str | None = None,
        default_launcher: str = "emr",
        artifact: str | None = None,
        deployment: str | None = None,
        cluster_id: str | None = None,
        aws_conn_id: str | None = "aws_default",
        poll_interval: float = 30.0,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        for name, value in (("launcher", launcher), ("default_launcher", default_launcher)):
            if value is not None and value not in LAUNCHERS:
                raise ValueError(f"{name}={value!r}: use one of {', '.join(LAUNCHERS)}")
        # Validate at parse time what can be validated (job, env, branch, param names).
        SubmitSpec(job=job, ds=ds, env=env, artifact=_UNRESOLVED, branch=branch,
                   params=job_params or {}, conf=spark_conf or {}, ds_to=ds_to, force=_flag(force))
        given = kwargs.get("outlets") or []
        kwargs["outlets"] = [*output_assets(job, env=env, branch=branch), *(given if isinstance(given, list) else [given])]
        kwargs.setdefault("task_id", job)
        super().__init__(**kwargs)
        self.job = job
        self.env = env
        self.branch = branch
        self.ds = ds
        self.ds_to = ds_to
        self.force = force
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
        self.deferrable = deferrable  # EMR: wait for the step in the triggerer; yarn and local run in the worker
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
        # A cluster step runs under the deployment's role; a laptop's local-cluster under its user.
        on_cluster = config is not None and launcher != "local"
        role = config.execution_role_arn if on_cluster else ""
        if on_cluster and config.name == "qa" and not role:
            raise SubmitSpecError(f"a qa step on {launcher} needs the qa runtime role, which cannot write production: "
                                  "set execution_role_arn in the deployments file's [qa] section")
        return SubmitSpec(job=self.job, ds=self.ds, env=self.env, artifact=artifact, branch=self.branch,
                          params=self.job_params, conf=conf, ds_to=self.ds_to, force=_flag(self.force),
                          execution_role=role or None)

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
                self._running = self.emr_launcher(config)
                name = self.emr_step_name(context["ti"])
                state = self._running.start(spec, name)
                if state != DONE and self.deferrable:
                    from pj_airflow.triggers import EmrStepTrigger

                    self.defer(trigger=EmrStepTrigger(cluster_id=self._running.cluster_id, step_id=self._running.step_id,
                                                      aws_conn_id=self.aws_conn_id, poll_interval=self.poll_interval),
                               method_name="execute_complete", kwargs={"name": name, "spec": spec.as_dict()})
                result = self._running.finish(name, state)
            elif launcher == "yarn":
                from pj_airflow.yarn import YarnLauncher

                self._running = YarnLauncher(log=self.log, conf_dir=config.yarn_conf_dir or None)
                result = self._running.run(spec)
            else:
                self._running = LocalLauncher(log=self.log)
                result = self._running.run(spec)
        except (LaunchError, ArtifactNotFound, SubmitSpecError, DeploymentConfigError) as exc:
            raise AirflowException(str(exc)) from None
        finally:
            self.push_links(context)
        self.name_days_written(context, spec.ds, spec.ds_to)
        return {"launcher": launcher, "spec": spec.as_dict(), **result}

    def execute_complete(self, context: Any, event: dict[str, Any], name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Back from the triggerer once the step ended: succeed, or fail with the driver's error."""
        self._running = self.emr_launcher(self.deployment_config(), cluster=event["cluster_id"])
        self._running.step_id = event["step_id"]
        try:
            result = self._running.finish(name, event["state"])
        except LaunchError as exc:
            raise AirflowException(str(exc)) from None
        self.name_days_written(context, spec["ds"], spec["ds_to"])
        return {"launcher": "emr", "spec": spec, **result}

    def name_days_written(self, context: Any, ds: str, ds_to: str | None) -> None:
        """Each outlet's event names the days this run wrote, for the DAGs it triggers (assets.days_written).
        Called outside Airflow's task runner (no `outlet_events`), there are no events to name."""
        events = context.get("outlet_events")
        for asset in self.outlets if events is not None else ():
            events[asset].extra.update(ds_from=ds, ds_to=ds_to or ds)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """A trigger that failed or timed out (execution_timeout) fails the task: cancel its step first."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except (TaskDeferralError, TaskDeferralTimeout):
            self.cancel_step(context)
            raise

    def cancel_step(self, context: Any) -> None:
        """Cancel this try's pending or running step, found by its name."""
        launcher = self.emr_launcher(self.deployment_config())
        try:
            found = launcher.find_step(self.emr_step_name(context["ti"]))
        except Exception as exc:  # noqa: BLE001 - the task's own error must come through
            self.log.error("could not look for this try's EMR step to cancel it (%s): cancel it with "
                           "`aws emr cancel-steps`", exc)
            return
        if found and found["Status"]["State"] in ACTIVE:
            launcher.step_id = found["Id"]
            launcher.kill()

    def emr_launcher(self, config: DeploymentConfig, cluster: str | None = None) -> EmrLauncher:
        cluster = cluster or self.cluster_id or config.emr_cluster or os.environ.get("PYSPARK_JOBS_EMR_CLUSTER_ID", "")
        return EmrLauncher(cluster=cluster, aws_conn_id=self.aws_conn_id, log=self.log,
                           poll_interval=self.poll_interval, log_wait_s=config.log_wait_s)

    def emr_step_name(self, ti: Any) -> str:
        return step_name(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1),
                         cleared_after=self.cleared_after(ti))

    def cleared_after(self, ti: Any) -> int:
        """The try after which a person last cleared this task instance; 0 if never. Airflow's clear
        sets max_tries = try_number + retries (clear_task_instances) and a retry leaves it as it
        was, as the task SDK's own first-try arithmetic (get_first_reschedule_date) relies on."""
        return max(0, int(ti.max_tries) - int(self.retries or 0))

    def push_links(self, context: Any) -> None:
        """Where the run's Spark UI and logs are, for the task's extra links; on failure too."""
        if self._running is None:
            return
        try:
            links = self._running.links()
        except Exception as exc:  # noqa: BLE001 - a missing link must not hide how the run ended
            self.log.warning("no extra links for this run: %s", exc)
            return
        if links:
            context["ti"].xcom_push(key=LINKS_KEY, value=links)

    def on_kill(self) -> None:
        if self._running is not None:
            self._running.kill()
