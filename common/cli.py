"""`pyspark-jobs`: list, describe, run and check jobs, diff a branch's data, clean up qa
deployments, administer tables (history, rollback, vacuum, migrate-table);
`pyspark_jobs/main.py` runs the same CLI under spark-submit."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from common.errors import ParamError, PysparkJobsError
from common.job import MAX_RANGE_DAYS, ds_range

__all__ = ["main", "build_parser"]

log = logging.getLogger("pyspark_jobs.cli")


def _param(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param takes key=value, got {raw!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyspark-jobs",
        description="PySpark batch jobs with contracts, a static check and per-environment I/O.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="jobs with their inputs and outputs")
    describe = sub.add_parser("describe", help="one job's inputs, outputs, params and steps")
    describe.add_argument("job")

    run = sub.add_parser("run", help="run a job for one ds, or for a range of them in one Spark application")
    run.add_argument("job")
    run.add_argument("--ds", help="run date, YYYY-MM-DD")
    run.add_argument("--ds-from", metavar="YYYY-MM-DD", help="a backfill: the first run date (with --ds-to)")
    run.add_argument("--ds-to", metavar="YYYY-MM-DD", help="a backfill: the last run date, included")
    run.add_argument("--force", action="store_true", help=f"a backfill of more than {MAX_RANGE_DAYS} days")
    run.add_argument("--env", default="local", choices=("local", "qa", "prod"))
    run.add_argument("--branch", help="git branch; required with --env qa")
    run.add_argument("--param", action="append", type=_param, default=[], metavar="KEY=VALUE")
    run.add_argument("--source", default="lake", choices=("lake", "trino"), help="where warehouse inputs come from")
    run.add_argument("--sample", type=int, metavar="ROWS", help="with --source trino: a key-consistent sample")
    run.add_argument("--sample-pct", type=float, metavar="P", help="with --source trino: sample P percent")
    run.add_argument("--refresh", action="store_true", help="with --source trino: ignore the local cache")
    run.add_argument("--no-input-counts", action="store_true",
                     help="leave out the rows each input read (from the scans' SQL metrics, no extra read)")

    check = sub.add_parser("check", help="static check: columns and types of every job, no data read")
    check.add_argument("jobs", nargs="*", metavar="JOB")
    check.add_argument(
        "--against", nargs="?", const="", metavar="REF",
        help="compare every output contract with REF's (default: the merge base with main) instead",
    )
    check.add_argument(
        "--changed", action="store_true",
        help="check only the jobs whose files differ from REF (--against), and the jobs downstream of them",
    )
    check.add_argument("--list", action="store_true", help="with --changed: print those jobs' names, check nothing")

    parity = sub.add_parser(
        "parity", help="diff a SqlJob's output with the DataFrame job that replaces it, or (--legacy) each migrated "
                       "job's with its legacy SparkSqlOperator task run by spark-sql")
    parity.add_argument("jobs", nargs="*", metavar="JOB",
                        help="LEFT RIGHT: the SqlJob and the DataFrame job; with --legacy: only these jobs")
    parity.add_argument("--legacy", metavar="DAG_FILE",
                        help="the legacy Airflow DAG file `migrate` read: run its tasks' SQL by spark-sql for each --ds")
    parity.add_argument("--ds", required=True, action="append", help="the run date (repeat for several)")
    parity.add_argument("--env", default="local", choices=("local", "qa", "prod"))
    parity.add_argument("--branch")
    parity.add_argument("--tolerance", type=float, default=0.01)

    diff = sub.add_parser("diff", help="what a branch changes in the data: every output against production's")
    diff.add_argument("jobs", nargs="*", metavar="JOB", help="the job(s) to diff (or --all)")
    diff.add_argument("--all", action="store_true", help="every job the branch wrote for --ds; the others are listed")
    diff.add_argument(
        "--changed", nargs="?", const="", metavar="REF",
        help="with --all: only the jobs the branch changed relative to REF (default: the merge base with main)",
    )
    diff.add_argument("--ds", required=True, help="the partition to compare, YYYY-MM-DD")
    diff.add_argument("--branch", required=True, help="the branch whose qa outputs are compared")
    diff.add_argument("--against", default="prod", metavar="prod|BRANCH", help="the baseline (default: prod)")
    diff.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    diff.add_argument("--examples", type=int, default=5, metavar="N", help="example keys per difference")
    diff.add_argument("--relative-tolerance", type=float, default=1e-9, metavar="R", help="for float and double")
    diff.add_argument("--out-dir", metavar="DIR", help="also write <job>.md, <job>.json, summary.md, summary.json there")

    migrate = sub.add_parser("migrate", help="a legacy DAG's SparkSqlOperator tasks as SqlJobs, and a DAG running them")
    migrate.add_argument("dag_file", metavar="DAG_FILE", help="the Airflow DAG file (read, never run)")
    migrate.add_argument("--into", required=True, metavar="pyspark_jobs/DOMAIN", help="the domain package to write")
    migrate.add_argument("--dags", default="dags", metavar="DIR", help="where the new DAG file goes (default: dags)")

    new = sub.add_parser("new", help="a new job that runs as generated: job module, transform, test")
    new.add_argument("job", metavar="DOMAIN.NAME")
    new.add_argument("--inputs", metavar="DB.TABLE,...",
                     help="the tables it reads; the first starts as its output (declared ones are imported); "
                          "with --from-sql: the tables the query names bare (default: those it names db.table)")
    new.add_argument("--from-sql", metavar="FILE",
                     help="a legacy query: the job gets its output contract and a SqlJob twin running it")
    contracts = sub.add_parser("contracts", help="contracts from live schemas: import them, diff declared ones")
    contracts_sub = contracts.add_subparsers(dest="contracts_command", required=True, metavar="CONTRACTS_COMMAND")
    imports = contracts_sub.add_parser("import", help="print Table(...) code for tables as the metastore or MySQL describes them")
    imports.add_argument("tables", nargs="+", metavar="DB.TABLE")
    imports.add_argument("--store", metavar="warehouse|mysql|mysql:SOURCE",
                         help="where the tables live (default: the metastore, then the default MySQL source)")
    imports.add_argument("--out", metavar="FILE", help="write a module there instead of printing (refuses an existing file)")
    cdiff = contracts_sub.add_parser("diff", help="where declared contracts and the live schemas differ")
    cdiff.add_argument("tables", nargs="*", metavar="DB.TABLE", help="default: every source table a job reads")
    cdiff.add_argument("--env", default="local", choices=("local", "qa", "prod"))
    cdiff.add_argument("--branch", help="git branch; with --env qa, its copies of the tables jobs write")

    qa = sub.add_parser("qa", help="qa deployments of branches")
    qa_sub = qa.add_subparsers(dest="qa_command", required=True, metavar="QA_COMMAND")
    cleanup = qa_sub.add_parser("cleanup", help="drop the qa databases, data and artifacts of stale branches")
    cleanup.add_argument("--older-than", default="14d", metavar="AGE", help="idle limit: 14d, 36h (default 14d)")
    cleanup.add_argument("--branch", action="append", metavar="NAME", help="only this branch (repeatable)")
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")

    def table_command(name: str, help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help)
        command.add_argument("--env", default="local", choices=("local", "qa", "prod"))
        command.add_argument("--branch", help="git branch; required with --env qa (its own copy of the table)")
        return command

    history = table_command("history", "a table's versions: version, run id, written at, rows, current")
    history.add_argument("table", metavar="TABLE", help="the logical name jobs declare, e.g. tpch_reports.q01")
    history.add_argument("--ds", help="one run date, YYYY-MM-DD (default: every date)")
    history.add_argument("--json", action="store_true", help="JSON instead of a table")
    rollback = table_command("rollback", "point a partition (or an unpartitioned table) back at an earlier version")
    rollback.add_argument("table", metavar="TABLE")
    rollback.add_argument("--ds", help="the run date; omitted for an unpartitioned table")
    rollback.add_argument("--to", required=True, metavar="VERSION", help="a version `history` lists")
    vacuum = table_command("vacuum", "remove the versions past each table's retention")
    vacuum.add_argument("tables", nargs="*", metavar="TABLE", help="default: every warehouse table a job writes")
    vacuum.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    migrate = table_command("migrate-table", "compare a table with its contract; apply the change when asked")
    migrate.add_argument("table", metavar="TABLE")
    migrate.add_argument("--apply", action="store_true", help="apply the change (default: print the plan)")
    migrate.add_argument("--allow-breaking", action="store_true", help="with --apply: apply breaking changes too")
    return parser


def _cmd_list() -> int:
    from common.registry import broken_modules, discover

    for name, job in discover().items():
        meta = job.describe()
        print(f"{name}\n  in:  {', '.join(meta['inputs'].values())}\n  out: {', '.join(meta['outputs'].values())}")
    for module, error in broken_modules().items():
        print(f"error: module {module} failed to import, its jobs are missing: {error}", file=sys.stderr)
    return 1 if broken_modules() else 0


def _cmd_describe(name: str) -> int:
    from common.registry import get_job

    print(json.dumps(get_job(name).describe(), indent=2))
    return 0


def _run_days(args: argparse.Namespace) -> list[str] | None:
    """The backfill's run dates, or None for a run of one --ds."""
    ranged = args.ds_from is not None or args.ds_to is not None
    if ranged == (args.ds is not None):
        raise ParamError("give --ds YYYY-MM-DD, or --ds-from and --ds-to for a range (not both)")
    if not ranged:
        if args.force:
            raise ParamError("--force allows a range over many days: give it with --ds-from and --ds-to")
        return None
    if args.ds_from is None or args.ds_to is None:
        raise ParamError("a range takes both --ds-from and --ds-to (the same day for one)")
    return ds_range(args.ds_from, args.ds_to, force=args.force)


