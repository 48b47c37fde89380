"""MySQL tables over JDBC (MySQL Connector/J): parallel reads split on an integral key.

Bounds for the split come from one MIN/MAX query on the driver; Spark pushes column pruning and filters
into each partition's SELECT. Credentials travel as connection properties, never in the URL,
a log line or a repr. Every statement has a query timeout and every connection a socket timeout
(MysqlSettings); what a split read guarantees while the table changes is in docs/RELIABILITY.md.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.errors import SourceError
from common.io.warehouse import conform
from common.settings import MysqlSettings, mysql_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from common.contracts import Table

__all__ = ["MysqlReader", "read_interrupted"]

log = logging.getLogger(__name__)
DRIVER = "com.mysql.cj.jdbc.Driver"
_INTEGRAL = {"tinyint", "smallint", "int", "integer", "bigint"}
# Connector/J's errors when a statement outlived the query timeout, and when a socket stayed silent.
_QUERY_TIMED_OUT = ("MySQLTimeoutException", "Statement cancelled due to timeout")
_SOCKET_TIMED_OUT = ("SocketTimeoutException", "Read timed out")
_TAIL = "outputs this run had not yet written keep their previous version"
# The MySQL reads whose DataFrames are still in use, for naming the table when a timeout fires
# in a Spark task: a task's error says what timed out, never which table it was reading.
_live_reads: weakref.WeakKeyDictionary[DataFrame, tuple[str, MysqlSettings]] = weakref.WeakKeyDictionary()


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Communications link failure", "Access denied", "doesn't exist", "Unknown database"):
        if marker in text:
            return marker
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _timed_out(text: str, reads: list[tuple[str, MysqlSettings]]) -> SourceError | None:
    """A read that hit the query or the socket timeout, as one line naming the table (or the tables
    it may have been), the timeout and the setting that changes it; None for any other failure."""
    if any(marker in text for marker in _QUERY_TIMED_OUT):
        key, what = "QUERY_TIMEOUT", "a statement ran longer than the query timeout and MySQL cancelled it"
        fix = "raise it if the table is this slow to read, or find what holds a lock on it"
    elif "com.mysql.cj" in text and any(marker in text for marker in _SOCKET_TIMED_OUT):
        key, what = "SOCKET_TIMEOUT", "MySQL sent nothing for longer than the socket timeout"
        fix = "check that the server and the network to it are up, or raise it"
    else:
        return None
    tables = ", ".join(dict.fromkeys(where for where, _ in reads))
    settings = "; ".join(dict.fromkeys(f"{getattr(m, key.lower())} s, {m.setting(key)}" for _, m in reads))
    return SourceError(f"reading {'one of ' if len(reads) > 1 else ''}{tables} timed out: {what} ({settings}); "
                       f"{fix}; {_TAIL}")


def read_interrupted(exc: BaseException, mysql: MysqlSettings) -> SourceError | None:
    """A Spark job that failed because MySQL went away, or a read timed out, while its tasks were
    reading, as one line.

    A JDBC read is lazy: `read()` only asks for bounds and the schema, and the rows are fetched
    later inside tasks, so a restart in between surfaces as a failed Spark job whose cause is
    the driver's CommunicationsException. Task retries do not outlast a restart (they come
    within milliseconds; local[N] makes none), so the run fails, and the writer swaps in no
    output it had not finished. A timeout names the MySQL reads still in use (one, unless the
    failed job read several). None when `exc` is some other failure.
    """
    text = str(exc)
    reads = list(_live_reads.values()) or [(f"a MySQL table of {mysql.host}:{mysql.port}", mysql)]
    timed_out = _timed_out(text, reads)
    if timed_out:
        return timed_out
    # A restart seen by the connection, or by the statement the query timeout's timer closed.
    lost = ("Communications link failure", "No operations allowed after statement closed")
    if "com.mysql.cj" not in text or not any(marker in text for marker in lost):
        return None
    return SourceError(
        f"lost the connection to mysql {mysql.host}:{mysql.port} in the middle of a read (Communications link "
        f"failure); {_TAIL}; rerun the job once MySQL is back ('make services-status')"
    )


@dataclass(frozen=True)
class MysqlReader:
    mysql: MysqlSettings
    partitions: int = 4
    fetch_size: int = 10_000
    # Partitions of more keys than this stream through a server-side cursor.
    stream_rows: int = 1_000_000

    def _options(self, *, stream: bool, fetch_size: int | None = None) -> dict[str, str]:
        return {
            # A server-side cursor keeps an executor's memory flat on big partitions but costs
            # MariaDB a temporary table per query: small partitions are fetched whole instead.
            "url": self.mysql.jdbc_url + ("&useCursorFetch=true" if stream else ""),
            "driver": DRIVER,
            "user": self.mysql.user,
            "password": self.mysql.password,
            "fetchsize": str(fetch_size or self.fetch_size),
            # Seconds; Spark sets it on every statement (schema, partitions), Connector/J enforces it.
            "queryTimeout": str(self.mysql.query_timeout),
        }

    def _split_column(self, table: Table) -> str | None:
        name = table.split_column or (table.contract.primary_key[:1] or (None,))[0]
        if name is None:
            return None
        column = table.contract.column(name)
        return name if column.type.lower() in _INTEGRAL else None

    def _bounds(self, spark: SparkSession, query: str) -> tuple[int | None, int | None]:
        """MIN and MAX of the split key over one driver-side connection (no Spark job), opened
        the way Spark's own JDBC source opens them, so drivers added with --jars work too."""
        jvm = spark.sparkContext._jvm
        options = jvm.org.apache.spark.sql.execution.datasources.jdbc.JDBCOptions(
            jvm.org.apache.spark.api.python.PythonUtils.toScalaMap({**self._options(stream=False), "query": query})
        )
        connection = jvm.org.apache.spark.sql.jdbc.JdbcDialects.get(options.url()).createConnectionFactory(options).apply(-1)
        try:
            statement = connection.createStatement()
            statement.setQueryTimeout(self.mysql.query_timeout)
            result = statement.executeQuery(query)
            result.next()
            lo, hi = result.getLong(1), result.getLong(2)
            empty = result.wasNull()
        finally:
            connection.close()
        return (None, None) if empty else (lo, hi)

    def read(self, spark: SparkSession, table: Table) -> tuple[DataFrame, str]:
        source = f"`{table.database}`.`{table.table}`"
        where = f"mysql {self.mysql.read_host}:{self.mysql.port}/{table.name}"
        fetch_size = table.fetch_size or self.fetch_size
        options = self._options(stream=True, fetch_size=fetch_size)
        split = self._split_column(table)
        try:
            if split and self.partitions > 1:
                lo, hi = self._bounds(spark, f"SELECT MIN(`{split}`), MAX(`{split}`) FROM {source}")
                if lo is not None:
                    span = hi - lo + 1
                    partitions = max(1, min(self.partitions, span))
                    options.update(
                        self._options(stream=span / partitions > self.stream_rows, fetch_size=fetch_size),
                        partitionColumn=split,
                        lowerBound=str(lo),
                        upperBound=str(hi + 1),
                        numPartitions=str(partitions),
                    )
            df = spark.read.format("jdbc").options(**options).option("dbtable", source).load()
        except Exception as exc:  # py4j wraps every JDBC failure in one Java exception type
            timed_out = _timed_out(str(exc), [(where, self.mysql)])
            if timed_out:
                raise timed_out from None
            raise SourceError(
                f"cannot read {where}: {_reason(exc)}; check that MySQL source {self.mysql.source!r} is up and "
                f"reachable from the driver, and its settings (PYSPARK_JOBS_{mysql_key(self.mysql.source, '*')}, "
                "'make services-status' locally)"
            ) from None
        df = conform(df, table, where)
        _live_reads[df] = (where, self.mysql)
        return df, where
