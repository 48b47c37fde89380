"""The local stand-in for EMR's command-runner.jar: run a step's arguments verbatim on a
"node" of the local cluster.

    .venv/bin/python dev/command_runner.py spark-submit --deploy-mode cluster ...

`run(args, timeout=None)` returns the finished process, its stdout and stderr captured as text.
args[0] `spark-submit` is the virtualenv's pyspark (the cluster's Spark); the rest are passed
as given. The environment is a node's, not the caller's: the cluster's configuration
(var/cluster/conf as SPARK_CONF_DIR and HADOOP_CONF_DIR, written by `dev/services.sh up`),
Java, the s3a jars for the submitting JVM, and the instance profile's stand-in (moto's
endpoint and keys) — no PYSPARK_JOBS_* variable and no password of the caller's.
Standard library only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster  # noqa: E402 - dev/ is not a package

__all__ = ["run", "CommandRunnerError"]


class CommandRunnerError(Exception):
    """The node is not set up: one line naming the fix."""


def resolve(program: str) -> str:
    """A program of the node: spark-submit (and spark-sql, pyspark) are pyspark's."""
    spark_bin = cluster.pyspark_home() / "bin" / program
    return str(spark_bin) if "/" not in program and spark_bin.is_file() else program


def run(args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
    if not args:
        raise CommandRunnerError("command-runner: no command given")
    if not (cluster.CONF_DIR / "yarn-site.xml").is_file():
        raise CommandRunnerError(f"command-runner: no {cluster.CONF_DIR}/yarn-site.xml; run 'dev/services.sh up'")
    return subprocess.run(
        [resolve(args[0]), *args[1:]], env=cluster.node_env(), cwd=cluster.HOME, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def main(argv: list[str]) -> int:
    try:
        done = run(argv)
    except CommandRunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
