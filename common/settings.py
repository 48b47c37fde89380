"""Where things are and how to reach them, from environment variables or a profile file.

Credentials are read from `PYSPARK_JOBS_*` environment variables, falling back to the
profile file `$PYSPARK_JOBS_VAR/credentials.env` (written by `make services`, mode 600).
They never come from a command line, and the dataclasses below keep them out of reprs.

MySQL sources: the contract store `mysql` is the source `default`, read from `PYSPARK_JOBS_MYSQL_<KEY>`;
`mysql:<name>` is the source `<name>`, read from `PYSPARK_JOBS_MYSQL_<NAME>_<KEY>`. KEY is HOST, PORT,
DATABASE, USER, PASSWORD, SECRET_ID, SSL_MODE, READ_REPLICA, CONNECT_TIMEOUT, QUERY_TIMEOUT or
SOCKET_TIMEOUT (the timeouts in whole seconds; see MysqlSettings). With SECRET_ID the driver reads
the credentials (and host, port, database unless set) from AWS Secrets Manager when the source
is first read, so a cluster's step carries the secret's id and never its value.

Trino is reached over `PYSPARK_JOBS_TRINO_HTTP_SCHEME` (http by default). With https, the
keys `PYSPARK_JOBS_TRINO_HTTPS_PORT` and `PYSPARK_JOBS_TRINO_HTTPS_PASSWORD` win over
`..._TRINO_PORT` and `..._TRINO_PASSWORD`: the local Trino serves plain HTTP without a
password and HTTPS with one, so one profile holds both and switching the scheme is enough.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

__all__ = ["MYSQL_KEYS", "MysqlSettings", "TrinoSettings", "Settings", "load_settings", "mysql_key", "read_profile"]

PREFIX = "PYSPARK_JOBS_"
MYSQL_CONNECTOR_JAR = "mysql-connector-j-8.4.0.jar"
ICEBERG_RUNTIME_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.0.jar"
# The jars every run needs that a stock cluster lacks: they ship with the branch (--jars).
SHIPPED_JARS = (MYSQL_CONNECTOR_JAR, ICEBERG_RUNTIME_JAR)
# Iceberg tables live in Spark's own catalog beside Hive ones: SparkSessionCatalog hands Iceberg
# tables to Iceberg and every other table to Spark's Hive catalog, so names stay `db.table`.
# Static settings: they must be set before the session starts (spark-submit --conf, or
# spark-defaults.conf). The catalog's backend (`.type`: hive or glue) is per deployment.
ICEBERG_SPARK_CONF = {
    "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
    "spark.sql.catalog.spark_catalog": "org.apache.iceberg.spark.SparkSessionCatalog",
    # Load a table's current metadata at each use: a cached copy misses commits of other
    # applications, and a table dropped and made again through the Hive side of the catalog.
    "spark.sql.catalog.spark_catalog.cache-enabled": "false",
    # A commit waiting for the metastore's table lock checks again after at most 500 ms instead
    # of Iceberg's 5 s: the metastore grants a freed lock only when its next waiter asks, so with
    # many runs of one job at once (a backfill, max_active_runs above 1) the 5 s sleeps add up.
    "spark.hadoop.iceberg.hive.lock-check-max-wait-ms": "500",
}
ICEBERG_CATALOG_TYPE = "spark.sql.catalog.spark_catalog.type"
# Spark's Hive client (Hive 2.3) sets this filter hook itself at its first partition call, which
# closes the metastore connection it holds: that call then waits 1 s for a reconnect, once per
# process (HIVE-24404). Set from the start, nothing changes and nothing reconnects. Static, like
# the above: local sessions and every step get it.
HIVE_CLIENT_CONF = {
    "spark.hadoop.hive.metastore.filter.hook":
        "org.apache.hadoop.hive.ql.security.authorization.plugin.AuthorizationMetaStoreFilterHook",
}
# The local Hive metastore service (dev/services.sh): the catalog every local Spark process shares.
METASTORE_PORT = "19083"
DEFAULT_SOURCE = "default"
MYSQL_KEYS = ("HOST", "PORT", "DATABASE", "USER", "PASSWORD", "SECRET_ID", "SSL_MODE", "READ_REPLICA",
              "CONNECT_TIMEOUT", "QUERY_TIMEOUT", "SOCKET_TIMEOUT")
# Seconds. The socket timeout, unless set, stays this far above the query timeout (MysqlSettings).
CONNECT_TIMEOUT_S = 5
QUERY_TIMEOUT_S = 3600
SOCKET_MARGIN_S = 300
# Connector/J's sslMode values; REQUIRED encrypts, the VERIFY_* modes also check the server.
SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
LAKE_SCHEMES = ("s3://", "s3a://", "file://")
LAKE_TABLE_MAP = "*.*=lake.*.*"  # Trino's catalog of the lake, for every lake table


def mysql_key(source: str, key: str) -> str:
    """The variable that holds `key` of a MySQL source, without the PYSPARK_JOBS_ prefix."""
    return f"MYSQL_{key}" if source == DEFAULT_SOURCE else f"MYSQL_{source.upper()}_{key}"


def read_profile(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class MysqlSettings:
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    ssl_mode: str = "DISABLED"
    # Reads go to the replica when one is set (the secret's host stays the primary).
    read_replica: str = ""
    source: str = DEFAULT_SOURCE
    # Seconds. connect: to open a connection. query: one statement (a partition's SELECT, its
    # rows included unless streamed through a cursor) before Connector/J has MySQL cancel it
    # (KILL QUERY). socket: silence on an open connection, i.e. a server or network gone
    # without closing it; above the query timeout, so a slow but live statement is cancelled
    # on the server rather than abandoned there by a client that hung up.
    connect_timeout: int = CONNECT_TIMEOUT_S
    query_timeout: int = QUERY_TIMEOUT_S
    socket_timeout: int = QUERY_TIMEOUT_S + SOCKET_MARGIN_S

    @property
    def read_host(self) -> str:
        return self.read_replica or self.host

    @property
    def jdbc_url(self) -> str:
        # No credentials in the URL: they travel as connection properties.
        return (f"jdbc:mysql://{self.read_host}:{self.port}/{self.database}"
                f"?sslMode={self.ssl_mode}&connectTimeout={self.connect_timeout * 1000}"
                f"&socketTimeout={self.socket_timeout * 1000}")

    def setting(self, key: str) -> str:
        """The variable that sets `key` (e.g. QUERY_TIMEOUT) of this source."""
        return PREFIX + mysql_key(self.source, key)


@dataclass(frozen=True)
class TrinoSettings:
    host: str
    port: int
    user: str
    http_scheme: str = "http"
    password: str = field(default="", repr=False)
    jwt: str = field(default="", repr=False)
    # PEM file of the CA (or self-signed certificate) to trust over https; "" = the system's
    ca_bundle: str = ""
    # e.g. "tpch.lineitem=tpch.tiny.lineitem,tpch.orders=tpch.tiny.orders"
    table_map: str = ""
    # per-table sample key, e.g. "tpch.lineitem=l_orderkey,tpch.orders=o_orderkey"
    sample_keys: str = ""
    # how MySQL-store inputs are read with --source trino: "jdbc" (direct) or "trino"
    mysql_via: str = "jdbc"


@dataclass(frozen=True)
class Settings:
    home: Path
    var: Path
    warehouse: Path
    jars: Path
    mysql: MysqlSettings
    trino: TrinoSettings
    # Production tables live under lake_root/<database>/<table>; a qa branch's under
    # qa_root/<branch-slug>/<database>/<table>.
    lake_root: str = ""
    qa_root: str = ""
    aws_region: str = ""
    # Every PYSPARK_JOBS_* value (environment over profile), for the MySQL sources.
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    s3_endpoint: str = ""
    artifact_store: str = ""
    jdbc_partitions: int = 4
    jdbc_fetch_size: int = 10_000
    # Local runs only (a cluster sizes its own driver): broadcast joins at SF1 need more than 1g.
    driver_memory: str = "4g"
    # Local runs only: options for the driver's (and local-cluster executors') JVM, e.g. the test
    # suite's "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" for many short runs on few cores.
    java_options: str = ""
    metastore_uri: str = f"thrift://127.0.0.1:{METASTORE_PORT}"

    @property
    def mysql_connector_jar(self) -> Path:
        return self.jars / MYSQL_CONNECTOR_JAR

    @property
    def spark_conf_dir(self) -> Path:
        return self.var / "spark-conf"

    def mysql_source(self, source: str = DEFAULT_SOURCE) -> MysqlSettings:
        """The MySQL source a contract names (`mysql` or `mysql:<source>`), its secret read if it has one."""
        from common.errors import ConfigError

        def setting(key: str) -> str:
            return PREFIX + mysql_key(source, key)

        def get(key: str) -> str:
            return self.values.get(setting(key), "")

        if get("SECRET_ID"):
            from common.secrets import read_secret

            secret = read_secret(get("SECRET_ID"), region=self.aws_region, setting=setting("SECRET_ID"))
            base = {"host": secret.get("host"), "port": secret.get("port") or 3306, "database": secret.get("dbname"),
                    "user": secret.get("username"), "password": secret.get("password")}
            origin = f"secret {get('SECRET_ID')!r} ({setting('SECRET_ID')})"
        elif source == DEFAULT_SOURCE:
            m = self.mysql
            base = {"host": m.host, "port": m.port, "database": m.database, "user": m.user, "password": m.password}
            origin = f"{PREFIX}MYSQL_* settings"
        else:
            base = dict.fromkeys(("host", "port", "database", "user", "password"))
            origin = f"{setting('HOST')}, {setting('USER')}, {setting('PASSWORD')}"
        values = {name: get(name.upper()) or base[name] for name in base}
        missing = [name for name in ("host", "database", "user", "password") if not values[name]]
        if missing:
            raise ConfigError(
                f"MySQL source {source!r}: no {', '.join(missing)} in {origin}; set {setting('SECRET_ID')} to a "
                f"Secrets Manager secret holding host, port, dbname, username and password, or the deployment's "
                f"[<deployment>.mysql.{source}] section"
            )
        ssl_mode = (get("SSL_MODE") or "DISABLED").upper()
        if ssl_mode not in SSL_MODES:
            raise ConfigError(f"{setting('SSL_MODE')}={ssl_mode!r}: use one of {', '.join(SSL_MODES)}")
        m = self.mysql
        defaults = ((m.connect_timeout, m.query_timeout, m.socket_timeout) if source == DEFAULT_SOURCE
                    else (CONNECT_TIMEOUT_S, QUERY_TIMEOUT_S, 0))
        return MysqlSettings(
            host=str(values["host"]), port=int(values["port"] or 3306), database=str(values["database"]),
            user=str(values["user"]), password=str(values["password"]), ssl_mode=ssl_mode,
            read_replica=get("READ_REPLICA"), source=source,
            **_timeouts(get, setting, defaults),
        )


def _timeouts(get: Callable[[str], str], setting: Callable[[str], str], defaults: tuple[int, int, int]) -> dict[str, int]:
    """A source's timeouts in seconds, each a whole number above 0; an unset socket timeout
    follows the query timeout (a 0 default), an unset other one keeps its default."""
    from common.errors import ConfigError

    seconds = {}
    for key, default in zip(("CONNECT_TIMEOUT", "QUERY_TIMEOUT", "SOCKET_TIMEOUT"), defaults):
        text = get(key).strip()
        if not text:
            seconds[key] = default or seconds["QUERY_TIMEOUT"] + SOCKET_MARGIN_S
            continue
        if not (text.isascii() and text.isdigit()) or int(text) == 0:
            raise ConfigError(f"{setting(key)}={text!r}: give a whole number of seconds above 0")
        seconds[key] = int(text)
    return {"connect_timeout": seconds["CONNECT_TIMEOUT"], "query_timeout": seconds["QUERY_TIMEOUT"],
            "socket_timeout": seconds["SOCKET_TIMEOUT"]}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get(PREFIX + "HOME") or Path.cwd()).resolve()
    var = Path(env.get(PREFIX + "VAR") or home / "var").resolve()
    profile = read_profile(Path(env.get(PREFIX + "PROFILE") or var / "credentials.env"))

    def get(key: str, default: str = "") -> str:
        return env.get(PREFIX + key) or profile.get(PREFIX + key) or default

    https = get("TRINO_HTTP_SCHEME", "http") == "https"

    def get_trino(key: str, default: str = "") -> str:
        """TRINO_<key>, or with https TRINO_HTTPS_<key> first; the environment beats the profile."""
        keys = [f"TRINO_HTTPS_{key}", f"TRINO_{key}"] if https else [f"TRINO_{key}"]
        found = (source.get(PREFIX + k) for source in (env, profile) for k in keys)
        return next(filter(None, found), default)

    mysql = MysqlSettings(
        host=get("MYSQL_HOST", "127.0.0.1"),
        port=int(get("MYSQL_PORT", "13306")),
        database=get("MYSQL_DATABASE", "tpch"),
        user=get("MYSQL_USER", "pyspark_jobs"),
        password=get("MYSQL_PASSWORD"),
        ssl_mode=get("MYSQL_SSL_MODE", "DISABLED").upper(),  # checked by mysql_source()
        read_replica=get("MYSQL_READ_REPLICA"),
        **_timeouts(lambda key: get("MYSQL_" + key), lambda key: f"{PREFIX}MYSQL_{key}", (CONNECT_TIMEOUT_S, QUERY_TIMEOUT_S, 0)),
    )
    lake_root = get("LAKE_ROOT", (var / "lake").as_uri()).rstrip("/")
    qa_root = get("QA_ROOT", f"{lake_root}/_qa").rstrip("/")
    for key, uri in (("LAKE_ROOT", lake_root), ("QA_ROOT", qa_root)):
        if not uri.startswith(LAKE_SCHEMES) or uri in LAKE_SCHEMES:
            from common.errors import ConfigError

            raise ConfigError(
                f"{PREFIX}{key}={uri!r} is not a lake root: use an s3://bucket/prefix or file:///path URI "
                "(the deployment's lake_root / qa_root)"
            )
    trino = TrinoSettings(
        host=get("TRINO_HOST", "127.0.0.1"),
        port=int(get_trino("PORT", "18443" if https else "18080")),
        user=get("TRINO_USER", "pyspark_jobs"),
        http_scheme=get("TRINO_HTTP_SCHEME", "http"),
        password=get_trino("PASSWORD"),
        jwt=get("TRINO_JWT"),
        ca_bundle=get("TRINO_CA_BUNDLE"),
        # Where the lake is on S3, Trino's `lake` catalog (production's, or the local stack's)
        # reads every lake table; a laptop's lake on disk is out of its reach, so TPC-H comes
        # from Trino's generator there (docs/TRINO.md).
        table_map=get("TRINO_TABLES", LAKE_TABLE_MAP if lake_root.startswith(("s3://", "s3a://")) else "tpch.*=tpch.tiny.*"),
        sample_keys=get("TRINO_SAMPLE_KEYS"),
        mysql_via=get("TRINO_MYSQL", "jdbc"),
    )
    return Settings(
        home=home,
        var=var,
        warehouse=Path(get("WAREHOUSE", str(var / "warehouse"))),
        jars=Path(get("JARS", str(var / "cache" / "jars"))),
        mysql=mysql,
        trino=trino,
        s3_endpoint=get("S3_ENDPOINT"),
        artifact_store=get("ARTIFACT_STORE", str(var / "artifacts")),
        jdbc_partitions=int(get("JDBC_PARTITIONS", "4")),
        jdbc_fetch_size=int(get("JDBC_FETCH_SIZE", "10000")),
        driver_memory=get("DRIVER_MEMORY", "4g"),
        java_options=get("JAVA_OPTIONS", ""),
        metastore_uri=get("METASTORE_URI", f"thrift://127.0.0.1:{get('METASTORE_PORT', METASTORE_PORT)}"),
        lake_root=lake_root,
        qa_root=qa_root,
        aws_region=get("AWS_REGION"),
        values={k: v for source in (profile, env) for k, v in source.items() if k.startswith(PREFIX) and v},
    )
