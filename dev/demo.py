"""The demonstration, end to end: package this branch, run its Airflow DAG, show the outputs.

    python dev/demo.py --ds 1995-03-15 [--branch NAME]

1. `packaging/build.py` builds dist/<slug>/ for the branch (skipped when unchanged);
2. `airflow dags test demo_daily_revenue DS` runs with the local launcher: spark-submit of that
   packaged artifact on local-cluster (AIRFLOW_HOME is var/airflow, SQLite, migrated once);
3. the three output tables are read back for that ds and printed.

It prints a short story, a line per phase, and the outputs; everything the packaging, Airflow
and Spark print goes to var/logs/demo-<time>.log, whose last lines are shown if a phase fails.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAG_ID = "demo_daily_revenue"
OUTPUTS = {
    "demo.revenue_by_segment": ["n_name", "c_mktsegment"],
    "demo.top_customers": ["rank"],
    "demo.revenue_by_shipmode": ["l_shipmode", "o_orderpriority"],
}


def airflow_env(branch: str, var: Path) -> dict[str, str]:
    """The environment of a laptop Airflow running the local deployment of `branch`."""
    home = var / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_JOBS_HOME": str(ROOT),
        "PYSPARK_JOBS_VAR": str(var),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "PYSPARK_JOBS_DEPLOYMENT": "local",
        "PYSPARK_JOBS_BRANCH": branch,
        "PYSPARK_JOBS_LAUNCHER": "local",
    }


def migrate_once(env: dict[str, str]) -> None:
    marker = Path(env["AIRFLOW_HOME"]) / ".migrated"
    if not marker.exists():
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        marker.touch()


def dags_test(dag_id: str, ds: str, env: dict[str, str], out: TextIO = sys.stdout) -> tuple[bool, str]:
    """`airflow dags test`, its output passed on to `out`; True if the run ended in success."""
    proc = subprocess.Popen([str(BIN / "airflow"), "dags", "test", dag_id, ds], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        out.write(line)
        lines.append(line)
    code = proc.wait()
    output = "".join(lines)
    run_states = re.findall(r"DagRun Finished: .*?state=(\w+)", output)
    task_states = re.findall(r"new_state=(\w+)", output)
    # A run with no task run (e.g. ds before the DAG's start_date) also "succeeds": require
    # every task that ran to have succeeded, and at least one to have run.
    ok = run_states[-1:] == ["success"] and bool(task_states) and set(task_states) == {"success"}
    return code == 0 and ok, output


def detect_branch() -> str:
    for var in ("PYSPARK_JOBS_BRANCH", "CIRCLE_BRANCH"):
        if os.environ.get(var):
            return os.environ[var]
    found = subprocess.run(["git", "symbolic-ref", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return found.stdout.strip() or "main"


SHOWN = 5  # rows of each output printed; the count says how many there are


def show_outputs(ds: str) -> None:
    sys.path.insert(0, str(ROOT))
    from pyspark.sql import functions as F

    from common.session import get_spark

    spark = get_spark("pyspark-jobs demo", master="local[1]")
    spark.sparkContext.setLogLevel("ERROR")
    for table, order in OUTPUTS.items():
        frame = spark.table(table).where(F.col("ds") == ds).orderBy(*order)
        rows = frame.count()
        more = f", the first {SHOWN} shown" if rows > SHOWN else ""
        print(f"\n{table}  (ds={ds}: {rows} rows{more})", flush=True)
        frame.show(n=SHOWN, truncate=False)
    spark.stop()


@contextmanager
def stderr_to(log: TextIO) -> Iterator[None]:
    """File descriptor 2 into `log` meanwhile: the JVM a Spark session starts writes its logs there."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def tail(path: Path, lines: int = 25) -> str:
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])


PHASES = 5


class Story:
    """The lines a person reads: one per phase, with its time; the rest goes to the log."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("a")
        self.started = time.monotonic()

    def phase(self, number: int, what: str) -> float:
        print(f"[{number}/{PHASES}] {what}", flush=True)
        self.log.write(f"\n==== [{number}/{PHASES}] {what}\n")
        self.log.flush()
        return time.monotonic()

    def done(self, since: float, what: str) -> None:
        print(f"      {what} ({time.monotonic() - since:.0f}s)", flush=True)

    def failed(self, what: str) -> int:
        self.log.flush()
        print(f"\nerror: {what}; the last lines of {self.log_path}:\n{tail(self.log_path)}", file=sys.stderr)
        return 1

    def run(self, args: list[str], env: dict[str, str]) -> bool:
        self.log.flush()
        return subprocess.run(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                              check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ds", required=True, help="run date, YYYY-MM-DD")
    parser.add_argument("--branch", help="branch to package and run (default: the current git branch)")
    parser.add_argument("--sf", default="0.01", help="TPC-H scale factor `make data` loads first (default 0.01)")
    args = parser.parse_args(argv)
    branch = args.branch or detect_branch()
    var = Path(os.environ.get("PYSPARK_JOBS_VAR") or ROOT / "var")
    env = airflow_env(branch, var)
    (var / "logs").mkdir(parents=True, exist_ok=True)
    story = Story(var / "logs" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log")

    print(f"The demonstration job demo.daily_revenue for ds={args.ds}, run the way production runs it:\n"
          "three daily reports (two Iceberg tables, one Hive-style parquet table) from one cached join\n"
          "of lake facts (orders, lineitem) with MySQL dimensions (customer, nation).\n"
          f"Full logs: {story.log_path}\n")
    t = story.phase(1, f"set up: jars and Trino fetched, services started on loopback, TPC-H SF{args.sf} loaded")
    if not story.run(["make", "--no-print-directory", "data", f"SF={args.sf}"], {**os.environ}):
        return story.failed("the set-up (`make data`) failed")
    story.done(t, "set up")
    t = story.phase(2, f"package branch {branch}: a venv-pack environment and the zipped code, under dist/")
    if not story.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--branch", branch], env):
        return story.failed("packaging failed")
    story.done(t, "packaged")
    t = story.phase(3, f"Airflow: `airflow dags test {DAG_ID} {args.ds}` (metadata database migrated once)")
    try:
        migrate_once(env)
    except subprocess.CalledProcessError:
        return story.failed("`airflow db migrate` failed")
    story.done(t, "Airflow ready")
    t = story.phase(4, "the DAG's task spark-submits the packaged job to a local cluster; the job reads, "
                       "caches the join, writes and publishes the three reports")
    ok, output = dags_test(DAG_ID, args.ds, env, out=story.log)
    if not ok:
        return story.failed(f"the {DAG_ID} run for {args.ds} did not succeed")
    story.done(t, f"DAG run succeeded: {task_states(output)}")
    story.phase(5, "the three outputs, read back from the lake")
    with stderr_to(story.log):
        show_outputs(args.ds)
    print(f"\nDone in {time.monotonic() - story.started:.0f}s. Full logs: {story.log_path}")
    return 0


def task_states(output: str) -> str:
    """How many of the run's tasks ended in which state, from `airflow dags test`'s log lines."""
    states = re.findall(r"new_state=(\w+)", output)
    return ", ".join(f"{states.count(s)} task(s) {s}" for s in sorted(set(states)))


if __name__ == "__main__":
    sys.exit(main())
