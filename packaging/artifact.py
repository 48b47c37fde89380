"""What build.py and publish.py share: the artifact's layout, names, hashes and manifest.

This directory is deliberately not a package (a ``packaging/__init__.py`` would shadow the
PyPI ``packaging`` library); the scripts put their own directory on ``sys.path``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

__all__ = [
    "ARCHIVE_ALIAS",
    "ENVIRONMENT",
    "JOBS",
    "MAIN",
    "MANIFEST",
    "ICEBERG_JAR",
    "JARS",
    "JDBC_JAR",
    "PAYLOAD",
    "ROOT",
    "ArtifactError",
    "artifact_dir",
    "content_hash",
    "detect_branch",
    "git_commit",
    "load_slug",
    "read_manifest",
    "setting",
    "sha256_file",
    "verify_artifact",
]

ROOT = Path(__file__).resolve().parent.parent

ENVIRONMENT = "environment.tar.gz"
JOBS = "jobs.zip"
MAIN = "main.py"
# The MySQL driver and Iceberg's Spark runtime travel with the branch (spark-submit --jars): a
# stock cluster has neither. The same names as common/settings.py's SHIPPED_JARS (a test holds
# them equal).
JDBC_JAR = "mysql-connector-j-8.4.0.jar"
ICEBERG_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.0.jar"
JARS = (JDBC_JAR, ICEBERG_JAR)
MANIFEST = "manifest.json"
PAYLOAD = (ENVIRONMENT, JOBS, MAIN, *JARS)
# The name the archive is unpacked under on the cluster: --archives env.tar.gz#environment
ARCHIVE_ALIAS = "environment"


class ArtifactError(Exception):
    """A build or publish step failed; the message says which and what to do."""


def load_slug(root: Path = ROOT):
    """``common/slug.py`` loaded by path, so a build never depends on the framework importing."""
    path = root / "common" / "slug.py"
    if not path.is_file():
        path = ROOT / "common" / "slug.py"
    spec = importlib.util.spec_from_file_location("_pyspark_jobs_slug", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def var_dir() -> Path:
    return Path(os.environ.get("PYSPARK_JOBS_VAR") or ROOT / "var")


def setting(name: str, default: str = "") -> str:
    """``PYSPARK_JOBS_<name>`` from the environment, else from the profile file
    ``$PYSPARK_JOBS_VAR/credentials.env`` (as common/settings.py reads it), else ``default``."""
    key = f"PYSPARK_JOBS_{name}"
    if os.environ.get(key):
        return os.environ[key]
    profile = var_dir() / "credentials.env"
    if profile.is_file():
        for line in profile.read_text().splitlines():
            k, sep, value = line.strip().partition("=")
            if sep and k.strip() == key and value.strip():
                return value.strip()
    return default


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def detect_branch(root: Path = ROOT) -> str:
    """The branch being built: CI's variable first (CI checks out detached), then git."""
    for var in ("PYSPARK_JOBS_BRANCH", "CIRCLE_BRANCH"):
        if os.environ.get(var):
            return os.environ[var]
    # symbolic-ref also works on a branch without commits, unlike rev-parse --abbrev-ref.
    name = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    if not name:
        raise ArtifactError("cannot tell the git branch (detached HEAD?): pass --branch NAME")
    return name


def git_commit(root: Path = ROOT) -> dict:
    """Commit id (None before the first commit) and whether the work tree has changes."""
    commit = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(files: dict[str, dict]) -> str:
    """Hash of the whole artifact: of each payload file's name and sha256, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]['sha256']}\n".encode())
    return digest.hexdigest()


def artifact_dir(dist: Path, slug: str, root: Path = ROOT) -> Path:
    """``dist/<slug>``, refusing anything that is not a valid slug (no path can escape)."""
    if not load_slug(root).is_valid_slug(slug):
        raise ArtifactError(f"not a branch slug: {slug!r}")
    return dist / slug


def read_manifest(directory: Path) -> dict | None:
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def verify_artifact(directory: Path) -> dict:
    """The manifest of a complete, untampered artifact in ``directory``, or ArtifactError."""
    manifest = read_manifest(directory)
    if manifest is None:
        raise ArtifactError(f"no artifact in {directory}: run `make package` first")
    for name in PAYLOAD:
        path = directory / name
        expected = manifest["files"].get(name, {}).get("sha256")
        if not path.is_file() or sha256_file(path) != expected:
            raise ArtifactError(f"{path} is missing or differs from its manifest: rebuild it")
    if content_hash(manifest["files"]) != manifest["content_hash"]:
        raise ArtifactError(f"{directory / MANIFEST}: content hash does not match its files")
    return manifest


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
