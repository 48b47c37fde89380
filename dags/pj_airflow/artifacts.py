"""Where a run's packaged artifact is, decided when the task runs (never at parse time).

In order: the operator's `artifact` argument; `PYSPARK_JOBS_ARTIFACT_URI` (a pin); for the
local launcher the built folder `$PYSPARK_JOBS_DIST/<slug>` (default `<home>/dist`, what
`make package` writes); for EMR the pointer `<store>/<channel>/current.json` that
`make publish` writes (store: `PYSPARK_JOBS_ARTIFACT_STORE`, an s3:// URI or a folder).
`check_artifact` makes sure every file of the resolved version is there before a step is added:
a missing file fails the task with one line instead of a step that fails on the cluster.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from common.slug import branch_slug
from common.submit import ARTIFACT_FILES

__all__ = ["ArtifactNotFound", "artifact_manifest", "check_artifact", "resolve_artifact"]

log = logging.getLogger(__name__)
POINTER = "current.json"
MANIFEST = "manifest.json"


class ArtifactNotFound(RuntimeError):
    """No packaged artifact where the run looks for one; the message says how to make it."""


def _home() -> Path:
    return Path(os.environ.get("PYSPARK_JOBS_HOME") or Path.cwd())


def local_artifact(branch: str) -> str:
    slug = branch_slug(branch)
    dist = Path(os.environ.get("PYSPARK_JOBS_DIST") or _home() / "dist")
    folder = (dist / slug).resolve()
    if not (folder / "manifest.json").is_file():
        raise ArtifactNotFound(f"no packaged artifact in {folder}: run `make package BRANCH={branch}` first")
    return str(folder)


def _s3():  # noqa: ANN202 - a boto3 client
    import boto3  # only here: EMR runs read the pointer from S3

    return boto3.client("s3", endpoint_url=os.environ.get("PYSPARK_JOBS_S3_ENDPOINT") or None)


def check_artifact(base: str) -> None:
    """Every file a run needs is at `base` (s3:// or a folder), or ArtifactNotFound naming the first missing."""
    for name in ARTIFACT_FILES:
        uri = f"{base.rstrip('/')}/{name}"
        if uri.startswith("s3://"):
            bucket, _, key = uri[len("s3://"):].partition("/")
            try:
                _s3().head_object(Bucket=bucket, Key=key)
                continue
            except Exception as exc:  # noqa: BLE001 - botocore's ClientError (404/403) or no connection
                reason = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        elif Path(uri.removeprefix("file://")).is_file():
            continue
        else:
            reason = "no such file"
        raise ArtifactNotFound(f"the artifact {base} has no {name} ({reason}): publish the branch again "
                               "(`make publish`) or fix PYSPARK_JOBS_ARTIFACT_URI / the pointer it came from")


def artifact_manifest(base: str) -> dict[str, Any]:
    """The artifact's manifest.json (branch, commit, content hash: for the run's lineage), or {}
    with a warning: a run does not depend on it."""
    uri = f"{base.rstrip('/')}/{MANIFEST}"
    try:
        if uri.startswith("s3://"):
            bucket, _, key = uri[len("s3://"):].partition("/")
            return json.loads(_s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        return json.loads(Path(uri.removeprefix("file://")).read_text())
    except Exception as exc:  # noqa: BLE001 - lineage only: the run goes on without it
        log.warning("could not read %s (%s): the run's lineage will not name its commit", uri, exc)
        return {}


def _read_pointer(store: str, channel: str) -> dict:
    if store.startswith("s3://"):
        bucket, _, prefix = store[len("s3://"):].partition("/")
        key = "/".join(p for p in (prefix.strip("/"), channel, POINTER) if p)
        client = _s3()
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            raise ArtifactNotFound(f"no s3://{bucket}/{key}: run `make publish` for that branch") from None
        return json.loads(body)
    path = Path(store.removeprefix("file://")) / channel / POINTER
    if not path.is_file():
        raise ArtifactNotFound(f"no {path}: run `make publish` for that branch")
    return json.loads(path.read_text())


def resolve_artifact(*, launcher: str, branch: str, channel: str, explicit: str | None = None) -> str:
    """The base URI holding environment.tar.gz, jobs.zip and main.py for this run."""
    pinned = explicit or os.environ.get("PYSPARK_JOBS_ARTIFACT_URI")
    if pinned:
        return pinned.removeprefix("file://") if launcher == "local" else pinned
    if launcher == "local":
        return local_artifact(branch)
    store = os.environ.get("PYSPARK_JOBS_ARTIFACT_STORE") or str(_home() / "var" / "artifacts")
    base = _read_pointer(store, channel).get("base_uri")
    if not base:
        raise ArtifactNotFound(f"{store}/{channel}/{POINTER} names no base_uri")
    return base.rstrip("/")
