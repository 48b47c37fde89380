"""packaging/build.py: a reproducible, self-contained, cluster-linked artifact per branch."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.helpers import load_packaging_script

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
CLUSTER_PYTHON = os.environ.get("PYSPARK_JOBS_CLUSTER_PYTHON", "/usr/bin/python3.11")

pytestmark = pytest.mark.skipif(
    not Path(CLUSTER_PYTHON).exists() and shutil.which(CLUSTER_PYTHON) is None,
    reason=f"cluster interpreter {CLUSTER_PYTHON} not installed",
)


_load = load_packaging_script


build = _load("build")
artifact = sys.modules["artifact"]


def make_project(root: Path) -> Path:
    """A minimal checkout: the real runtime lock and setup.cfg, tiny code."""
    (root / "requirements").mkdir(parents=True)
    shutil.copy(ROOT / "requirements" / "runtime.lock", root / "requirements" / "runtime.lock")
    shutil.copy(ROOT / "setup.cfg", root / "setup.cfg")
    files = {
        "common/__init__.py": "",
        "common/py.typed": "",
        "common/base.py": "X = 1\n",
        "common/tests/test_base.py": "def test(): pass\n",
        "common/__pycache__/base.cpython-311.pyc": "junk",
        "pyspark_jobs/__init__.py": "",
        "pyspark_jobs/main.py": "print('main')\n",
        "pyspark_jobs/demo/__init__.py": "",
        "pyspark_jobs/demo/nation.sql": "SELECT 1\n",
        "pyspark_jobs/.hidden.swp": "junk",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The same project built twice, from two different checkout locations."""
    results = []
    for checkout in ("first", "second-checkout-elsewhere"):
        root = make_project(tmp_path_factory.mktemp(checkout) / "pyspark-jobs")
        manifest = build.build(branch="feature/X", root=root, cluster_python=CLUSTER_PYTHON)
        results.append((root, root / "dist" / manifest["slug"], manifest))
    return results


def test_two_builds_are_byte_identical(two_builds):
    (_, dir_a, man_a), (_, dir_b, man_b) = two_builds
    assert man_a["content_hash"] == man_b["content_hash"]
    assert man_a["input_hash"] == man_b["input_hash"]
    files_a, files_b = files_of(dir_a), files_of(dir_b)
    for name in artifact.PAYLOAD:
        assert files_a[name] == files_b[name], name
    assert files_a["manifest.json"] == files_b["manifest.json"]


def test_manifest_names_branch_targets_and_no_build_path(two_builds):
    root, directory, manifest = two_builds[0]
    assert manifest["branch"] == "feature/X"
    assert manifest["slug"] == "feature_x__13578b02c3" == directory.name
    assert manifest["python"]["executable"] == "/usr/bin/python3.11"
    assert manifest["python"]["version"].startswith("3.11.")
    assert manifest["spark"]["version"] == "3.5.7"
    assert manifest["runtime_requirements"] == [
        "anyio==4.16.0", "attrs==26.1.0", "boto3==1.44.8", "botocore==1.44.8", "certifi==2026.10.19.post1",
        "charset-normalizer==3.5.3", "h11==0.16.0", "httpcore2==2.16.2", "httpx2==2.16.2", "idna==3.20",
        "jinja2==3.1.6", "jmespath==1.1.0", "markupsafe==3.0.4", "openlineage-python==1.54.0", "packaging==26.4",
        "pycountry==24.6.1", "python-dateutil==2.9.0.post0", "pyyaml==6.0.4", "requests==2.34.2",
        "s3transfer==0.19.3", "six==1.17.0", "truststore==0.10.5", "typing-extensions==4.16.0", "urllib3==2.8.0",
    ]
    assert set(manifest["files"]) == set(artifact.PAYLOAD)
    assert artifact.content_hash(manifest["files"]) == manifest["content_hash"]
    text = (directory / "manifest.json").read_text()
    assert str(root) not in text and "/tmp" not in text


