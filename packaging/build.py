"""Build one branch's artifact: dist/<branch-slug>/{environment.tar.gz, jobs.zip, main.py, manifest.json}.

    python packaging/build.py [--branch NAME] [--force]

* environment.tar.gz: a fresh stdlib venv made with the *cluster's* interpreter
  (``PYSPARK_JOBS_CLUSTER_PYTHON``, default /usr/bin/python3.11), holding exactly
  requirements/runtime.lock (``uv pip install --no-deps``: nothing else comes in, and not
  pyspark/py4j, which the cluster provides). venv-pack packs it with ``--python-prefix``
  (``PYSPARK_JOBS_CLUSTER_PYTHON_PREFIX``, default that interpreter's prefix); the result is
  then repacked deterministically (sorted entries, mtime 0, uid/gid 0, gzip mtime 0, no
  __pycache__, no files holding build paths) and every link in it is checked.
* jobs.zip: common/ and pyspark_jobs/ (with .sql files; no __pycache__, no tests), for --py-files.
* main.py: pyspark_jobs/main.py, the spark-submit application.
* manifest.json: branch, slug, commit, per-file and whole-artifact content hashes, target
  Python and Spark versions, and the input hash that lets an unchanged build be skipped.
"""

from __future__ import annotations

import argparse
import configparser
import gzip
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifact
from artifact import ENVIRONMENT, JOBS, MAIN, MANIFEST, ROOT, ArtifactError

__all__ = ["BuildPathLeak", "LinkEscapeError", "build", "check_links", "pack_environment"]

DEFAULT_CLUSTER_PYTHON = "/usr/bin/python3.11"
LOCK = Path("requirements") / "runtime.lock"
CODE_PACKAGES = ("common", "pyspark_jobs")
SKIP_DIRS = {"__pycache__", "tests", "test"}
SKIP_SUFFIXES = (".pyc", ".pyo", "~", ".swp")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
GZIP_LEVEL = 6  # level 9: 3x the time for <1% smaller
MANIFEST_SCHEMA = 1


class LinkEscapeError(ArtifactError):
    """A link in the environment archive points outside it, or at the build interpreter."""


class BuildPathLeak(ArtifactError):
    """A file in the environment archive names a path of the build machine."""


# ---------------------------------------------------------------- the environment archive


def probe_interpreter(python: str) -> dict:
    """Version and prefix of the interpreter the environment is made for."""
    code = (
        "import json, sys; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
        " 'minor': '%d.%d' % sys.version_info[:2], 'prefix': sys.base_prefix}))"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ArtifactError(
            f"cluster interpreter {python!r} does not run ({exc}); set PYSPARK_JOBS_CLUSTER_PYTHON"
            " to a Python matching the cluster's"
        ) from None
    return json.loads(out.stdout)


def _dropped(name: str, data: bytes | None) -> bool:
    parts = name.split("/")
    if "__pycache__" in parts or name.endswith((".pyc", ".pyo")):
        return True
    if name == ".lock":  # uv's lock file for the venv
        return True
    if len(parts) >= 2 and parts[-2].endswith(".dist-info"):
        if parts[-1] == "direct_url.json":  # file:// URL of a local install
            return True
        if parts[-1] == "RECORD" and data is not None:
            # Absolute paths, or the hash of a script whose shebang named the build's venv
            # (venv-pack rewrites the script, not its RECORD line): both differ per checkout.
            return any(line.startswith((b"/", b"../../../bin/")) for line in data.splitlines())
    return False


def _clean_pyvenv_cfg(data: bytes) -> bytes:
    # `command = ... -m venv /tmp/build/env` names the build machine; nothing reads it.
    lines = [ln for ln in data.decode().splitlines() if not ln.startswith("command")]
    return ("\n".join(lines) + "\n").encode()


def _venv_home(venv: Path) -> str:
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return value.strip()
    raise ArtifactError(f"{venv}/pyvenv.cfg has no home: not a stdlib venv")


def _is_base_interpreter(target: str, home: str) -> bool:
    """A venv link to the interpreter it was made with (``<home>/python3.11``)."""
    return (posixpath.isabs(target) and posixpath.dirname(target) == home.rstrip("/")
            and re.fullmatch(r"python(\d+(\.\d+)?)?", posixpath.basename(target)) is not None)


def check_links(
    members: list[tarfile.TarInfo], *, interpreter: str, build_interpreters: set[str]
) -> None:
    """Every link resolves inside the archive, except the venv's link to ``interpreter``."""
    for info in members:
        if not (info.issym() or info.islnk()):
            continue
        target = info.linkname
        if posixpath.isabs(target):
            if info.issym() and target == interpreter:
                continue
            real = os.path.realpath(target)
            if target in build_interpreters or real in build_interpreters:
                raise LinkEscapeError(
                    f"{info.name} -> {target} points at the build interpreter, not the "
                    f"cluster's {interpreter}; build with the cluster Python "
                    "(PYSPARK_JOBS_CLUSTER_PYTHON) and its prefix (PYSPARK_JOBS_CLUSTER_PYTHON_PREFIX)"
                )
            raise LinkEscapeError(f"{info.name} -> {target} points outside the archive")
        base = posixpath.dirname(info.name) if info.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if resolved == ".." or resolved.startswith("../"):
            raise LinkEscapeError(f"{info.name} -> {target} points outside the archive")


def _build_interpreters() -> set[str]:
    paths = {sys.executable, os.path.realpath(sys.executable)}
    minor = "{}.{}".format(*sys.version_info[:2])
    for prefix in {sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix)}:
        for exe in ("python", "python3", f"python{minor}"):
            path = os.path.join(prefix, "bin", exe)
            paths |= {path, os.path.realpath(path)}
    return paths


