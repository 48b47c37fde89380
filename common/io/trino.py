"""Warehouse inputs read through a Trino server: pruned, optionally sampled, cached as parquet.

`pyspark-jobs run JOB --source trino` reads each warehouse input with one Trino query that
selects the contract's columns cast to the contract's types, so Spark gets exactly what the
lake would give. Results are written as parquet under `var/cache/trino/<sha256 of the query>/`
(temp dir, then rename), and Spark reads that directory: a rerun of the same query never
contacts Trino, and a killed fetch leaves no half cache.

Sampling keeps joins meaningful: a row is kept when a hash of its sample key falls below a
threshold, so tables sampled on the same key (lineitem and orders on the order key) keep the
same keys. See docs/TRINO.md for the rules and the settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.contracts import Column, Table
from common.errors import ConfigError, SourceError
from common.io.warehouse import conform
from common.settings import Settings, TrinoSettings

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SAMPLE_BUCKETS", "TableMap", "TrinoReader", "build_query", "trino_type"]

log = logging.getLogger(__name__)

SAMPLE_BUCKETS = 1_000_000  # a sample fraction has a resolution of 1 / SAMPLE_BUCKETS
NO_SAMPLE = "-"  # sample_keys value that reads a table whole
TABLES_VAR = "PYSPARK_JOBS_TRINO_TABLES"
_STALE_TMP_SECONDS = 24 * 3600
_ROWS_PER_FILE = 1_000_000
_MAPPED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.([a-z_][a-z0-9_]*|\*)$")
_CATALOG = re.compile(r"^[a-z_][a-z0-9_]*\.\*\.\*$")
_LOGICAL = re.compile(r"^[a-z][a-z0-9_]*\.([a-z][a-z0-9_]*|\*)$")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_STRING = re.compile(r"^(string|varchar\(\d+\)|char\(\d+\))$")
_SIMPLE_TYPES = {
    "bigint": "bigint", "long": "bigint", "int": "integer", "integer": "integer",
    "smallint": "smallint", "short": "smallint", "tinyint": "tinyint", "byte": "tinyint",
    "double": "double", "float": "real", "real": "real", "boolean": "boolean",
    "date": "date", "timestamp": "timestamp(6)",
}  # fmt: skip
_INTEGRAL = {"bigint", "integer", "smallint", "tinyint"}


# -- mapping logical tables to Trino tables -------------------------------------------------


@dataclass(frozen=True)
class TableMap:
    """`db.table=catalog.schema.table` entries, `db.*=catalog.schema.*` wildcards and one
    `*.*=catalog.*.*` for every other table (`db.table` read as `catalog.db.table`); the most
    specific entry wins."""

    exact: Mapping[str, str] = field(default_factory=dict)
    wildcards: Mapping[str, str] = field(default_factory=dict)  # db -> catalog.schema
    catalog: str | None = None  # every table not matched above: catalog.db.table

    @classmethod
    def parse(cls, spec: str) -> TableMap:
        exact, wildcards, catalog = {}, {}, None
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            left, sep, right = (part.strip().lower() for part in entry.partition("="))
            if sep and left == "*.*" and _CATALOG.match(right):
                catalog = right[:-4]
                continue
            ok = sep and _LOGICAL.match(left) and _MAPPED.match(right)
            if not ok or left.endswith(".*") != right.endswith(".*"):
                raise ConfigError(
                    f"{TABLES_VAR}: bad entry {entry!r}: use db.table=catalog.schema.table, "
                    "db.*=catalog.schema.* or *.*=catalog.*.*, separated by commas"
                )
            if left.endswith(".*"):
                wildcards[left[:-2]] = right[:-2]
            else:
                exact[left] = right
        return cls(exact, wildcards, catalog)

    def resolve(self, name: str) -> str | None:
        if name in self.exact:
            return self.exact[name]
        database, _, table = name.partition(".")
        prefix = self.wildcards.get(database)
        if prefix:
            return f"{prefix}.{table}"
        return f"{self.catalog}.{name}" if self.catalog else None


# -- the query -------------------------------------------------------------------------------


def trino_type(spark_type: str) -> str:
    """The Trino type a contract's Spark DDL type is fetched as; strings stay as Trino has them."""
    t = spark_type.strip().lower()
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    if _DECIMAL.match(t):
        return re.sub(r"\s+", "", t)
    if _STRING.match(t):
        return "varchar"
    raise ConfigError(f"type {spark_type!r} cannot be read through Trino: use a numeric, decimal, date, timestamp, "
                      "boolean or string column")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(source: str) -> str:
    return ".".join(_ident(part) for part in source.split("."))