def _cmd_run(args: argparse.Namespace) -> int:
    from common.runner import RunConfig, render_range, run_job, run_range

    days = _run_days(args)
    options = {}
    if args.source != "trino" and (args.sample or args.sample_pct or args.refresh):
        raise ParamError("--sample, --sample-pct and --refresh apply to --source trino only")
    if args.sample is not None:
        options["sample_rows"] = args.sample
    if args.sample_pct is not None:
        options["sample_pct"] = args.sample_pct
    if args.refresh:
        options["refresh"] = True
    params = dict(args.param)
    config = RunConfig(
        job=args.job,
        ds=args.ds or days[0],
        env=args.env,
        branch=args.branch,
        params=params,
        source=args.source,
        source_options=options,
        count_inputs=not args.no_input_counts,
    )
    summary = run_job(config) if days is None else run_range(config, days)
    print(summary.render() if days is None else render_range(summary))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    if args.against is None and not args.changed:
        from common.check import check_jobs

        return 0 if check_jobs(args.jobs or None) else 1
    from pathlib import Path

    from common.job_snapshot import repo_root

    if args.jobs:
        raise ParamError("check --against and --changed look at every job: give no JOB")
    root = repo_root(Path.cwd())
    if args.list and not args.changed:
        raise ParamError("check --list lists the jobs --changed selects: give --changed too")
    if args.changed:
        from common.changed import changed_since

        names = changed_since(args.against, root)
        if args.list:
            print("\n".join(names) if names else "", end="\n" if names else "")
            return 0
        if not names:
            print("no job changed: nothing to check")
            return 0
        from common.check import check_jobs

        print(f"checking {len(names)} changed job(s): {', '.join(names)}", file=sys.stderr)
        return 0 if check_jobs(names) else 1
    from common.against import check_against

    return 0 if check_against(root, args.against, out=sys.stdout) else 1


