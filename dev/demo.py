"""The demonstration, end to end: package this branch, run its Airflow DAG, show the outputs.

    python dev/demo.py --ds 1995-03-15 [--branch NAME]

1. `packaging/build.py` builds dist/<slug>/ for the branch (skipped when unchanged);
2. `airflow dags test demo_daily_revenue DS` runs with the local launcher: spark-submit of that
   packaged artifact on local-cluster (AIRFLOW_HOME is var/airflow, SQLite, migrated once);
3. the three output tables are read back for that ds and printed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

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


def dags_test(dag_id: str, ds: str, env: dict[str, str]) -> tuple[bool, str]:
    """`airflow dags test`, its output passed through; True if the run ended in success."""
    proc = subprocess.Popen([str(BIN / "airflow"), "dags", "test", dag_id, ds], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
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


def show_outputs(ds: str) -> None:
    sys.path.insert(0, str(ROOT))
    from pyspark.sql import functions as F

    from common.session import get_spark

    spark = get_spark("pyspark-jobs demo", master="local[1]")
    for table, order in OUTPUTS.items():
        frame = spark.table(table).where(F.col("ds") == ds).orderBy(*order)
        print(f"\n== {table}  (ds={ds}, {frame.count()} rows)")
        frame.show(n=50, truncate=False)
    spark.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ds", required=True, help="run date, YYYY-MM-DD")
    parser.add_argument("--branch", help="branch to package and run (default: the current git branch)")
    args = parser.parse_args(argv)
    branch = args.branch or detect_branch()
    var = Path(os.environ.get("PYSPARK_JOBS_VAR") or ROOT / "var")
    env = airflow_env(branch, var)

    started = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--branch", branch], cwd=ROOT,
                   env=env, check=True)
    packaged = time.monotonic()
    migrate_once(env)
    migrated = time.monotonic()
    ok, _ = dags_test(DAG_ID, args.ds, env)
    tested = time.monotonic()
    print(f"\npackage {packaged - started:.0f}s, airflow db {migrated - packaged:.0f}s, "
          f"dags test {tested - migrated:.0f}s")
    if not ok:
        print(f"error: the {DAG_ID} run for {args.ds} did not succeed; see the task log above", file=sys.stderr)
        return 1
    show_outputs(args.ds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