def test_environment_archive_is_normalized(two_builds):
    root, directory, _ = two_builds[0]
    data = (directory / "environment.tar.gz").read_bytes()
    assert data[4:8] == b"\0\0\0\0", "gzip header carries an mtime"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)
        assert all(m.uname == "" and m.gname == "" for m in members)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert not [n for n in names if n.endswith("direct_url.json")]
        assert len(names) == len(set(names)), "duplicate entries"
        site = "lib/python3.11/site-packages/"
        assert f"{site}pycountry/__init__.py" in names
        assert f"{site}jinja2/sandbox.py" in names  # a SqlJob renders its SQL on the cluster
        assert f"{site}openlineage/client/client.py" in names  # the driver emits the run's lineage
        assert not [n for n in names if n.startswith((f"{site}pyspark", f"{site}py4j", f"{site}pip"))]
        links = {m.name: m.linkname for m in members if m.issym()}
        assert links["bin/python3.11"] == "/usr/bin/python3.11"
        assert links["bin/python"] == "python3.11"
        cfg = tar.extractfile("pyvenv.cfg").read().decode()
        assert "home = /usr/bin" in cfg and "command" not in cfg
        raw = b"".join(tar.extractfile(m).read() for m in members if m.isfile())
    # The checkout, the build's temporary venvs and the build machine's Python (botocore's
    # docstrings mention /tmp/ as an example path, so the temporary folders are named).
    for path in (str(root), "pyspark-jobs-env-", "pyspark-jobs-pack-", str(Path(sys.executable).parent)):
        assert path.encode() not in raw, path


def test_environment_is_small(two_builds):
    # boto3 is most of it (botocore's service models): the driver reads Secrets Manager with it.
    manifest = two_builds[0][2]
    assert manifest["files"]["environment.tar.gz"]["size"] < 30_000_000


def test_jobs_zip_has_the_code_and_nothing_else(two_builds):
    _, directory, _ = two_builds[0]
    with zipfile.ZipFile(directory / "jobs.zip") as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == [
        "common/__init__.py",
        "common/base.py",
        "common/py.typed",
        "pyspark_jobs/__init__.py",
        "pyspark_jobs/demo/__init__.py",
        "pyspark_jobs/demo/nation.sql",
        "pyspark_jobs/main.py",
    ]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert (directory / "main.py").read_text() == "print('main')\n"


def test_unchanged_inputs_are_not_rebuilt_and_changes_are(two_builds):
    root, directory, manifest = two_builds[0]
    before = (directory / "environment.tar.gz").stat().st_mtime_ns
    logs = []
    again = build.build(branch="feature/X", root=root, cluster_python=CLUSTER_PYTHON, log=logs.append)
    assert "unchanged" in logs[0]
    assert again["content_hash"] == manifest["content_hash"]
    assert (directory / "environment.tar.gz").stat().st_mtime_ns == before

    (root / "common" / "base.py").write_text("X = 2\n")
    changed = build.build(branch="feature/X", root=root, cluster_python=CLUSTER_PYTHON, log=logs.append)
    assert "built in" in logs[-1]
    assert changed["content_hash"] != manifest["content_hash"]
    assert changed["files"]["environment.tar.gz"] == manifest["files"]["environment.tar.gz"]


def test_a_missing_entry_point_is_a_clear_error(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "pyspark_jobs" / "main.py").unlink()
    with pytest.raises(artifact.ArtifactError, match="pyspark_jobs/main.py is missing"):
        build.build(branch="main", root=root, cluster_python=CLUSTER_PYTHON)


def test_an_empty_branch_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="branch name is empty"):
        build.build(branch="", root=make_project(tmp_path / "p"), cluster_python=CLUSTER_PYTHON)


# ---------------------------------------------------------------- links and build paths