def _cmd_parity(args: argparse.Namespace) -> int:
    from common.job import parse_ds
    from common.parity import parity_report, render_parity

    for ds in args.ds:
        parse_ds(ds)
    if args.legacy:
        from pathlib import Path

        from common.environments import Environment
        from common.legacy_parity import legacy_parity

        results = legacy_parity(Path(args.legacy), args.ds, env=Environment(args.env, args.branch), jobs=args.jobs,
                                tolerance=args.tolerance)
        print("\n\n".join(render_parity(report, ds) for ds, _, report in results))
        return 0 if all(report.equal for _, _, report in results) else 1
    if len(args.jobs) != 2:
        raise ParamError("parity takes LEFT RIGHT (the SqlJob and the DataFrame job), or --legacy DAG_FILE")
    reports = [parity_report(*args.jobs, ds=ds, env=args.env, branch=args.branch, tolerance=args.tolerance)
               for ds in args.ds]
    print("\n\n".join(render_parity(report, ds if len(args.ds) > 1 else None) for ds, report in zip(args.ds, reports)))
    return 0 if all(report.equal for report in reports) else 1


def _cmd_diff(args: argparse.Namespace) -> int:
    from pathlib import Path

    from common.diff import Tolerance
    from common.diff_jobs import diff_branch
    from common.diff_render import RENDERERS, SUMMARY_RENDERERS, render_json, render_markdown

    if bool(args.jobs) == args.all:
        raise ParamError("diff takes JOB [JOB ...] or --all, not both and not neither")
    if args.changed is not None and not args.all:
        raise ParamError("diff --changed narrows --all: give --all, not job names")
    changed = None
    if args.changed is not None:
        from common.changed import changed_since

        changed = changed_since(args.changed or None, Path.cwd())
    result = diff_branch(
        None if args.all else args.jobs, ds=args.ds, branch=args.branch, against=args.against,
        examples=args.examples, tolerance=Tolerance(relative=args.relative_tolerance), changed=changed,
    )
    for job, message in result.errors.items():
        print(f"error: {message}" if len(args.jobs) == 1 else f"error: {job}: {message}", file=sys.stderr)
    if len(args.jobs) == 1:
        for one in result.diffs:
            print(RENDERERS[args.format](one.reports, title=one.title))
    else:
        print(SUMMARY_RENDERERS[args.format](result))
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for one in result.diffs:
            (out / f"{one.job}.md").write_text(render_markdown(one.reports, title=one.title))
            (out / f"{one.job}.json").write_text(render_json(one.reports, title=one.title) + "\n")
        (out / "summary.md").write_text(SUMMARY_RENDERERS["markdown"](result))
        (out / "summary.json").write_text(SUMMARY_RENDERERS["json"](result) + "\n")
    return result.status


