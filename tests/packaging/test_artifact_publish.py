"""packaging/publish.py against a real S3 API (moto in server mode) and a local folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import load_packaging_script

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SHARED_MOTO = os.environ.get("PYSPARK_JOBS_S3_ENDPOINT", "http://127.0.0.1:15000")
# Fake credentials for moto; distinctive so a test can prove they are never printed.
FAKE_KEY_ID, FAKE_SECRET = "AKIATESTPUBLISH00000", "secret-never-printed-6f1d"


_load = load_packaging_script


publish = _load("publish")
artifact = sys.modules["artifact"]


def make_artifact(dist: Path, branch: str, version: str = "v1") -> dict:
    """A complete dist/<slug>/ with tiny payload files (publishing does not look inside)."""
    slug = artifact.load_slug().branch_slug(branch)
    directory = dist / slug
    directory.mkdir(parents=True, exist_ok=True)
    for name in artifact.PAYLOAD:
        (directory / name).write_text(f"{name} {version}\n")
    files = {n: {"sha256": artifact.sha256_file(directory / n), "size": (directory / n).stat().st_size}
             for n in artifact.PAYLOAD}
    manifest = {"schema": 1, "branch": branch, "slug": slug, "commit": None, "dirty": False,
                "files": files, "content_hash": artifact.content_hash(files),
                "python": {"version": "3.11.2", "prefix": "/usr", "executable": "/usr/bin/python3.11"},
                "spark": {"version": "3.5.7"}}
    artifact.write_json(directory / artifact.MANIFEST, manifest)
    return manifest


def _s3(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET)


def _answers(endpoint: str) -> bool:
    try:
        _s3(endpoint).list_buckets()
        return True
    except Exception:  # noqa: BLE001 -- any failure means: not a usable endpoint
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    """The shared moto server if it runs (dev/services.sh), else our own on a free port."""
    if _answers(SHARED_MOTO):
        yield SHARED_MOTO
        return
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(endpoint):
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("moto_server did not start")
            time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(moto_endpoint, monkeypatch):
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"pyspark-jobs-test-{uuid.uuid4().hex[:8]}"
    _s3(moto_endpoint).create_bucket(Bucket=name)
    return name


def objects(endpoint: str, bucket: str) -> dict[str, object]:
    listing = _s3(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["LastModified"] for o in listing}


def read_json(endpoint: str, bucket: str, key: str) -> dict:
    return json.loads(_s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())


def test_publishing_twice_uploads_once_and_updates_the_pointer(tmp_path, moto_endpoint, bucket):
    manifest = make_artifact(tmp_path / "dist", "feature/X")
    store = publish.open_store(f"s3://{bucket}/artifacts", endpoint=moto_endpoint)
    version = manifest["content_hash"]
    base = f"artifacts/feature_x__13578b02c3/{version}"

    first = publish.publish(branch="feature/X", store=store, dist=tmp_path / "dist", log=lambda _: None)
    assert first["uploaded"] == [*artifact.PAYLOAD, "manifest.json"]
    after_first = objects(moto_endpoint, bucket)
    assert set(after_first) == {f"{base}/{n}" for n in first["uploaded"]} | {
        "artifacts/feature_x__13578b02c3/current.json"}

    time.sleep(1.1)  # S3 LastModified has second resolution
    logs = []
    second = publish.publish(branch="feature/X", store=store, dist=tmp_path / "dist", log=logs.append)
    assert second["uploaded"] == []
    assert "nothing uploaded" in logs[0]
    after_second = objects(moto_endpoint, bucket)
    for name in (*artifact.PAYLOAD, "manifest.json"):
        assert after_second[f"{base}/{name}"] == after_first[f"{base}/{name}"], name
    pointer_key = "artifacts/feature_x__13578b02c3/current.json"
    assert after_second[pointer_key] > after_first[pointer_key]
    pointer = read_json(moto_endpoint, bucket, pointer_key)
    assert pointer["content_hash"] == version
    assert pointer["base_uri"] == f"s3://{bucket}/{base}/"
    assert pointer["files"]["environment.tar.gz"] == f"s3://{bucket}/{base}/environment.tar.gz"
    assert pointer["published_at"] != first["pointer"]["published_at"]


def test_a_new_version_moves_the_pointer_and_keeps_the_old_one(tmp_path, moto_endpoint, bucket):
    store = publish.open_store(f"s3://{bucket}/a/b", endpoint=moto_endpoint)
    old = make_artifact(tmp_path / "dist", "main", "v1")
    publish.publish(branch="main", store=store, dist=tmp_path / "dist", log=lambda _: None)
    new = make_artifact(tmp_path / "dist", "main", "v2")
    result = publish.publish(branch="main", store=store, dist=tmp_path / "dist", log=lambda _: None)
    # environment, code, entry point, MySQL and Iceberg jars, manifest
    assert len(result["uploaded"]) == 6
    assert read_json(moto_endpoint, bucket, "a/b/main/current.json")["content_hash"] == new["content_hash"]
    keys = objects(moto_endpoint, bucket)
    assert f"a/b/main/{old['content_hash']}/manifest.json" in keys
    assert "a/b/prod/current.json" not in keys


def test_prod_pointer_only_from_main(tmp_path, moto_endpoint, bucket):
    store = publish.open_store(f"s3://{bucket}/artifacts", endpoint=moto_endpoint)
    main = make_artifact(tmp_path / "dist", "main")
    publish.publish(branch="main", store=store, dist=tmp_path / "dist", prod=True, log=lambda _: None)
    prod = read_json(moto_endpoint, bucket, "artifacts/prod/current.json")
    assert prod["slug"] == "main" and prod["content_hash"] == main["content_hash"]

    make_artifact(tmp_path / "dist", "feature/X")
    with pytest.raises(artifact.ArtifactError, match="only 'main' publishes to production"):
        publish.publish(branch="feature/X", store=store, dist=tmp_path / "dist", prod=True)


def test_a_branch_named_prod_cannot_overwrite_production(tmp_path, moto_endpoint, bucket):
    store = publish.open_store(f"s3://{bucket}/artifacts", endpoint=moto_endpoint)
    make_artifact(tmp_path / "dist", "prod")
    result = publish.publish(branch="prod", store=store, dist=tmp_path / "dist", log=lambda _: None)
    slug = result["pointer"]["slug"]
    assert slug.startswith("prod__")
    assert result["pointers"] == [f"s3://{bucket}/artifacts/{slug}/current.json"]
    assert "artifacts/prod/current.json" not in objects(moto_endpoint, bucket)


def test_the_cli_publishes_without_printing_credentials(tmp_path, moto_endpoint, bucket):
    make_artifact(tmp_path / "dist", "feature/cli")
    env = {**os.environ, "PYSPARK_JOBS_ARTIFACT_STORE": f"s3://{bucket}/cli",
           "PYSPARK_JOBS_S3_ENDPOINT": moto_endpoint}
    cmd = [sys.executable, str(PACKAGING / "publish.py"), "--branch", "feature/cli", "--dist", str(tmp_path / "dist")]
    runs = [subprocess.run(cmd, env=env, capture_output=True, text=True, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert FAKE_SECRET not in run.stdout + run.stderr
        assert FAKE_KEY_ID not in run.stdout + run.stderr
    assert ("uploaded environment.tar.gz, jobs.zip, main.py, mysql-connector-j-8.4.0.jar, "
            "iceberg-spark-runtime-3.5_2.12-1.10.0.jar, manifest.json") in runs[0].stdout
    assert "nothing uploaded" in runs[1].stdout


def test_a_missing_bucket_is_a_clear_error(tmp_path, moto_endpoint, bucket):
    make_artifact(tmp_path / "dist", "main")
    env = {**os.environ, "PYSPARK_JOBS_ARTIFACT_STORE": f"s3://{bucket}-missing/x",
           "PYSPARK_JOBS_S3_ENDPOINT": moto_endpoint}
    run = subprocess.run([sys.executable, str(PACKAGING / "publish.py"), "--branch", "main",
                          "--dist", str(tmp_path / "dist")], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert run.stderr.startswith("error:") and "NoSuchBucket" in run.stderr
    assert FAKE_SECRET not in run.stderr


def test_local_folder_store(tmp_path):
    manifest = make_artifact(tmp_path / "dist", "main")
    store = publish.open_store(str(tmp_path / "artifacts"))
    first = publish.publish(branch="main", store=store, dist=tmp_path / "dist", log=lambda _: None)
    second = publish.publish(branch="main", store=store, dist=tmp_path / "dist", log=lambda _: None)
    assert len(first["uploaded"]) == 6 and second["uploaded"] == []  # the five files and the manifest
    version_dir = tmp_path / "artifacts" / "main" / manifest["content_hash"]
    assert sorted(p.name for p in version_dir.iterdir()) == sorted([*artifact.PAYLOAD, "manifest.json"])
    pointer = json.loads((tmp_path / "artifacts" / "main" / "current.json").read_text())
    assert pointer["content_hash"] == manifest["content_hash"]


def test_a_tampered_artifact_is_refused(tmp_path):
    make_artifact(tmp_path / "dist", "main")
    (tmp_path / "dist" / "main" / "jobs.zip").write_text("changed after the build")
    with pytest.raises(artifact.ArtifactError, match="differs from its manifest"):
        publish.publish(branch="main", store=publish.open_store(str(tmp_path / "a")), dist=tmp_path / "dist")


def test_nothing_built_is_a_clear_error(tmp_path):
    with pytest.raises(artifact.ArtifactError, match="run `make package` first"):
        publish.publish(branch="main", store=publish.open_store(str(tmp_path / "a")), dist=tmp_path / "dist")


@pytest.mark.parametrize("location, error", [
    ("s3://", "no bucket"),
    ("s3://bucket/../escape", "unsafe key"),
    ("gs://bucket/x", "must be s3://bucket/prefix or a folder"),
])
def test_bad_store_locations(location, error):
    with pytest.raises(artifact.ArtifactError, match=error):
        publish.open_store(location)


def test_store_location_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PYSPARK_JOBS_ARTIFACT_STORE", "s3://bkt/some/prefix/")
    monkeypatch.setenv("PYSPARK_JOBS_S3_ENDPOINT", "http://127.0.0.1:1")
    store = publish.open_store()
    assert (store.bucket, store.prefix) == ("bkt", "some/prefix")
    assert store.uri("main/current.json") == "s3://bkt/some/prefix/main/current.json"
    monkeypatch.delenv("PYSPARK_JOBS_ARTIFACT_STORE")
    monkeypatch.setenv("PYSPARK_JOBS_VAR", str(tmp_path))
    assert publish.open_store().root == tmp_path / "artifacts"