def _select_expr(column: Column) -> str:
    kind = trino_type(column.type)
    # Strings are taken as stored (char(n) is right-trimmed when fetched, as JDBC does);
    # everything else is cast, e.g. the tpch connector's double money to decimal(15,2).
    if kind == "varchar":
        return _ident(column.name)
    return f"CAST({_ident(column.name)} AS {kind}) AS {_ident(column.name)}"


def _bucket(column: Column) -> str:
    """A stable bucket in [0, SAMPLE_BUCKETS) from xxhash64 of the key; int and bigint keys agree."""
    name = _ident(column.name)
    if trino_type(column.type) in _INTEGRAL:
        raw = f"to_big_endian_64(CAST({name} AS bigint))"
    else:
        raw = f"to_utf8(CAST({name} AS varchar))"
    return f"bitwise_and(from_big_endian_64(xxhash64({raw})), 9223372036854775807) % {SAMPLE_BUCKETS}"


def build_query(
    table: Table,
    source: str,
    *,
    sample_key: str | None = None,
    sample_pct: float | None = None,
    sample_rows: int | None = None,
    where: str | None = None,
) -> str:
    """The one query an input is fetched with; its text is also the cache key.

    With `sample_rows` the threshold is computed by Trino from the table's count, so the text
    (and the cache key) is known without contacting the server.
    """
    src = _qualified(source)
    cols = ",\n  ".join(_select_expr(c) for c in table.contract.columns)
    conditions = [f"({where})"] if where else []
    if sample_key and (sample_pct is not None or sample_rows is not None):
        bucket = _bucket(table.contract.column(sample_key))
        if sample_rows is not None:
            counted = f" WHERE ({where})" if where else ""
            threshold = (f"(SELECT least({SAMPLE_BUCKETS}, CAST({SAMPLE_BUCKETS} AS bigint) * {int(sample_rows)} "
                         f"/ greatest(count(*), 1)) FROM {src}{counted})")
        else:
            threshold = str(round(float(sample_pct) / 100 * SAMPLE_BUCKETS))
        conditions.append(f"{bucket} < {threshold}")
    query = f"SELECT\n  {cols}\nFROM {src}"
    if conditions:
        query += "\nWHERE " + "\n  AND ".join(conditions)
    return query


# -- the reader ------------------------------------------------------------------------------


def _parse_pairs(spec: str | Mapping[str, str] | None, what: str) -> dict[str, str]:
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {k.lower(): v for k, v in spec.items()}
    pairs = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        key, sep, value = (p.strip() for p in entry.partition("="))
        if not sep or not key:
            raise ConfigError(f"{what}: bad entry {entry!r}: use db.table=value, separated by commas")
        pairs[key.lower()] = value
    return pairs


@dataclass(frozen=True)
class _Fetched:
    rows: int
    seconds: float