def _cmd_migrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from common.migrate_write import migrate
    from common.session import get_spark
    from common.settings import load_settings

    try:
        mysql = load_settings().mysql
    except PysparkJobsError as exc:  # contracts of MySQL tables become placeholders
        log.warning("MySQL settings unavailable, its tables get contracts to fill in: %s", exc)
        mysql = None
    spark = get_spark("pyspark-jobs migrate")
    spark.sparkContext.setLogLevel("ERROR")
    result = migrate(spark, Path(args.dag_file), Path(args.into), Path(args.dags), mysql)
    print(result.render())
    return 1 if result.differences else 0


def _cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pyspark_jobs
    from common.scaffold import plan_scaffold, write_scaffold

    inputs = [name.strip() for name in (args.inputs or "").split(",") if name.strip()]
    if args.inputs is not None and not inputs:
        raise ParamError("give --inputs db.table[,db.table...]: the tables the job reads")

    def connect():  # Spark, for live schemas and the query: started only once the cheap checks pass
        from common.session import get_spark
        from common.settings import load_settings

        settings = load_settings()
        spark = get_spark("pyspark-jobs new")
        spark.sparkContext.setLogLevel("ERROR")
        return spark, settings

    root = Path(pyspark_jobs.__file__).resolve().parents[1]  # where the jobs being discovered live
    scaffold = plan_scaffold(connect, args.job, inputs, root, args.from_sql and Path(args.from_sql))
    write_scaffold(scaffold, root)
    print("\n".join(scaffold.lines()))
    print(f"next: pytest tests/pyspark_jobs/{args.job.split('.')[0]}; pyspark-jobs check {args.job}; "
          f"pyspark-jobs run {args.job} --ds YYYY-MM-DD")
    if args.from_sql:
        print(f"then: pyspark-jobs run {args.job}_sql --ds YYYY-MM-DD; "
              f"pyspark-jobs parity {args.job}_sql {args.job} --ds YYYY-MM-DD")
    return 0


