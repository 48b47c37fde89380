"""Each run's OpenLineage events: START once the run is planned, COMPLETE with what it read
and wrote, FAIL with the error.

A run is the job (its namespace names the deployment: a qa run's names its branch) with a
UUID run id. Inputs are the lake tables in the catalog's namespace and MySQL tables as
`mysql://host:port` + `db.table`; outputs carry a schema built from their contracts and, on
COMPLETE, the rows written and the version's run id; inputs the rows their scans read (each
day of a range_plan backfill is a run of its own: the range's one read of its inputs is
counted on its first day, a later day's rows are what its own writes read again; see
common/range_plan.py). The
run names its Airflow task try (the parent run), the artifact's branch, commit and content
hash (or the work tree's, run from a checkout), and the run date.

Where events go is per deployment (`PYSPARK_JOBS_LINEAGE_URL`, docs/PRODUCTION.md): files
under `<var>/lineage/` by default, an HTTP endpoint such as Marquez, the library's own
configuration (OPENLINEAGE_URL, OPENLINEAGE_CONFIG), or off. Lineage is a by-product: an
event that cannot be built or sent is a warning in the log and never fails the run, and an
event that would hold a known secret is not sent.
"""

from __future__ import annotations

import logging
import os
import subprocess
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    dataset_version_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    storage_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from common.settings import PREFIX, Settings, load_settings, mysql_key
from common.submit import AIRFLOW_CONF, ARTIFACT_CONF, LINEAGE_PARENT_CONF

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient
    from pyspark.sql import SparkSession

    from common.contracts import Table
    from common.runner import Plan, RunConfig, RunSummary

__all__ = ["LineageSettings", "PysparkJobsRunFacet", "RunLineage", "schema_facet"]

log = logging.getLogger(__name__)
DEFAULT_NAMESPACE = "pyspark-jobs"
OFF = ("off", "none", "false", "0")
LIBRARY = "openlineage"  # the library's own configuration: OPENLINEAGE_URL, OPENLINEAGE_CONFIG, ...
MARQUEZ_ENDPOINT = "api/v1/lineage"
PRODUCER = "urn:pyspark-jobs"
FACET_SCHEMA = "urn:pyspark-jobs:facets:1#/$defs/"  # described in docs/PRODUCTION.md
HTTP_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 10.0
# Secrets shorter than this are not searched for in events: they would match ordinary text.
_MIN_SECRET = 4
_SECRET_WORDS = ("PASSWORD", "JWT", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "API_KEY", "TOKEN")
_LIBRARY_VARS = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED")


