"""Publish dist/<branch-slug>/ to the artifact store and mark it the branch's current version.

    python packaging/publish.py [--branch NAME] [--prod]

Layout in the store (``PYSPARK_JOBS_ARTIFACT_STORE``: ``s3://bucket/prefix`` or a local
folder, default var/artifacts; ``PYSPARK_JOBS_S3_ENDPOINT`` for an S3-compatible endpoint
such as moto)::

    <prefix>/<slug>/<content-hash>/{environment.tar.gz, jobs.zip, main.py, manifest.json}
    <prefix>/<slug>/current.json     the branch's current version
    <prefix>/prod/current.json       production's current version (--prod, from main only)

A version whose manifest is already in the store is not uploaded again (the manifest is
uploaded last, so its presence means the version is complete); the pointer is always
rewritten. ``prod`` is a reserved slug, so no branch can overwrite production's pointer.
AWS credentials come from the standard AWS environment variables or profile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifact
from artifact import MANIFEST, PAYLOAD, ROOT, ArtifactError

__all__ = ["LocalStore", "S3Store", "Store", "open_store", "publish"]

POINTER = "current.json"
PROD_CHANNEL = "prod"
PROD_BRANCH = os.environ.get("PYSPARK_JOBS_PROD_BRANCH", "main")
CONTENT_TYPES = {".json": "application/json", ".py": "text/x-python",
                 ".zip": "application/zip", ".gz": "application/gzip"}


class Store(Protocol):
    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def get_json(self, key: str) -> dict | None: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...


def _safe_key(*parts: str) -> str:
    key = "/".join(p.strip("/") for p in parts if p.strip("/"))
    if any(seg in ("", ".", "..") for seg in key.split("/")):
        raise ArtifactError(f"unsafe key in the artifact store: {key!r}")
    return key


class LocalStore:
    """A folder laid out like the bucket: for laptops and tests."""

    def __init__(self, root: Path):
        self.root = root

    def uri(self, key: str) -> str:
        return (self.root / key).as_uri()

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def get_json(self, key: str) -> dict | None:
        path = self.root / key
        return json.loads(path.read_text()) if path.is_file() else None

    def put_file(self, key: str, path: Path) -> None:
        self.put_bytes(key, path.read_bytes())

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)


class S3Store:
    """``s3://bucket/prefix`` through boto3; credentials from the standard AWS chain."""

    def __init__(self, bucket: str, prefix: str, endpoint: str | None = None):
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.client = boto3.client("s3", endpoint_url=endpoint or None, region_name=region)

    def _key(self, key: str) -> str:
        return _safe_key(self.prefix, key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise ArtifactError(f"cannot read {self.uri(key)}: {exc}") from None
        return True

    def get_json(self, key: str) -> dict | None:
        if not self.exists(key):
            return None
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return json.loads(body)

    def put_file(self, key: str, path: Path) -> None:
        extra = {"ContentType": CONTENT_TYPES.get(path.suffix, "application/octet-stream")}
        self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                               ContentType="application/json", CacheControl="no-cache")


def default_store_location() -> str:
    return artifact.setting("ARTIFACT_STORE") or str(artifact.var_dir() / "artifacts")


def open_store(location: str | None = None, endpoint: str | None = None):
    location = location or default_store_location()
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        if not bucket:
            raise ArtifactError(f"no bucket in artifact store {location!r}")
        _safe_key(prefix or "x")
        return S3Store(bucket, prefix, endpoint or artifact.setting("S3_ENDPOINT"))
    if "://" in location and not location.startswith("file://"):
        raise ArtifactError(f"artifact store must be s3://bucket/prefix or a folder: {location!r}")
    return LocalStore(Path(location.removeprefix("file://")).expanduser().resolve())


def publish(*, branch: str, store: Store, dist: Path | None = None, prod: bool = False,
            root: Path = ROOT, log: Callable[[str], None] = print) -> dict:
    """Upload the branch's artifact unless that version is there; rewrite its pointer(s)."""
    slug = artifact.load_slug(root).branch_slug(branch)
    directory = artifact.artifact_dir(dist or root / "dist", slug, root)
    manifest = artifact.verify_artifact(directory)
    if manifest["slug"] != slug:
        raise ArtifactError(f"{directory} was built for {manifest['branch']!r}, not {branch!r}")
    if prod and branch != PROD_BRANCH:
        raise ArtifactError(f"only {PROD_BRANCH!r} publishes to production, not {branch!r}")

    version = manifest["content_hash"]
    prefix = _safe_key(slug, version)
    uploaded = []
    remote = store.get_json(f"{prefix}/{MANIFEST}")
    if remote is not None and remote.get("content_hash") == version:
        log(f"{store.uri(prefix)}/ already holds this version: nothing uploaded")
    else:
        for name in (*PAYLOAD, MANIFEST):  # the manifest last: it marks the version complete
            store.put_file(f"{prefix}/{name}", directory / name)
            uploaded.append(name)
        log(f"uploaded {', '.join(uploaded)} to {store.uri(prefix)}/")

    pointer = {
        "schema": 1,
        "branch": branch,
        "slug": slug,
        "commit": manifest.get("commit"),
        "content_hash": version,
        "base_uri": store.uri(prefix) + "/",
        "files": {name: store.uri(f"{prefix}/{name}") for name in (*PAYLOAD, MANIFEST)},
        "python": manifest["python"],
        "spark": manifest["spark"],
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    pointers = [f"{slug}/{POINTER}"] + ([f"{PROD_CHANNEL}/{POINTER}"] if prod else [])
    for key in pointers:
        store.put_bytes(key, (json.dumps(pointer, indent=2, sort_keys=True) + "\n").encode())
        log(f"{store.uri(key)} -> {version[:12]}")
    return {"uploaded": uploaded, "pointers": [store.uri(k) for k in pointers], "pointer": pointer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branch", help="git branch (default: the current one, or $CIRCLE_BRANCH)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--store", help="s3://bucket/prefix or a folder "
                        "(default $PYSPARK_JOBS_ARTIFACT_STORE or var/artifacts)")
    parser.add_argument("--prod", action="store_true",
                        help=f"also mark it production's current version ({PROD_BRANCH} only)")
    args = parser.parse_args(argv)
    try:
        branch = args.branch if args.branch is not None else artifact.detect_branch()
        publish(branch=branch, store=open_store(args.store), dist=args.dist.resolve(), prod=args.prod)
    except (ArtifactError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 -- boto3/botocore: say what failed, never the credentials
        print(f"error: publishing failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