def _cmd_contracts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from common.contracts import WAREHOUSE
    from common.environments import Environment
    from common.live_schema import contract_differences, declared_tables, live_table, module_code
    from common.session import get_spark
    from common.settings import load_settings

    settings = load_settings()
    if args.contracts_command == "import":
        out = Path(args.out) if args.out else None
        if out is not None and out.exists():
            raise ParamError(f"{out} exists: give --out a new file, or print the code and paste it")
        spark = get_spark("pyspark-jobs contracts")
        spark.sparkContext.setLogLevel("ERROR")
        code = module_code([live_table(spark, settings, name, args.store) for name in args.tables])
        if out is None:
            print(code, end="")
        else:
            out.write_text(code)
            print(f"wrote {out}: {', '.join(args.tables)}")
        return 0
    declared = declared_tables()
    unknown = [name for name in args.tables if name not in declared]
    if unknown:
        raise ParamError(f"no job declares {', '.join(unknown)}: `pyspark-jobs list` shows the tables jobs read and write")
    names = args.tables or [name for name, table in declared.items() if table.source]
    env = Environment(args.env, args.branch)
    spark = get_spark("pyspark-jobs contracts")
    spark.sparkContext.setLogLevel("ERROR")
    differences, errors = 0, 0
    for name in names:
        table = declared[name]
        physical = None if table.source or table.store != WAREHOUSE else env.output_name(table)
        try:
            lines = contract_differences(table, live_table(spark, settings, name, table.store, physical))
        except PysparkJobsError as exc:  # one table missing or its store down: the others are still compared
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
            continue
        differences += len(lines)
        print("\n".join(lines) if lines else f"{name}: as declared")
    return 2 if errors else 1 if differences else 0


def _cmd_qa_cleanup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from common.qa_cleanup import Git, apply_cleanup, parse_age, plan_cleanup
    from common.session import get_spark
    from common.settings import load_settings

    settings = load_settings()
    older_than = parse_age(args.older_than)
    store = settings.artifact_store
    store = store if "://" in store else Path(store).resolve().as_uri()
    spark = get_spark("pyspark-jobs qa cleanup")
    plan = plan_cleanup(
        spark, git=Git(settings.home), qa_root=settings.qa_root, store=store, older_than_s=older_than, only=args.branch
    )
    if not args.dry_run:
        apply_cleanup(spark, plan)
    verb = "would remove" if args.dry_run else "removed"
    for candidate in plan:
        print("\n".join(candidate.lines(verb)))
    if not plan:
        print("nothing to clean up")
    return 2 if any(c.refused for c in plan) else 0