@attr.define
class PysparkJobsRunFacet(RunFacet):
    """What the framework knows of a run: its ds, env, branch and params, the artifact it ran
    from, the Airflow task try, and on COMPLETE the summary's seconds, cached steps and notes."""

    ds: str
    env: str
    branch: str | None = attr.field(default=None)
    params: dict[str, str] = attr.field(factory=dict)
    artifact: dict[str, Any] = attr.field(factory=dict)
    airflow: dict[str, str] | None = attr.field(default=None)
    summary: dict[str, Any] | None = attr.field(default=None)
    _additional_skip_redact: ClassVar[list[str]] = ["ds", "env", "branch"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA + "PysparkJobsRunFacet"


@dataclass(frozen=True)
class LineageSettings:
    """Where a deployment's events go and how datasets are named; loaded once per run."""

    target: str  # "off", LIBRARY, file:///folder or http(s)://host[:port]
    namespace: str = DEFAULT_NAMESPACE
    catalog_namespace: str = ""  # explicit; else from the metastore URI
    metastore_uri: str = ""
    trino: str = ""
    mysql: Mapping[str, str] = field(default_factory=dict)  # source -> mysql://host:port, where known unread
    api_key_secret_id: str = ""
    aws_region: str = ""
    home: Path = Path(".")
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def load(cls, settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> LineageSettings:
        """From the PYSPARK_JOBS_LINEAGE_* settings; without PYSPARK_JOBS_LINEAGE_URL, the library's
        own configuration if the environment has one, else files in the YARN container's log
        directory (collected with its logs) or `<var>/lineage/`."""
        settings = settings or load_settings()
        environ = os.environ if environ is None else environ

        def get(key: str) -> str:
            return settings.values.get(PREFIX + "LINEAGE_" + key, "")

        target = get("URL").strip()
        if not target:
            if any(environ.get(k) for k in _LIBRARY_VARS) or any(k.startswith("OPENLINEAGE__") for k in environ):
                target = LIBRARY
            else:
                yarn = environ.get("LOG_DIRS", "").split(",")[0]
                target = (Path(yarn) if yarn else settings.var / "lineage").resolve().as_uri()
        elif target.lower() in OFF:
            target = "off"
        known = [settings.mysql.password, settings.trino.password, settings.trino.jwt]
        known += [v for k, v in settings.values.items() if any(w in k for w in _SECRET_WORDS)]
        known += [v for k, v in environ.items() if k.startswith(("AWS_", "OPENLINEAGE")) and any(w in k for w in _SECRET_WORDS)]
        trino = settings.trino
        # Where each MySQL source is, if its settings say without reading its secret: for events
        # of a run that failed before reading it (a read names the host it used).
        named = {k[len(PREFIX + "MYSQL_"):-len("_HOST")].lower() for k in settings.values
                 if k.startswith(PREFIX + "MYSQL_") and k.endswith("_HOST") and k != PREFIX + "MYSQL_HOST"}
        mysql = {}
        for source in named | {"default"}:
            host, port = (settings.values.get(PREFIX + mysql_key(source, key), "") for key in ("HOST", "PORT"))
            if source == "default" and not settings.values.get(PREFIX + "MYSQL_SECRET_ID"):
                host, port = settings.mysql.read_host, str(settings.mysql.port)
            if host:
                mysql[source] = f"mysql://{host}:{port or 3306}"
        return cls(
            target=target, namespace=get("NAMESPACE") or DEFAULT_NAMESPACE,
            catalog_namespace=get("CATALOG_NAMESPACE"), metastore_uri=settings.metastore_uri,
            trino=f"trino://{trino.host}:{trino.port}", mysql=mysql, api_key_secret_id=get("API_KEY_SECRET_ID"),
            aws_region=settings.aws_region, home=settings.home,
            secrets=tuple(sorted({s for s in known if s and len(s) >= _MIN_SECRET})),
        )

    def job_namespace(self, env: str, slug: str | None) -> str:
        """Production's namespace; a qa run's names its branch, a local run's says so."""
        if env == "qa":
            return f"{self.namespace}/qa/{slug}"
        return self.namespace if env == "prod" else f"{self.namespace}/{env}"


def schema_facet(table: Table) -> schema_dataset.SchemaDatasetFacet:
    """The table's contract as OpenLineage's schema: every column with its type and description."""
    return schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.description or None)
        for c in table.contract.columns
    ], producer=PRODUCER)


def _hive_namespace(uri: str) -> str:
    """thrift://host:port[,...] -> hive://host:port, as OpenLineage names a Hive metastore."""
    first = uri.split(",")[0].strip()
    return "hive://" + first.split("://", 1)[-1].rstrip("/") if first else ""