@pytest.fixture
def bare_venv(tmp_path):
    """A venv made with the cluster interpreter, nothing installed (fast)."""
    venv = tmp_path / "env"
    subprocess.run([CLUSTER_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def pack(venv: Path, tmp_path: Path, prefix: str = "/usr") -> Path:
    out = tmp_path / "environment.tar.gz"
    build.pack_environment(venv, out, python_prefix=prefix, minor="3.11",
                           build_paths=[str(venv), str(tmp_path)])
    return out


def site_packages(venv: Path) -> Path:
    return venv / "lib" / "python3.11" / "site-packages"


def test_python_prefix_is_where_the_interpreter_link_points(bare_venv, tmp_path):
    out = pack(bare_venv, tmp_path, prefix="/opt/python3.11")
    with tarfile.open(out) as tar:
        assert tar.getmember("bin/python3.11").linkname == "/opt/python3.11/bin/python3.11"
        assert "home = /opt/python3.11/bin" in tar.extractfile("pyvenv.cfg").read().decode()


def test_a_link_outside_the_archive_fails_the_build(bare_venv, tmp_path):
    (site_packages(bare_venv) / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(build.LinkEscapeError, match="passwd -> /etc/passwd points outside the archive"):
        pack(bare_venv, tmp_path)


def test_a_relative_link_climbing_out_fails_the_build(bare_venv, tmp_path):
    (site_packages(bare_venv) / "up").symlink_to("../../../../etc")
    with pytest.raises(build.LinkEscapeError, match="up -> ../../../../etc points outside the archive"):
        pack(bare_venv, tmp_path)


def test_a_link_at_the_build_interpreter_fails_the_build(bare_venv, tmp_path):
    (bare_venv / "bin" / "python-dev").symlink_to(os.path.realpath(sys.executable))
    with pytest.raises(build.LinkEscapeError, match="points at the build interpreter"):
        pack(bare_venv, tmp_path)


def test_links_inside_the_archive_are_fine(bare_venv, tmp_path):
    (site_packages(bare_venv) / "alias").symlink_to("../site-packages")
    with tarfile.open(pack(bare_venv, tmp_path)) as tar:
        assert tar.getmember("lib/python3.11/site-packages/alias").linkname == "../site-packages"


def test_a_file_naming_the_build_path_fails_the_build(bare_venv, tmp_path):
    (site_packages(bare_venv) / "leak.pth").write_text(f"{bare_venv}/somewhere\n")
    with pytest.raises(build.BuildPathLeak, match="leak.pth in the environment contains the build path"):
        pack(bare_venv, tmp_path)


def test_caches_and_local_install_records_are_dropped(bare_venv, tmp_path):
    sp = site_packages(bare_venv)
    (sp / "mod").mkdir()
    (sp / "mod" / "__init__.py").write_text("")
    (sp / "mod" / "__pycache__").mkdir()
    (sp / "mod" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    info = sp / "mod-1.0.dist-info"
    info.mkdir()
    (info / "direct_url.json").write_text('{"url": "file:///home/someone/mod"}')
    (info / "RECORD").write_text("/home/someone/mod/__init__.py,,\n")
    with tarfile.open(pack(bare_venv, tmp_path)) as tar:
        names = tar.getnames()
    assert "lib/python3.11/site-packages/mod/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or "dist-info/" in n]


def test_the_artifact_ships_the_mysql_driver_and_iceberg_the_framework_configures(two_builds):
    from common.settings import SHIPPED_JARS
    from common.submit import ARTIFACT_FILES

    _, directory, manifest = two_builds[0]
    assert artifact.JARS == SHIPPED_JARS == ("mysql-connector-j-8.4.0.jar", "iceberg-spark-runtime-3.5_2.12-1.10.0.jar")
    assert set(ARTIFACT_FILES) == set(artifact.PAYLOAD)
    with zipfile.ZipFile(directory / artifact.JDBC_JAR) as jar:  # the real driver, not a placeholder
        assert "com/mysql/cj/jdbc/Driver.class" in jar.namelist()
    with zipfile.ZipFile(directory / artifact.ICEBERG_JAR) as jar:
        assert "org/apache/iceberg/spark/SparkSessionCatalog.class" in jar.namelist()
    assert manifest["spark_submit"]["jars"] == "mysql-connector-j-8.4.0.jar,iceberg-spark-runtime-3.5_2.12-1.10.0.jar"