def _cmd_history(args: argparse.Namespace) -> int:
    from common.environments import Environment
    from common.session import get_spark
    from common.table_admin import history, history_json, render_history, resolve

    target = resolve(args.table, Environment(args.env, args.branch))
    versions = history(get_spark("pyspark-jobs history"), target, args.ds)
    print((history_json if args.json else render_history)(target, versions))
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from common.environments import Environment
    from common.session import get_spark
    from common.table_admin import resolve, rollback

    target = resolve(args.table, Environment(args.env, args.branch))
    done = rollback(get_spark("pyspark-jobs rollback"), target, args.ds, args.to)
    where = f" ds={args.ds}" if args.ds else ""
    if not done.changed:
        print(f"{target.physical}{where} already reads version {args.to}: nothing changed")
        return 0
    restored, rows = done.restored, "?" if done.restored.rows is None else done.restored.rows
    now = "" if done.current.version == restored.version else f" (now version {done.current.version})"
    print(f"{target.physical}{where}: restored version {restored.version}{now}: run {restored.run_id or '-'}, "
          f"{rows} rows; replaced version {done.previous.version if done.previous else '-'}")
    return 0


def _cmd_vacuum(args: argparse.Namespace) -> int:
    from common.environments import Environment
    from common.session import get_spark
    from common.table_admin import resolve, vacuum, warehouse_outputs

    env = Environment(args.env, args.branch)
    targets = [resolve(name, env) for name in args.tables or warehouse_outputs()]
    verb = "would remove" if args.dry_run else "removed"
    for target, removed in vacuum(get_spark("pyspark-jobs vacuum"), targets, dry_run=args.dry_run):
        print("\n".join(f"{verb} {item}" for item in removed) or f"{target.physical}: nothing past its retention")
    return 0


def _cmd_migrate_table(args: argparse.Namespace) -> int:
    from common.environments import Environment
    from common.session import get_spark
    from common.table_admin import apply_migration, plan_migration, resolve

    if args.allow_breaking and not args.apply:
        raise ParamError("--allow-breaking goes with --apply")
    spark = get_spark("pyspark-jobs migrate-table")
    migration = plan_migration(spark, resolve(args.table, Environment(args.env, args.branch)))
    print("\n".join(migration.lines()))
    if not args.apply:
        return 1 if migration.breaking else 0
    for statement in apply_migration(spark, migration, allow_breaking=args.allow_breaking):
        print(f"applied: {statement}")
    return 0


TABLE_COMMANDS = {"history": _cmd_history, "rollback": _cmd_rollback, "vacuum": _cmd_vacuum,
                  "migrate-table": _cmd_migrate_table}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "trino", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "describe":
            return _cmd_describe(args.job)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "check":
            return _cmd_check(args)
        if args.command == "diff":
            return _cmd_diff(args)
        if args.command in TABLE_COMMANDS:
            return TABLE_COMMANDS[args.command](args)
        if args.command == "migrate":
            return _cmd_migrate(args)
        if args.command == "new":
            return _cmd_new(args)
        if args.command == "contracts":
            return _cmd_contracts(args)
        if args.command == "qa":
            return _cmd_qa_cleanup(args)
        return _cmd_parity(args)
    except PysparkJobsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a service that stopped answering is one line; anything else is a bug
        error = _service_failure(exc, args.command)
        if error is None:
            raise
        log.debug("the failure behind it", exc_info=exc)
        print(f"error: {error}", file=sys.stderr)
        return 2


def _service_failure(exc: Exception, command: str) -> PysparkJobsError | None:
    """A command stopped by the metastore, S3 or (in a run) MySQL not answering, as one line
    saying what it left; None for any other failure."""
    from common.io.warehouse import metastore_unreachable, store_failed

    if command != "run":
        again = "rerun once it answers"
        return metastore_unreachable(exc, again) or store_failed(exc, again)
    from common.io.mysql import read_interrupted
    from common.settings import load_settings

    return read_interrupted(exc, load_settings().mysql) or metastore_unreachable(exc) or store_failed(exc)


if __name__ == "__main__":
    sys.exit(main())