def _git(home: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(home), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _conf(spark: SparkSession | None, key: str) -> str:
    if spark is None:
        return ""
    try:
        return spark.conf.get(key, None) or ""
    except Exception:  # noqa: BLE001 - a stopped session: nothing to read
        return ""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class RunLineage:
    """The events of one run; every public method logs and swallows its own failures."""

    def __init__(self, config: RunConfig, settings: LineageSettings | None = None) -> None:
        self.config = config
        self.run_id = str(generate_new_uuid())
        self.started = False
        self.validated = False
        self._plan: Plan | None = None
        self._spark: SparkSession | None = None
        self._client: OpenLineageClient | None = None
        self._artifact_info: dict[str, Any] | None = None
        try:
            self.settings = settings or LineageSettings.load()
        except Exception as exc:  # noqa: BLE001 - lineage never fails a run
            log.warning("OpenLineage: settings unreadable (%s); no lineage for this run", exc)
            self.settings = LineageSettings(target="off")

    @property
    def enabled(self) -> bool:
        return self.settings.target != "off"

    # ------------------------------------------------------------------ the three events
    def start(self, plan: Plan, spark: SparkSession | None) -> None:
        self._plan, self._spark = plan, spark
        self._emit(RunState.START)

    def complete(self, summary: RunSummary) -> None:
        self._emit(RunState.COMPLETE, summary=summary)
        self.close()

    def fail(self, error: BaseException) -> None:
        """FAIL for a run that got past validation (a START first if planning failed)."""
        if not self.validated:
            return
        if not self.started:
            self._emit(RunState.START)
        self._emit(RunState.FAIL, error=error)
        self.close()

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close(CLOSE_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001
                log.warning("OpenLineage: closing the transport failed: %s", exc)

    # ------------------------------------------------------------------ building events
    def _emit(self, state: RunState, *, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        if not self.enabled:
            return
        try:
            event = self.event(state, summary=summary, error=error)
            text = Serde.to_json(event)
            leaked = [s for s in self.settings.secrets if s in text]
            if leaked:
                log.warning("OpenLineage: the %s event of %s would hold a secret; not sent", state.value, self.config.job)
                return
            self.client().emit(event)
            self.started = self.started or state == RunState.START
            log.info("OpenLineage: %s %s run %s", state.value, self.config.job, self.run_id)
        except Exception as exc:  # noqa: BLE001 - lineage never fails a run
            log.warning("OpenLineage: could not emit the %s event of %s: %s", state.value, self.config.job, exc)

    def event(self, state: RunState, *, summary: RunSummary | None = None,
              error: BaseException | None = None) -> RunEvent:
        from common.environments import Environment
        from common.registry import get_job

        config, plan = self.config, self._plan
        job_cls = plan.job if plan else get_job(config.job)
        env = plan.env if plan else Environment(config.env, config.branch)
        spark = self._spark or self._active_session()
        run_facets: dict[str, RunFacet] = {
            "nominalTime": self._nominal_time(),
            "pysparkJobs": PysparkJobsRunFacet(
                ds=config.ds, env=config.env, branch=config.branch, params=dict(config.params),
                artifact=self._artifact(spark), airflow=self._airflow(spark),
                summary=self._summary_part(summary), producer=PRODUCER,
            ),
        }
        parent = self._parent(spark)
        if parent is not None:
            run_facets["parent"] = parent
        if spark is not None:
            from openlineage.client.constants import __version__ as client_version

            run_facets["processing_engine"] = processing_engine_run.ProcessingEngineRunFacet(
                version=spark.version, name="spark", openlineageAdapterVersion=client_version, producer=PRODUCER)
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=self._redact(f"{type(error).__name__}: {error}"), programmingLanguage="python",
                stackTrace=self._redact("".join(traceback.format_exception(error))), producer=PRODUCER)
        doc = (job_cls.description if getattr(job_cls, "description", "") else (job_cls.__doc__ or "")).strip()
        job_facets: dict[str, Any] = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="SPARK", jobType="JOB", producer=PRODUCER)}
        if doc:
            job_facets["documentation"] = documentation_job.DocumentationJobFacet(description=doc, producer=PRODUCER)
        return RunEvent(
            eventType=state, eventTime=_now(), producer=PRODUCER,
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=self.settings.job_namespace(env.name, env.slug), name=job_cls.name, facets=job_facets),
            inputs=self._inputs(job_cls, env, spark, summary),
            outputs=self._outputs(job_cls, env, spark, summary),
        )

    def _inputs(self, job_cls: Any, env: Any, spark: SparkSession | None, summary: RunSummary | None) -> list[InputDataset]:
        wheres = {alias: where for alias, (_, where) in self._plan.sources.items()} if self._plan else {}
        rows = {alias: n for alias, _, n in summary.inputs} if summary else {}
        datasets = []
        for alias, table in job_cls.inputs.items():
            namespace, name = self._input_name(table, wheres.get(alias), spark)
            facets = {"schema": schema_facet(table)}
            if table.description:
                facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
                    description=table.description, producer=PRODUCER)
            input_facets = {}
            if rows.get(alias) is not None:
                input_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                    rowCount=rows[alias], producer=PRODUCER)
            datasets.append(InputDataset(namespace=namespace, name=name, facets=facets, inputFacets=input_facets))
        return datasets

    def _outputs(self, job_cls: Any, env: Any, spark: SparkSession | None, summary: RunSummary | None) -> list[OutputDataset]:
        written = dict(zip(job_cls.outputs, summary.outputs)) if summary else {}
        datasets = []
        for alias, table in job_cls.outputs.items():
            out = written.get(alias)
            facets: dict[str, Any] = {"schema": schema_facet(table), "storage": storage_dataset.StorageDatasetFacet(
                storageLayer=table.format, fileFormat="parquet", producer=PRODUCER)}
            if table.description:
                facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
                    description=table.description, producer=PRODUCER)
            output_facets = {}
            if out is not None:
                output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=out.rows, producer=PRODUCER)
                if out.run_id:
                    facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                        datasetVersion=out.run_id, producer=PRODUCER)
            name = out.table if out is not None else env.output_name(table)
            datasets.append(OutputDataset(namespace=self._catalog(spark), name=name, facets=facets,
                                          outputFacets=output_facets))
        return datasets

    def _input_name(self, table: Table, where: str | None, spark: SparkSession | None) -> tuple[str, str]:
        """(namespace, name) of what an input was read from: `where` as the reader said it."""
        if where and where.startswith("mysql "):  # "mysql host:port/db.table"
            address, _, name = where[len("mysql "):].partition("/")
            return f"mysql://{address}", name
        if where and where.startswith("trino "):  # "trino catalog.schema.table[ sample ...], ..."
            return self.settings.trino, where[len("trino "):].split(",")[0].split(" ")[0]
        if table.is_mysql:  # not read yet (a run that failed while planning): its settings, if they say
            source = table.mysql_source or "default"
            return self.settings.mysql.get(source, f"mysql://{source}"), table.name
        return self._catalog(spark), where or table.name

    def _catalog(self, spark: SparkSession | None) -> str:
        """The lake catalog's namespace: the deployment's, else hive://<metastore host:port>."""
        if self.settings.catalog_namespace:
            return self.settings.catalog_namespace
        uri = _conf(spark, "spark.hadoop.hive.metastore.uris")
        if not uri and spark is not None:
            try:
                uri = spark.sparkContext._jsc.hadoopConfiguration().get("hive.metastore.uris") or ""
            except Exception:  # noqa: BLE001 - no Hadoop conf to read: fall back to the settings
                uri = ""
        return _hive_namespace(uri or self.settings.metastore_uri) or "hive://unknown"

    # ------------------------------------------------------------------ run facets
    def _nominal_time(self) -> nominal_time_run.NominalTimeRunFacet:
        day = date.fromisoformat(self.config.ds)
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=start.isoformat(), nominalEndTime=(start + timedelta(days=1)).isoformat(), producer=PRODUCER)

    def _parent(self, spark: SparkSession | None) -> parent_run.ParentRunFacet | None:
        value = {key: _conf(spark, conf) for key, conf in LINEAGE_PARENT_CONF.items()}
        if not (value["namespace"] and value["name"] and value["run_id"]):
            return None
        root = None
        if value["root_namespace"] and value["root_name"] and value["root_run_id"]:
            root = parent_run.Root(run=parent_run.RootRun(runId=value["root_run_id"]),
                                   job=parent_run.RootJob(namespace=value["root_namespace"], name=value["root_name"]))
        return parent_run.ParentRunFacet(run=parent_run.Run(runId=value["run_id"]),
                                         job=parent_run.Job(namespace=value["namespace"], name=value["name"]),
                                         root=root, producer=PRODUCER)

    def _airflow(self, spark: SparkSession | None) -> dict[str, str] | None:
        keys = ("dag_id", "task_id", "run_id", "try_number", "map_index")
        found = {key: _conf(spark, AIRFLOW_CONF + key) for key in keys}
        return found if found["dag_id"] else None

    def _artifact(self, spark: SparkSession | None) -> dict[str, Any]:
        """The packaged artifact's branch, commit and content hash (its manifest, passed by the
        launcher), else the work tree's branch and commit."""
        if self._artifact_info is not None:
            return self._artifact_info
        self._artifact_info = self._find_artifact(spark)
        return self._artifact_info

    def _find_artifact(self, spark: SparkSession | None) -> dict[str, Any]:
        keys = ("branch", "commit", "dirty", "content_hash")
        found = {key: _conf(spark, ARTIFACT_CONF + key) for key in keys}
        if found["commit"] or found["content_hash"]:
            return {"source": "artifact", "branch": found["branch"] or None, "commit": found["commit"] or None,
                    "dirty": found["dirty"] == "true", "contentHash": found["content_hash"] or None}
        commit = _git(self.settings.home, "rev-parse", "--verify", "-q", "HEAD")
        if not commit:
            return {}
        return {"source": "git", "branch": _git(self.settings.home, "rev-parse", "--abbrev-ref", "HEAD") or None,
                "commit": commit, "dirty": bool(_git(self.settings.home, "status", "--porcelain", "--untracked-files=no")),
                "contentHash": None}

    @staticmethod
    def _summary_part(summary: RunSummary | None) -> dict[str, Any] | None:
        if summary is None:
            return None
        full = summary.as_json()
        return {key: full[key] for key in ("seconds", "cached", "notes")}

    def _redact(self, text: str) -> str:
        for secret in self.settings.secrets:
            text = text.replace(secret, "***")
        return text

    @staticmethod
    def _active_session() -> SparkSession | None:
        try:
            from pyspark.sql import SparkSession

            return SparkSession.getActiveSession()
        except Exception:  # noqa: BLE001
            return None

    # ------------------------------------------------------------------ transport
    def client(self) -> OpenLineageClient:
        if self._client is None:
            self._client = _build_client(self.settings, self.config.job)
        return self._client


def _build_client(settings: LineageSettings, job: str) -> OpenLineageClient:
    """The client for the deployment's target. OPENLINEAGE_DISABLED=true silences every target."""
    from openlineage.client import OpenLineageClient

    target = settings.target
    if target == LIBRARY:
        return OpenLineageClient()
    if target.startswith("file://"):
        from openlineage.client.transport.file import FileConfig, FileTransport

        folder = Path(target[len("file://"):])
        folder.mkdir(parents=True, exist_ok=True)
        return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(folder / f"openlineage-{job}"))))
    if target.startswith(("http://", "https://")):
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        config: dict[str, Any] = {"url": target, "endpoint": MARQUEZ_ENDPOINT, "timeout": HTTP_TIMEOUT_S}
        if settings.api_key_secret_id:
            from common.secrets import read_secret

            secret = read_secret(settings.api_key_secret_id, region=settings.aws_region,
                                 setting=PREFIX + "LINEAGE_API_KEY_SECRET_ID")
            config["auth"] = {"type": "api_key", "apiKey": secret.get("api_key") or secret.get("apiKey")}
        return OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(config)))
    raise ValueError(f"{PREFIX}LINEAGE_URL={target!r}: use off, {LIBRARY}, file:///folder or http(s)://host:port")
