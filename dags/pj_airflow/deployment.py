"""Which deployment this Airflow is, read from environment variables when a DAG file is parsed.

    PYSPARK_JOBS_DEPLOYMENT  prod (default) | qa | local
    PYSPARK_JOBS_BRANCH      qa: the branch under test; local: the packaged branch (default main)
    PYSPARK_JOBS_PROD_BRANCH the branch production runs (default main)

prod keeps the plain DAG ids and runs `--env prod` on production's artifact; qa prefixes DAG
ids with the branch slug, runs that branch's artifact and passes `--env qa --branch B`, so
its outputs land in `qa_<slug>__<db>`; local runs `--env local` for `airflow dags test` on a
laptop or in CI. Reading the process environment costs nothing; Variables and connections
are never read here (they would be a database query per parse).

What differs per deployment beyond that (lake root, catalog, MySQL secrets, cluster, Spark
sizing) is in the deployments file (`PYSPARK_JOBS_DEPLOYMENTS`, default dags/deployments.toml;
common/deployments.py), read by `Deployment.config()` only when a task runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.deployments import DeploymentConfig, load_deployment
from common.slug import branch_slug

__all__ = ["Deployment", "DeploymentError", "current_deployment", "deployments_file"]

DEPLOYMENTS = ("prod", "qa", "local")
PROD_CHANNEL = "prod"  # <store>/prod/current.json: production's artifact pointer


class DeploymentError(ValueError):
    """The deployment settings are inconsistent; the message names the variable to set."""


@dataclass(frozen=True)
class Deployment:
    name: str
    branch: str

    def __post_init__(self) -> None:
        if self.name not in DEPLOYMENTS:
            raise DeploymentError(f"PYSPARK_JOBS_DEPLOYMENT={self.name!r}: use one of {', '.join(DEPLOYMENTS)}")

    @property
    def slug(self) -> str:
        return branch_slug(self.branch)

    @property
    def env(self) -> str:
        """The job environment runs get: `--env`."""
        return self.name

    @property
    def run_branch(self) -> str | None:
        """`--branch` for runs: only qa names a branch (its output namespace)."""
        return self.branch if self.name == "qa" else None

    @property
    def artifact_channel(self) -> str:
        """The pointer in the artifact store the EMR launcher reads: prod's, or the branch's."""
        return PROD_CHANNEL if self.name == "prod" else self.slug

    @property
    def default_launcher(self) -> str:
        return "local" if self.name == "local" else "emr"

    def config(self) -> DeploymentConfig:
        """This deployment's section of the deployments file (task time only: it reads a file)."""
        return load_deployment(deployments_file(), self.name)

    def dag_id(self, base: str) -> str:
        return f"qa__{self.slug}__{base}" if self.name == "qa" else base

    def tags(self) -> list[str]:
        tags = ["pyspark-jobs", self.name]
        return tags + [f"branch:{self.slug}"] if self.name == "qa" else tags


def current_deployment(environ: Mapping[str, str] | None = None) -> Deployment:
    env = os.environ if environ is None else environ
    name = env.get("PYSPARK_JOBS_DEPLOYMENT", "prod").strip() or "prod"
    prod_branch = env.get("PYSPARK_JOBS_PROD_BRANCH", "main")
    branch = env.get("PYSPARK_JOBS_BRANCH", "").strip()
    if name == "qa" and not branch:
        raise DeploymentError("PYSPARK_JOBS_DEPLOYMENT=qa needs PYSPARK_JOBS_BRANCH, the branch under test")
    if name == "prod":
        branch = prod_branch  # production never runs another branch's code
    return Deployment(name=name, branch=branch or prod_branch)


def deployments_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("PYSPARK_JOBS_DEPLOYMENTS") or Path(__file__).resolve().parent.parent / "deployments.toml")
