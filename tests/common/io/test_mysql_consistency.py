"""What a split MySQL read guarantees while the table changes (docs/RELIABILITY.md, "A MySQL
read while the table changes"), against the real MariaDB.

Each partition of a split read is one SELECT of a disjoint key range, run on its own connection
when its task starts; InnoDB gives each statement one consistent snapshot. So a row that exists
before the read and keeps its key is read exactly once, whatever else is inserted or updated
meanwhile; rows inserted during the read may or may not be read.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import pytest
from pyspark.sql import functions as F

from common.contracts import Column, Contract, Table
from common.io.mysql import MysqlReader
from common.settings import load_settings
from tests.helpers import mysql_connection

pytestmark = pytest.mark.services

DB = f"pj_consistency_{uuid.uuid4().hex[:6]}"
TABLE = Table(
    f"{DB}.items",
    Contract((Column("k", "int", nullable=False), Column("v", "int"), Column("version", "int")), primary_key=("k",)),
    store="mysql",
)
# 20,000 rows with the even keys 2..40,000: the odd keys inside the range stay free for inserts.
EXISTING = set(range(2, 40_001, 2))
TOP = max(EXISTING)
PARTITIONS = 8
# How long each task waits after its SELECT has run: with 2 task slots (local[2]) the 8 SELECTs
# run in 4 waves, at least this far apart, while the writer below commits every few milliseconds.
PAUSE_MS = 400
# Rows the writer updates (every 97th): the update is a non-key column, so the row stays in its partition.
UPDATED = sorted(EXISTING)[::97]


@pytest.fixture(scope="module")
def items():
    conn = mysql_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"CREATE TABLE {DB}.items (k INT PRIMARY KEY, v INT NOT NULL, version INT NOT NULL) ENGINE=InnoDB")
        rows = [(k, k, 0) for k in sorted(EXISTING)]
        for start in range(0, len(rows), 5_000):
            cur.executemany(f"INSERT INTO {DB}.items VALUES (%s, %s, %s)", rows[start:start + 5_000])
    yield TABLE
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {DB}")
    conn.close()


class Writer(threading.Thread):
    """Commits, in a loop until stopped: an insert (three of four inside the key range, at a free
    odd key; one above it) and an update of a non-key column of an existing row. Remembers when
    each insert was committed and every version each row was given."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.inserted: dict[int, float] = {}  # key -> time.monotonic() after its commit
        self.versions: dict[int, set[int]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(21)
        free = list(range(1, TOP, 2))
        rng.shuffle(free)
        above = TOP
        try:
            with mysql_connection(DB) as conn, conn.cursor() as cur:  # autocommit: each statement commits
                for version in range(1, 1_000_000):
                    if self.stop.is_set():
                        return
                    if version % 4:
                        key = free.pop()
                    else:
                        above += 1
                        key = above
                    cur.execute("INSERT INTO items VALUES (%s, %s, 0)", (key, key))
                    self.inserted[key] = time.monotonic()
                    target = rng.choice(UPDATED)
                    cur.execute("UPDATE items SET version = %s WHERE k = %s", (version, target))
                    self.versions.setdefault(target, set()).add(version)
                    time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_a_split_read_reads_every_row_that_existed_before_it_exactly_once_while_rows_are_inserted_and_updated(
    spark, items
):
    reader = MysqlReader(load_settings().mysql, partitions=PARTITIONS)
    writer = Writer()
    writer.start()
    try:
        while len(writer.inserted) < 20 and writer.is_alive():
            time.sleep(0.01)
        started = time.monotonic()
        df, _ = reader.read(spark, items)  # the bounds query: MIN/MAX of the keys at this moment
        assert df.rdd.getNumPartitions() == PARTITIONS
        first_row_of_a_partition = (F.monotonically_increasing_id() % (1 << 33)) == 0  # low 33 bits: row index
        pause = F.expr(f"reflect('java.lang.Thread', 'sleep', cast({PAUSE_MS} as bigint))")
        rows = df.withColumn("paused", F.when(first_row_of_a_partition, pause)).collect()
        ended = time.monotonic()
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None, writer.error

    counts = Counter(r.k for r in rows)
    seen = set(counts)
    assert not {k: n for k, n in counts.items() if n > 1}, "a row was read twice"
    assert not EXISTING - seen, f"{len(EXISTING - seen)} rows that existed before the read were not read"
    assert seen - EXISTING <= set(writer.inserted), "a key nobody wrote was read"
    for r in rows:  # an updated row is read once, with its version of one moment
        assert r.version in {0} | writer.versions.get(r.k, set()), r

    # The interleaving is real: some partition's SELECT ran after a row inserted during the read
    # was committed (so the read is no single snapshot taken at its start), and some ran before a
    # row the read could have seen had it been one snapshot taken at its end. That is what a
    # reader paging with LIMIT/OFFSET (or partitions whose ranges overlap or leave gaps) would
    # fail on: a page run after an insert below its offset starts one row later, so the previous
    # page's last row is read again; with these inserts spread over the whole range this test
    # would find duplicates (and, were rows deleted, missing rows).
    during = {k for k, at in writer.inserted.items() if at > started}
    assert during & seen, "no row inserted after the read started was read: the read did not interleave"
    assert {k for k, at in writer.inserted.items() if at < ended} - seen, "every insert was read: no interleaving"
    # Keys above the bounds taken at the start go to the last partition, whose range is open.
    print(f"read {len(rows)} rows in {ended - started:.1f} s: {len(seen - EXISTING)} of {len(during)} rows "
          f"inserted during the read were read, {len([k for k in seen if k > TOP])} of them above the bounds")