def pack_environment(
    venv: Path,
    output: Path,
    *,
    python_prefix: str,
    minor: str,
    build_paths: list[str],
    build_interpreters: set[str] | None = None,
) -> None:
    """venv-pack ``venv``, then repack it byte-reproducibly into ``output`` (a .tar.gz)."""
    interpreter = posixpath.join(python_prefix, "bin", f"python{minor}")
    build_interpreters = (build_interpreters or _build_interpreters()) - {interpreter}
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-pack-") as tmp:
        raw = Path(tmp) / "raw.tar"
        cmd = [sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(raw),
               "--format", "tar", "--python-prefix", python_prefix, "--force", "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ArtifactError(f"venv-pack failed: {proc.stderr.strip() or proc.stdout.strip()}")
        entries: dict[str, tuple] = {}
        home = _venv_home(venv)
        with tarfile.open(raw) as src:
            for info in src.getmembers():
                name = posixpath.normpath(info.name.lstrip("/"))
                data = src.extractfile(info).read() if info.isfile() else None
                if _dropped(name, data):
                    continue
                if name == "pyvenv.cfg":
                    data = _clean_pyvenv_cfg(data)
                if info.issym() and _is_base_interpreter(os.readlink(venv / name), home):
                    # venv-pack 0.2.0 rewrites `python3.11 -> /usr/bin/python3.11` by string
                    # replacement of "/usr/bin/python" into /usr/bin/python3.113.11: redo it.
                    info.linkname = interpreter
                # venv-pack 0.2.0 also adds pyvenv.cfg twice (raw, then rewritten): last wins.
                entries[name] = (name, info, data)
    entries = sorted(entries.values(), key=lambda e: e[0])
    members = [_normalized(name, info, data) for name, info, data in entries]
    check_links(members, interpreter=interpreter, build_interpreters=build_interpreters)
    links = {m.name: m.linkname for m in members if m.issym()}
    if links.get(f"bin/python{minor}") != interpreter:
        raise LinkEscapeError(
            f"bin/python{minor} in the environment is not a link to the cluster's {interpreter}"
        )
    needles = sorted({p.encode() for p in build_paths if p}, key=len, reverse=True)
    for name, _, data in entries:
        hit = next((n for n in needles if data is not None and n in data), None)
        if hit is not None:
            raise BuildPathLeak(f"{name} in the environment contains the build path {hit.decode()}")
    _write_tar_gz(output, [(m, data) for m, (_, _, data) in zip(members, entries, strict=True)])


def _normalized(name: str, info: tarfile.TarInfo, data: bytes | None) -> tarfile.TarInfo:
    out = tarfile.TarInfo(name)
    out.mtime, out.uid, out.gid, out.uname, out.gname = 0, 0, 0, "", ""
    if info.isfile():
        out.type, out.size = tarfile.REGTYPE, len(data)
        out.mode = 0o755 if info.mode & 0o111 else 0o644
    elif info.issym() or info.islnk():
        out.type, out.linkname, out.mode = info.type, info.linkname, 0o777
    elif info.isdir():
        out.type, out.mode = tarfile.DIRTYPE, 0o755
    else:
        raise ArtifactError(f"{name}: unexpected file type in the environment")
    return out


def _write_tar_gz(output: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    import io

    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
    ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    os.replace(tmp, output)


def _uv() -> str:
    uv = shutil.which("uv", path=os.path.dirname(sys.executable)) or shutil.which("uv")
    if not uv:
        raise ArtifactError("uv not found: run `make deps`")
    return uv


def make_environment(lock: Path, output: Path, *, cluster_python: str, python_prefix: str,
                     minor: str, extra_build_paths: list[str]) -> None:
    uv = _uv()
    with tempfile.TemporaryDirectory(prefix="pyspark-jobs-env-") as tmp:
        venv = Path(tmp) / "environment"
        _run([cluster_python, "-m", "venv", "--without-pip", str(venv)], "creating the venv")
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        _run([uv, "pip", "install", "--quiet", "-p", str(venv / "bin" / "python"), "--no-deps",
              "-r", str(lock)], "installing requirements/runtime.lock", env=env)
        pack_environment(venv, output, python_prefix=python_prefix, minor=minor,
                         build_paths=[str(venv), tmp, os.path.realpath(tmp), *extra_build_paths])


def _run(cmd: list[str], what: str, env: dict | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise ArtifactError(f"{what} failed: {(proc.stderr or proc.stdout).strip()}")


# ---------------------------------------------------------------- code, inputs, manifest


def code_files(root: Path) -> list[tuple[str, Path]]:
    """(name in jobs.zip, file) for common/ and pyspark_jobs/, sorted."""
    files = []
    for package in CODE_PACKAGES:
        for dirpath, dirnames, filenames in os.walk(root / package):
            dirnames[:] = [d for d in dirnames
                           if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")]
            for name in filenames:
                if name.startswith(".") or name.endswith(SKIP_SUFFIXES):
                    continue
                path = Path(dirpath) / name
                files.append((path.relative_to(root).as_posix(), path))
    return sorted(files)


def write_jobs_zip(files: list[tuple[str, Path]], output: Path) -> None:
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path in files:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    os.replace(tmp, output)


def spark_version(root: Path) -> str | None:
    """The pyspark the jobs target: the `spark` extra in setup.cfg (what the cluster provides)."""
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    extra = cfg.get("options.extras_require", "spark", fallback="")
    match = re.search(r"pyspark\s*==\s*([\w.]+)", extra)
    return match.group(1) if match else None


def _tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def input_hash(root: Path, files: list[tuple[str, Path]], python: dict, python_prefix: str) -> str:
    """Everything the payload is made from; equal input hash -> the build is skipped."""
    import venv_pack

    digest = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    here = Path(__file__).resolve().parent
    part("build.py", (here / "build.py").read_bytes())
    part("artifact.py", (here / "artifact.py").read_bytes())
    part("lock", (root / LOCK).read_bytes())
    for name, path in files:
        part(f"code:{name}", path.read_bytes())
    part("python", f"{python['version']} {python_prefix}".encode())
    part("tools", f"venv-pack {venv_pack.__version__}; {_tool_version([_uv(), '--version'])}".encode())
    return digest.hexdigest()


def runtime_requirements(lock: Path) -> list[str]:
    lines = (ln.split("#")[0].strip() for ln in lock.read_text().splitlines())
    return sorted(ln for ln in lines if ln and not ln.startswith("-"))


# ---------------------------------------------------------------- the build


def build(*, branch: str, root: Path = ROOT, dist: Path | None = None, force: bool = False,
          cluster_python: str | None = None, python_prefix: str | None = None,
          log: Callable[[str], None] = print) -> dict:
    """Build (or keep, if its inputs are unchanged) dist/<slug>/; returns the manifest."""
    slug = artifact.load_slug(root).branch_slug(branch)
    dist = dist or root / "dist"
    out = artifact.artifact_dir(dist, slug, root)
    main_src = root / "pyspark_jobs" / MAIN
    if not main_src.is_file():
        raise ArtifactError("pyspark_jobs/main.py is missing: it is the spark-submit application")
    if not (root / LOCK).is_file():
        raise ArtifactError(f"{LOCK} is missing: `uv pip compile setup.cfg -o {LOCK}`")

    cluster_python = cluster_python or os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON") or DEFAULT_CLUSTER_PYTHON
    python = probe_interpreter(cluster_python)
    build_minor = "{}.{}".format(*sys.version_info[:2])
    if python["minor"] != build_minor:
        raise ArtifactError(
            f"cluster Python {cluster_python} is {python['minor']} but the jobs run on {build_minor}:"
            " driver and executors must share a minor version"
        )
    python_prefix = python_prefix or os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON_PREFIX") or python["prefix"]
    files = code_files(root)
    jar_dir = Path(artifact.setting("JARS") or artifact.var_dir() / "cache" / "jars")
    jars = [(name, jar_dir / name) for name in artifact.JARS]
    for _, jar in jars:
        if not jar.is_file():
            raise ArtifactError(f"{jar} is missing: run 'make fetch' (the artifact ships the MySQL driver and Iceberg)")
    inputs = input_hash(root, [*files, *jars], python, python_prefix)
    git = artifact.git_commit(root)

    previous = artifact.read_manifest(out)
    if not force and previous and previous.get("input_hash") == inputs:
        try:
            manifest = artifact.verify_artifact(out)
        except ArtifactError:
            manifest = None
        if manifest is not None:
            updated = {**manifest, "branch": branch, **git}
            if updated != manifest:
                artifact.write_json(out / MANIFEST, updated)
            log(f"{_rel(out, root)}: unchanged (input hash {inputs[:12]}), not rebuilt")
            return updated

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # no manifest = no (complete) artifact
    make_environment(root / LOCK, out / ENVIRONMENT, cluster_python=cluster_python,
                     python_prefix=python_prefix, minor=python["minor"],
                     extra_build_paths=[str(root), os.path.realpath(root), str(dist)])
    write_jobs_zip(files, out / JOBS)
    shutil.copyfile(main_src, out / MAIN)
    for name, jar in jars:
        shutil.copyfile(jar, out / name)

    payload = {name: {"sha256": artifact.sha256_file(out / name), "size": (out / name).stat().st_size}
               for name in artifact.PAYLOAD}
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "branch": branch,
        "slug": slug,
        **git,
        "content_hash": artifact.content_hash(payload),
        "files": payload,
        "input_hash": inputs,
        "python": {"version": python["version"], "prefix": python_prefix,
                   "executable": posixpath.join(python_prefix, "bin", f"python{python['minor']}")},
        "spark": {"version": spark_version(root)},
        "runtime_requirements": runtime_requirements(root / LOCK),
        "spark_submit": {"archives": f"{ENVIRONMENT}#{artifact.ARCHIVE_ALIAS}", "py_files": JOBS,
                         "jars": ",".join(artifact.JARS),
                         "app": MAIN, "python": f"./{artifact.ARCHIVE_ALIAS}/bin/python"},
    }
    artifact.write_json(out / MANIFEST, manifest)
    sizes = ", ".join(f"{name} {payload[name]['size'] / 1e6:.2f} MB" for name in artifact.PAYLOAD)
    log(f"{_rel(out, root)}: built in {time.monotonic() - started:.1f}s; {sizes}; "
        f"content hash {manifest['content_hash'][:12]}")
    return manifest


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branch", help="git branch (default: the current one, or $CIRCLE_BRANCH)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    parser.add_argument("--cluster-python", help="default $PYSPARK_JOBS_CLUSTER_PYTHON or /usr/bin/python3.11")
    parser.add_argument("--python-prefix", help="the interpreter's prefix on the cluster (default: its local prefix)")
    args = parser.parse_args(argv)
    try:
        branch = args.branch if args.branch is not None else artifact.detect_branch()
        build(branch=branch, dist=args.dist.resolve(), force=args.force,
              cluster_python=args.cluster_python, python_prefix=args.python_prefix)
    except (ArtifactError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