class TrinoReader:
    """Reads a Table through Trino: `read(spark, table) -> (DataFrame, where)`, like WarehouseReader.

    Options: `sample_pct` or `sample_rows`; `refresh` ignores the cache; `sample_keys` maps a
    table to its sample column (`-` reads it whole; default: first primary-key column);
    `filters` maps a table to a SQL predicate pushed into its query (e.g. a partition filter);
    `mysql_via` is "jdbc" (the runner's MysqlReader reads MySQL inputs) or "trino" (this reader
    reads them from catalog `mysql_catalog`).
    """

    def __init__(
        self,
        *,
        trino: TrinoSettings,
        cache_dir: Path,
        sample_rows: int | None = None,
        sample_pct: float | None = None,
        refresh: bool = False,
        sample_keys: str | Mapping[str, str] | None = None,
        filters: Mapping[str, str] | None = None,
        mysql_via: str = "jdbc",
        mysql_catalog: str = "mysql",
        batch_rows: int = 10_000,
        request_timeout: float = 300.0,
        verify: bool | str = True,
    ) -> None:
        if sample_rows is not None and sample_pct is not None:
            raise ConfigError("give --sample ROWS or --sample-pct P, not both")
        if sample_rows is not None and sample_rows <= 0:
            raise ConfigError(f"--sample {sample_rows}: the row count must be positive")
        if sample_pct is not None and not 0 < sample_pct <= 100:
            raise ConfigError(f"--sample-pct {sample_pct}: the percentage must be in (0, 100]")
        if mysql_via not in ("jdbc", "trino"):
            raise ConfigError(f"mysql_via {mysql_via!r}: use jdbc or trino")
        if trino.http_scheme not in ("http", "https"):
            raise ConfigError(f"PYSPARK_JOBS_TRINO_HTTP_SCHEME {trino.http_scheme!r}: use http or https")
        if trino.password and trino.jwt:
            raise ConfigError("set PYSPARK_JOBS_TRINO_PASSWORD or PYSPARK_JOBS_TRINO_JWT, not both")
        if (trino.password or trino.jwt) and trino.http_scheme != "https":
            raise ConfigError(
                "Trino credentials are set but PYSPARK_JOBS_TRINO_HTTP_SCHEME is http: Trino accepts a "
                "password or JWT over HTTPS only, so set it to https"
            )
        self.trino = trino
        self.cache_dir = Path(cache_dir)
        self.sample_rows = sample_rows
        self.sample_pct = sample_pct
        self.refresh = refresh
        self.sample_keys = _parse_pairs(sample_keys, "sample_keys")
        self.filters = dict(filters or {})
        self.mysql_via = mysql_via
        self.mysql_catalog = mysql_catalog
        self.batch_rows = batch_rows
        self.request_timeout = request_timeout
        self.verify = verify
        self.table_map = TableMap.parse(trino.table_map)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> TrinoReader:
        """The runner's entry point: server and table map from settings, the rest from the CLI."""
        options.setdefault("cache_dir", settings.var / "cache" / "trino")
        if settings.trino.ca_bundle:
            options.setdefault("verify", settings.trino.ca_bundle)
        for name in ("sample_keys", "mysql_via"):
            value = getattr(settings.trino, name)
            if value:
                options.setdefault(name, value)
        return cls(trino=settings.trino, **options)

    def __repr__(self) -> str:
        auth = "password" if self.trino.password else "jwt" if self.trino.jwt else "none"
        sample = f"{self.sample_pct}%" if self.sample_pct is not None else self.sample_rows
        return (f"TrinoReader(server={self.server!r}, user={self.trino.user!r}, auth={auth}, "
                f"sample={sample!r}, refresh={self.refresh})")

    @property
    def server(self) -> str:
        return f"{self.trino.http_scheme}://{self.trino.host}:{self.trino.port}"

    # -- planning, without contacting Trino

    def handles(self, table: Table) -> bool:
        """True when this reader reads `table` (MySQL inputs only with mysql_via=trino)."""
        return not table.is_mysql or self.mysql_via == "trino"

    def source(self, table: Table) -> str:
        mapped = self.table_map.exact.get(table.name)
        if mapped is None and table.is_mysql:
            mapped = f"{self.mysql_catalog}.{table.name}"
        mapped = mapped or self.table_map.resolve(table.name)
        if mapped is None:
            raise ConfigError(
                f"input {table.name} has no Trino table: add '{table.name}=catalog.schema.table' "
                f"or '{table.database}.*=catalog.schema.*' to {TABLES_VAR}"
            )
        return mapped

    def sample_key(self, table: Table) -> str | None:
        if self.sample_rows is None and self.sample_pct is None:
            return None
        key = self.sample_keys.get(table.name) or (table.contract.primary_key[:1] or (None,))[0]
        if key in (None, NO_SAMPLE):
            return None
        if key not in table.contract.names:
            raise ConfigError(f"sample key {key!r} of {table.name} is not one of its columns")
        return key

    def query(self, table: Table) -> str:
        return build_query(
            table, self.source(table), sample_key=self.sample_key(table), sample_pct=self.sample_pct,
            sample_rows=self.sample_rows, where=self.filters.get(table.name),
        )

    # -- reading

    def read(self, spark: SparkSession, table: Table) -> tuple[DataFrame, str]:
        source, query = self.source(table), self.query(table)
        digest = hashlib.sha256(query.encode()).hexdigest()
        target = self.cache_dir / digest
        key = self.sample_key(table)
        sampled = ""
        if key:
            amount = f"{self.sample_pct:g}%" if self.sample_pct is not None else f"~{self.sample_rows} rows"
            sampled = f" sample {amount} on {key}"
        if target.is_dir() and not self.refresh:
            where = f"trino {source}{sampled}, from cache {digest[:12]}"
            log.info("%s: %s (no Trino contact)", table.name, where)
        else:
            fetched = self._fetch(table, source, query, target)
            took = f"fetched {fetched.rows} rows in {fetched.seconds:.1f}s"
            where = f"trino {source}{sampled}, {took}, cached {digest[:12]}"
            log.info("%s: %s", table.name, where)
        df = spark.read.schema(table.contract.schema()).parquet(target.as_uri())
        return conform(df, table, f"trino {source}"), where

    def _connect(self):
        import trino

        auth = None
        if self.trino.password:
            auth = trino.auth.BasicAuthentication(self.trino.user, self.trino.password)
        elif self.trino.jwt:
            auth = trino.auth.JWTAuthentication(self.trino.jwt)
        return trino.dbapi.connect(
            host=self.trino.host, port=self.trino.port, user=self.trino.user,
            http_scheme=self.trino.http_scheme, auth=auth, http_session=_session(self.verify), source="pyspark-jobs",
            # Decimals, dates and timestamps arrive as text and are parsed column-wise by Arrow.
            legacy_primitive_types=True, max_attempts=1, request_timeout=self.request_timeout,
        )

    def _fetch(self, table: Table, source: str, query: str, target: Path) -> _Fetched:
        import pyarrow.parquet as pq

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(self.cache_dir)
        tmp = self.cache_dir / f".tmp-{target.name[:12]}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        started, rows, files = time.perf_counter(), 0, 0
        writer = cursor = None
        try:
            cursor = self._connect().cursor()
            cursor.execute(query)
            for batch in _prefetched(cursor, self.batch_rows):
                if writer is None or writer.rows >= _ROWS_PER_FILE:
                    if writer is not None:
                        writer.close()
                    trino_types = [d[1] for d in cursor.description]
                    arrow = _arrow_schema(table)
                    writer = _PartWriter(pq.ParquetWriter(tmp / f"part-{files:05d}.parquet", arrow))
                    files += 1
                writer.write(_to_arrow(batch, table, trino_types))
                rows += len(batch)
            if writer is None:  # no rows: still a valid, empty table
                pq.write_table(_arrow_schema(table).empty_table(), tmp / "part-00000.parquet")
            else:
                writer.close()
            seconds = time.perf_counter() - started
            meta = {"table": table.name, "source": source, "server": self.server, "rows": rows,
                    "seconds": round(seconds, 3), "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (tmp / "_query.sql").write_text(query + "\n")
            (tmp / "_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            _commit(tmp, target)
        except BaseException as exc:
            if writer is not None:
                writer.close()
            shutil.rmtree(tmp, ignore_errors=True)
            if cursor is not None and cursor.query_id:
                with contextlib.suppress(Exception):  # best effort: don't leave the query running
                    cursor.cancel()
            if isinstance(exc, Exception) and not isinstance(exc, (SourceError, ConfigError)):
                raise self._error(exc, table, source) from None
            raise
        return _Fetched(rows, seconds)

    def _error(self, exc: Exception, table: Table, source: str) -> SourceError:
        """One line naming the cause and the fix; never a credential."""
        import requests
        import trino

        at = f"{self.trino.host}:{self.trino.port}"
        cause = exc.__cause__ or exc.__context__
        if isinstance(exc, trino.exceptions.TrinoConnectionError) and isinstance(
            cause, requests.exceptions.RequestException
        ):
            exc = cause  # the client re-raises requests' errors as "failed to execute: ..."
        if isinstance(exc, requests.exceptions.SSLError):
            reason = re.search(r"\[SSL: ([A-Z_]+)\]|(wrong version number)", str(exc))
            if reason and reason.group(1) == "CERTIFICATE_VERIFY_FAILED":
                return SourceError(
                    f"cannot reach Trino at {self.server}: TLS handshake failed (CERTIFICATE_VERIFY_FAILED): "
                    "the server's certificate is not trusted; set PYSPARK_JOBS_TRINO_CA_BUNDLE to the PEM file "
                    "of its CA (the local Trino's is var/trino/tls/trino.pem)"
                )
            return SourceError(
                f"cannot reach Trino at {self.server}: TLS handshake failed "
                f"({(reason.group(1) or reason.group(2)) if reason else 'SSL error'}); is the server HTTPS, "
                "and does PYSPARK_JOBS_TRINO_HTTP_SCHEME match it?"
            )
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            reason = "connection refused" if "refused" in str(exc).lower() else _first_line(exc, 120)
            return SourceError(
                f"cannot reach Trino at {at}: {reason}; start it with 'make services' "
                "(or check PYSPARK_JOBS_TRINO_HOST and PYSPARK_JOBS_TRINO_PORT)"
            )
        if isinstance(exc, trino.exceptions.TrinoQueryError):
            name, message = exc.error_name, _first_line(exc.message, 200)
            if name in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND"):
                return SourceError(
                    f"Trino at {at} has no table {source} (input {table.name}, mapped by {TABLES_VAR}): "
                    f"{message}"
                )
            if name in ("COLUMN_NOT_FOUND", "TYPE_MISMATCH", "INVALID_CAST_ARGUMENT"):
                return SourceError(f"Trino table {source} drifted from the {table.name} contract: {message}")
            return SourceError(f"Trino query for {table.name} from {source} failed: {name}: {message}")
        status = re.match(r"error (\d{3})", str(exc))
        if isinstance(exc, (trino.exceptions.HttpError, trino.exceptions.TrinoAuthError)) and (
            not status or status.group(1) in ("401", "403")
        ):
            return SourceError(
                f"Trino at {self.server} refused user {self.trino.user!r} "
                f"({'HTTP ' + status.group(1) if status else 'authentication failed'}): check "
                "PYSPARK_JOBS_TRINO_USER and PYSPARK_JOBS_TRINO_HTTPS_PASSWORD (or ..._TRINO_PASSWORD, "
                "..._TRINO_JWT)"
            )
        return SourceError(f"reading {table.name} from Trino at {at} failed: {type(exc).__name__}: "
                           f"{_first_line(exc, 200)}")


def _session(verify: bool | str) -> Any:
    """The HTTP session of a connection. requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace
    a session's `verify` on every request (psf/requests#3829): a configured CA bundle must win."""
    import requests

    class _Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if isinstance(self.verify, str):
                merged["verify"] = self.verify
            return merged

    session = _Session()
    session.verify = verify
    return session


# -- Arrow conversion and the cache ------------------------------------------------------------


def _prefetched(cursor: Any, size: int) -> Iterator[list[list[Any]]]:
    """`fetchmany` batches from a background thread: the next pages download while this
    thread converts the last one (the client waits on the network with the GIL released)."""
    batches: queue.Queue = queue.Queue(maxsize=4)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(size)
                batches.put(batch if batch else done)
                if not batch:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            batches.put(exc)

    worker = threading.Thread(target=produce, name="trino-fetch", daemon=True)
    worker.start()
    try:
        while (item := batches.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                batches.get_nowait()
            except queue.Empty:
                worker.join(0.05)


class _PartWriter:
    def __init__(self, writer: Any) -> None:
        self._writer, self.rows = writer, 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()


def _arrow_type(column: Column) -> pa.DataType:
    import pyarrow as pa

    kind = trino_type(column.type)
    decimal = _DECIMAL.match(kind)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return {
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(), "tinyint": pa.int8(),
        "double": pa.float64(), "real": pa.float32(), "boolean": pa.bool_(), "date": pa.date32(),
        "timestamp(6)": pa.timestamp("us", tz="UTC"), "varchar": pa.string(),
    }[kind]  # fmt: skip


def _arrow_schema(table: Table) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(c.name, _arrow_type(c)) for c in table.contract.columns])


def _to_arrow(rows: list[list[Any]], table: Table, trino_types: list[str]) -> pa.RecordBatch:
    """Rows of the legacy (text) representation → a typed Arrow batch, one column at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    for column, values, source_type in zip(table.contract.columns, zip(*rows, strict=True), trino_types, strict=True):
        want = _arrow_type(column)
        if pa.types.is_decimal(want) or pa.types.is_date(want):
            array = pa.array(values, pa.string()).cast(want)
        elif pa.types.is_timestamp(want):
            array = pc.assume_timezone(pa.array(values, pa.string()).cast(pa.timestamp("us")), "UTC")
        elif pa.types.is_floating(want):
            array = pa.array([float(v) if isinstance(v, str) else v for v in values], want)  # NaN, Infinity
        elif pa.types.is_string(want) and source_type.startswith("char("):
            array = pc.utf8_rtrim(pa.array(values, want), characters=" ")  # as JDBC returns CHAR(n)
        else:
            array = pa.array(values, want)
        if not column.nullable and array.null_count:
            raise SourceError(f"{table.name}: column {column.name} has nulls in Trino but the contract says NOT NULL")
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=_arrow_schema(table))


def _commit(tmp: Path, target: Path) -> None:
    """Rename the finished temp dir into place; an existing entry (a refresh) is replaced."""
    if target.exists():
        old = target.with_name(f".old-{target.name[:12]}-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(tmp, target)
    except OSError:  # another process committed the same query first: keep theirs
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_tmp(root: Path) -> None:
    """Temp dirs of fetches killed long ago (a running fetch is younger than a day)."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for path in root.glob(".tmp-*"):
        if path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)


def _first_line(value: object, limit: int) -> str:
    text = str(value).strip()
    return (text.splitlines()[0] if text else type(value).__name__)[:limit]
