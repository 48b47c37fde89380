"""Start, stop and check the local services on loopback: MariaDB, Trino, moto, the Hive
metastore and YARN (a ResourceManager and a NodeManager).

Usage: dev/services.sh up|down|status [mariadb|trino|moto|metastore|yarn-rm|yarn-nm ...]

Everything lives under $PYSPARK_JOBS_VAR (default ./var): pid files in var/<service>/,
logs in var/log/<service>.log, the project's generated passwords in var/credentials.env.
Trino serves plain HTTP without a password and, on a second port, HTTPS with one (a
self-signed certificate made by the JDK's keytool at every start, a password file).
`up` starts what is stopped and leaves what is healthy; if a service it started does not
become healthy, it stops everything it started, so nothing is left half-started. A service
starts once those it requires are healthy (the metastore after MariaDB, the NodeManager after
the ResourceManager), the others all at once; `up some` includes what `some` requires.

The production shape (docs/PRODUCTION.md): moto serves S3 (bucket pyspark-jobs-lake, the lake,
and pyspark-jobs-artifacts) and Secrets Manager (pyspark-jobs/local/mysql/tpch, MariaDB's
login in the RDS secret format), provisioned again at every `up` since moto keeps them in
memory; the metastore is Hive's thrift service from pyspark's own Hive jars on MariaDB's
`metastore` database (its password in var/metastore/conf, mode 600); YARN runs Maven Central's
Hadoop 3.3.4 server jars; Trino's `lake` catalog reads the metastore's tables from S3, its `glue`
catalog the Iceberg tables in moto's Glue Data Catalog. `up` also
writes the cluster's own configuration, var/cluster/conf (dev/cluster.py), which the YARN
daemons read and dev/command_runner.py submits with. Ports: dev/cluster.py's PORTS.
Standard library plus the virtualenv's pymysql, trino and boto3 clients.
"""

from __future__ import annotations

import argparse
import getpass
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster  # noqa: E402 - dev/ is not a package

HOME = Path(os.environ.get("PYSPARK_JOBS_HOME", Path(__file__).resolve().parent.parent))
VAR = Path(os.environ.get("PYSPARK_JOBS_VAR", HOME / "var")).resolve()
LOG_DIR = VAR / "log"
CREDENTIALS = VAR / "credentials.env"
HOST = "127.0.0.1"
DB_USER = "pyspark_jobs"
TRINO_USER = "pyspark_jobs"  # the one Trino user with a password (settings' default user)
TRINO_PASSWORD_KEY = "PYSPARK_JOBS_TRINO_HTTPS_PASSWORD"  # not TRINO_PASSWORD: plain HTTP stays password-free
PBKDF2_ITERATIONS = 100_000  # Trino's file authenticator wants at least 1000
TRINO_VERSION = "476"
TRINO_HOME = VAR / "cache" / f"trino-{TRINO_VERSION}" / f"trino-server-{TRINO_VERSION}"
TRINO_JAVA_HOME = Path(os.environ.get("PYSPARK_JOBS_TRINO_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"))
TRINO_HEAP = os.environ.get("PYSPARK_JOBS_TRINO_HEAP", "2G")
IS_ROOT = os.geteuid() == 0
MYSQL_SECRET_ID = "pyspark-jobs/local/mysql/tpch"
BUCKETS = (cluster.LAKE_BUCKET, "pyspark-jobs-artifacts")
# Guice (YARN) and DataNucleus (Hive) reflect into java.base: Java 17 needs it opened.
JAVA_OPENS = ["--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
              "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED"]


class ServiceError(Exception):
    """A one-line reason naming the cause and the fix."""


def read_credentials() -> dict[str, str]:
    """The project's credentials: passwords generated once, at random, and never printed.

    A key missing from an older file is added, so upgrading keeps the existing passwords."""
    text = CREDENTIALS.read_text() if CREDENTIALS.exists() else ""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    values = {key.strip(): value.strip() for key, value in pairs}
    wanted = {
        "PYSPARK_JOBS_MYSQL_USER": lambda: DB_USER,
        "PYSPARK_JOBS_MYSQL_PASSWORD": lambda: secrets.token_urlsafe(24),
        TRINO_PASSWORD_KEY: lambda: secrets.token_urlsafe(24),
        "PYSPARK_JOBS_TRINO_CA_BUNDLE": lambda: str(Trino.ca_bundle()),
    }
    added = {key: make() for key, make in wanted.items() if key not in values}
    if added:
        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        lines = text.rstrip("\n").splitlines() + [f"{key}={value}" for key, value in added.items()]
        write_private(CREDENTIALS, "\n".join(lines) + "\n")
        values.update(added)
    return values


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only: the mode is set before any secret is written, and
    the file is renamed into place, so a reader never sees it half written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def pbkdf2_entry(user: str, password: str) -> str:
    """A line of Trino's password file: `user:iterations:salt:hash`, hex, PBKDF2WithHmacSHA1
    (what Trino 476's file authenticator checks, with the hash's own length)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, PBKDF2_ITERATIONS, dklen=32)
    return f"{user}:{PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in tail)


class Service:
    name = ""
    port_env = ""
    default_port = 0
    process_marker = ""  # a string of the process's command line, so a reused pid is never ours
    start_timeout = 60.0
    requires: tuple[str, ...] = ()  # services that must be healthy before this one starts

    def __init__(self) -> None:
        self.port = int(os.environ.get(self.port_env, self.default_port))
        self.dir = VAR / self.name
        self.pid_file = self.dir / f"{self.name}.pid"
        self.log = LOG_DIR / f"{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    # -- what each service defines
    def check_installed(self) -> None:
        """Raise ServiceError if a prerequisite is missing."""

    def prepare(self) -> None:
        """Create data directories and configuration before the first start."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def cwd(self) -> Path:
        return self.dir

    def environment(self) -> dict[str, str] | None:
        """The process's environment (None: this one's)."""
        return None

    def ports(self) -> dict[str, int]:
        """Every port the service listens on, by the variable that sets it."""
        return {self.port_env: self.port}

    def ready(self) -> bool:
        """Answers requests (used while starting)."""
        return self.healthy()

    def after_ready(self) -> None:
        """Provision what clients expect (databases, users)."""

    def healthy(self) -> bool:
        raise NotImplementedError

    # -- shared lifecycle
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            return None
        return pid if self.process_marker in cmdline else None

    def preflight(self) -> None:
        self.check_installed()
        for env, port in self.ports().items():
            if not port_free(port):
                raise ServiceError(
                    f"{self.name}: port {HOST}:{port} is already in use by another process; "
                    f"stop that process or set {env} to a free port"
                )

    def start(self) -> None:
        self.prepare()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        with open(self.log, "a") as log:
            log.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name} on {HOST}:{self.port}\n")
            log.flush()
            self.process = subprocess.Popen(
                self.command(), cwd=self.cwd(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, env=self.environment(),
            )
        self.pid_file.write_text(f"{self.process.pid}\n")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self.ready():
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(self.failure(f"exited with code {self.process.returncode} while starting"))
            if self.process is None and self.pid() is None:
                raise ServiceError(self.failure("stopped while being waited for; run 'dev/services.sh up' again"))
            if time.monotonic() > deadline:
                fix = "" if self.process else f"; restart it with 'dev/services.sh down {self.name}' and up"
                raise ServiceError(self.failure(f"not healthy after {self.start_timeout:.0f}s{fix}"))
            time.sleep(1)
        self.after_ready()
        if not self.healthy():
            raise ServiceError(self.failure("started but its health check fails"))

    def failure(self, what: str) -> str:
        return f"{self.name}: {what}; see {self.log}, last lines:\n{log_tail(self.log)}"

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while self.pid() is not None and time.monotonic() < deadline:
            if self.process is not None:
                self.process.poll()  # reap our own child so it does not linger as a zombie
            time.sleep(0.5)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            note = "" if port_free(self.port) else f" (port {self.port} is used by another process)"
            return f"stopped{note}"
        return "healthy" if self.healthy() else "unhealthy"


class MariaDB(Service):
    name = "mariadb"
    port_env, default_port = cluster.PORTS["mariadb"]
    process_marker = "mariadbd"

    def __init__(self) -> None:
        super().__init__()
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"

    @staticmethod
    def binary(name: str) -> str | None:
        return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")

    def check_installed(self) -> None:
        if self.binary("mariadbd") and self.binary("mariadb-install-db"):
            return
        if not IS_ROOT:
            raise ServiceError(
                "mariadb: MariaDB server not installed; run 'sudo apt-get install -y mariadb-server mariadb-client'"
            )
        print("mariadb: installing mariadb-server and mariadb-client with apt-get", flush=True)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with open(LOG_DIR / "apt.log", "a") as log:
            for args in (["apt-get", "update"], ["apt-get", "install", "-y", "mariadb-server", "mariadb-client"]):
                if subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, env=env, check=False).returncode:
                    raise ServiceError(f"mariadb: '{' '.join(args)}' failed; see {LOG_DIR / 'apt.log'}")
        if not (self.binary("mariadbd") and self.binary("mariadb-install-db")):
            raise ServiceError(f"mariadb: mariadbd still missing after apt-get install; see {LOG_DIR / 'apt.log'}")

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.datadir / "mysql").is_dir():
            return
        shutil.rmtree(self.datadir, ignore_errors=True)
        args = [
            self.binary("mariadb-install-db"), "--no-defaults", f"--datadir={self.datadir}",
            "--auth-root-authentication-method=socket", f"--auth-root-socket-user={getpass.getuser()}",
            "--skip-test-db", "--skip-name-resolve",
        ]
        if IS_ROOT:
            args.append("--user=root")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            if subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, check=False).returncode:
                shutil.rmtree(self.datadir, ignore_errors=True)
                raise ServiceError(self.failure("mariadb-install-db failed"))

    def command(self) -> list[str]:
        args = [
            self.binary("mariadbd"), "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", f"--bind-address={HOST}", f"--pid-file={self.pid_file}",
            "--skip-name-resolve",
            "--local-infile=1",  # dev/load_tpch.py bulk-loads with LOAD DATA LOCAL INFILE
            "--innodb-flush-log-at-trx-commit=2",  # a disposable dev instance: speed over durability
        ]
        return args + (["--user=root"] if IS_ROOT else [])

    def admin(self):
        """Root over the unix socket: the admin login needs no password at all."""
        import pymysql

        return pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=3, autocommit=True)

    def ready(self) -> bool:
        import pymysql

        try:
            self.admin().close()
        except (OSError, pymysql.err.MySQLError):
            return False
        return True

    def after_ready(self) -> None:
        password = read_credentials()["PYSPARK_JOBS_MYSQL_PASSWORD"]
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS tpch CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            # Hive metastore indexes exceed the key length limit in utf8mb4.
            cur.execute("CREATE DATABASE IF NOT EXISTS metastore CHARACTER SET latin1")
            cur.execute("USE metastore")
            # Earlier versions created a few of these tables with only the columns a DROP touches;
            # they never hold rows, so they are replaced by the full ones.
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'metastore' "
                        "AND table_name = 'NEXT_LOCK_ID'")
            if not cur.fetchone()[0]:
                for partial in ("HIVE_LOCKS", "TXN_COMPONENTS", "COMPLETED_TXN_COMPONENTS", "COMPACTION_QUEUE",
                                "COMPLETED_COMPACTIONS"):
                    cur.execute(f"DROP TABLE IF EXISTS {partial}")
            sql = (HOME / "dev" / "metastore-txn.sql").read_text()
            code = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
            for statement in filter(str.strip, code.split(";")):
                cur.execute(statement)
            for host in ("127.0.0.1", "localhost"):
                account = f"'{DB_USER}'@'{host}'"
                cur.execute(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY %s", (password,))
                cur.execute(f"ALTER USER {account} IDENTIFIED BY %s", (password,))
                # pj_% are the scratch databases tests create.
                for database in ("tpch", "metastore", r"pj\_%"):
                    cur.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO {account}")

    def healthy(self) -> bool:
        import pymysql

        creds = read_credentials()
        try:
            conn = pymysql.connect(
                host=HOST, port=self.port, user=creds["PYSPARK_JOBS_MYSQL_USER"],
                password=creds["PYSPARK_JOBS_MYSQL_PASSWORD"], database="tpch", connect_timeout=3,
            )
            with conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
        except (OSError, pymysql.err.MySQLError):
            return False
        return True


class Trino(Service):
    name = "trino"
    port_env = "PYSPARK_JOBS_TRINO_PORT"
    default_port = 18080
    https_port_env = "PYSPARK_JOBS_TRINO_HTTPS_PORT"
    default_https_port = 18443
    process_marker = "io.trino.server.TrinoServer"
    start_timeout = 300.0  # generous: a busy 2-core CI machine needs up to 2 minutes

    def __init__(self) -> None:
        super().__init__()
        self.https_port = int(os.environ.get(self.https_port_env, self.default_https_port))
        self.etc = self.dir / "etc"
        self.tls = self.dir / "tls"
        self.java = TRINO_JAVA_HOME / "bin" / "java"

    @staticmethod
    def ca_bundle() -> Path:
        """The server's self-signed certificate (PEM): what HTTPS clients trust."""
        return VAR / "trino" / "tls" / "trino.pem"

    def check_installed(self) -> None:
        if not (TRINO_HOME / "lib").is_dir():
            raise ServiceError(f"trino: Trino {TRINO_VERSION} is not in {TRINO_HOME}; run 'make fetch'")
        if not (TRINO_HOME / "plugin" / "password-authenticators").is_dir():
            raise ServiceError(f"trino: {TRINO_HOME} has no password-authenticators plugin; delete it and run 'make fetch'")
        fix = "install Temurin 25 (package temurin-25-jdk from packages.adoptium.net) or set PYSPARK_JOBS_TRINO_JAVA_HOME"
        if not self.java.exists() or not (TRINO_JAVA_HOME / "bin" / "keytool").exists():
            raise ServiceError(f"trino: Java 25 (a JDK, with keytool) not found at {TRINO_JAVA_HOME}; {fix}")
        version = subprocess.run([str(self.java), "-version"], capture_output=True, text=True, check=False).stderr
        major = re.search(r'version "(\d+)', version)
        if not major or int(major.group(1)) < 24:  # Trino 476 needs Java 24 or newer
            raise ServiceError(f"trino: {self.java} is not Java 25 ({version.splitlines()[0]}); {fix}")

    def ports(self) -> dict[str, int]:
        return {self.port_env: self.port, self.https_port_env: self.https_port}

    def make_keystore(self, password: str) -> Path:
        """A new self-signed key and certificate for 127.0.0.1 (PKCS12), its certificate exported as
        PEM for clients. The keystore password reaches keytool through its environment only."""
        self.tls.mkdir(mode=0o700, parents=True, exist_ok=True)
        keystore, pem = self.tls / "keystore.p12", self.tls / ".trino.pem.tmp"
        keystore.unlink(missing_ok=True)
        pem.unlink(missing_ok=True)
        keytool = str(TRINO_JAVA_HOME / "bin" / "keytool")
        store = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass:env", "PJ_KEYSTORE_PASSWORD"]
        env = {**os.environ, "PJ_KEYSTORE_PASSWORD": password}
        for args in (
            ["-genkeypair", "-alias", "trino", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650",
             "-dname", f"CN={HOST}", "-ext", f"SAN=IP:{HOST},DNS:localhost", *store],
            ["-exportcert", "-rfc", "-alias", "trino", "-file", str(pem), *store],
        ):  # fmt: skip
            done = subprocess.run([keytool, *args], env=env, capture_output=True, text=True, check=False)
            if done.returncode:
                raise ServiceError(f"trino: keytool {args[0]} failed: {(done.stderr or done.stdout).strip()[:300]}")
        keystore.chmod(0o600)
        os.replace(pem, self.ca_bundle())
        return keystore

    def prepare(self) -> None:
        catalogs = self.etc / "catalog"
        catalogs.mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        creds = read_credentials()
        # A fresh keystore password and internal secret at every start: they live in
        # config.properties (mode 600) only, so nothing else has to stay in step with them.
        keystore_password = secrets.token_urlsafe(24)
        keystore = self.make_keystore(keystore_password)
        password_file = self.etc / "password.db"
        write_private(password_file, pbkdf2_entry(TRINO_USER, creds[TRINO_PASSWORD_KEY]) + "\n")
        authenticator = self.etc / "password-authenticator.properties"
        authenticator.write_text(f"password-authenticator.name=file\nfile.password-file={password_file}\n")
        write_private(self.etc / "config.properties", (
            "coordinator=true\n"
            "node-scheduler.include-coordinator=true\n"
            "node.environment=pyspark_jobs\n"
            "node.id=pyspark-jobs-local\n"
            f"node.bind-ip={HOST}\n"
            f"node.internal-address={HOST}\n"
            f"http-server.http.port={self.port}\n"
            f"discovery.uri=http://{HOST}:{self.port}\n"
            f"plugin.dir={TRINO_HOME / 'plugin'}\n"
            # Passwords over HTTPS; plain HTTP keeps taking a user name alone, for local work.
            "http-server.authentication.type=PASSWORD\n"
            "http-server.authentication.allow-insecure-over-http=true\n"
            "http-server.https.enabled=true\n"
            f"http-server.https.port={self.https_port}\n"
            f"http-server.https.keystore.path={keystore}\n"
            f"http-server.https.keystore.key={keystore_password}\n"
            f"internal-communication.shared-secret={secrets.token_urlsafe(32)}\n"
            f"password-authenticator.config-files={authenticator}\n"
        ))
        (catalogs / "tpch.properties").write_text("connector.name=tpch\ntpch.column-naming=STANDARD\n")
        (catalogs / "memory.properties").write_text("connector.name=memory\n")
        (catalogs / "lake.properties").write_text(self.lake_catalog())
        (catalogs / "iceberg.properties").write_text(self.iceberg_catalog())
        (catalogs / "glue.properties").write_text(self.glue_catalog())
        mysql_catalog = catalogs / "mysql.properties"
        if not (TRINO_HOME / "plugin" / "mysql").is_dir():
            print("trino: warning: the mysql plugin was not fetched, so the 'mysql' catalog is not configured",
                  file=sys.stderr)
            mysql_catalog.unlink(missing_ok=True)
            return
        mysql_port = int(os.environ.get(MariaDB.port_env, MariaDB.default_port))
        write_private(mysql_catalog, (
            "connector.name=mysql\n"
            f"connection-url=jdbc:mysql://{HOST}:{mysql_port}\n"
            f"connection-user={creds['PYSPARK_JOBS_MYSQL_USER']}\n"
            f"connection-password={creds['PYSPARK_JOBS_MYSQL_PASSWORD']}\n"
        ))

    @staticmethod
    def lake_catalog() -> str:
        """The hive connector on the metastore service, reading S3 (moto) natively; a query that
        names an Iceberg table there is redirected to the `iceberg` catalog, so `lake.db.table`
        reads either format."""
        return "".join(f"{k}={v}\n" for k, v in {
            "connector.name": "hive",
            "hive.non-managed-table-writes-enabled": "true",
            "hive.iceberg-catalog-name": "iceberg",
            **Trino.lake_storage(),
        }.items())

    @staticmethod
    def iceberg_catalog() -> str:
        """Iceberg's connector on the same metastore and S3: the tables Spark writes as Iceberg."""
        return "".join(f"{k}={v}\n" for k, v in {
            "connector.name": "iceberg",
            "iceberg.catalog.type": "hive_metastore",
            **Trino.lake_storage(),
        }.items())

    @staticmethod
    def glue_catalog() -> str:
        """Iceberg's connector on moto's Glue Data Catalog and S3: the Iceberg tables of a
        `catalog = "glue"` deployment (tests/production/test_glue_catalog.py)."""
        storage = {k: v for k, v in Trino.lake_storage().items() if k != "hive.metastore.uri"}
        return "".join(f"{k}={v}\n" for k, v in {
            "connector.name": "iceberg",
            "iceberg.catalog.type": "glue",
            "hive.metastore.glue.endpoint-url": cluster.s3_endpoint(),
            "hive.metastore.glue.region": cluster.AWS_KEYS["AWS_DEFAULT_REGION"],
            "hive.metastore.glue.aws-access-key": cluster.AWS_KEYS["AWS_ACCESS_KEY_ID"],
            "hive.metastore.glue.aws-secret-key": cluster.AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
            **storage,
        }.items())

    @staticmethod
    def lake_storage() -> dict[str, str]:
        """The metastore and native S3 (moto) settings both lake catalogs share."""
        return {
            "hive.metastore.uri": cluster.metastore_uri(),
            "fs.native-s3.enabled": "true",
            "s3.endpoint": cluster.s3_endpoint(),
            "s3.path-style-access": "true",
            "s3.region": cluster.AWS_KEYS["AWS_DEFAULT_REGION"],
            "s3.aws-access-key": cluster.AWS_KEYS["AWS_ACCESS_KEY_ID"],
            "s3.aws-secret-key": cluster.AWS_KEYS["AWS_SECRET_ACCESS_KEY"],
        }

    def command(self) -> list[str]:
        return [
            str(self.java), f"-Xmx{TRINO_HEAP}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
            "-XX:ReservedCodeCacheSize=256M", "-Djdk.attach.allowAttachSelf=true",
            "-XX:+EnableDynamicAgentLoading", "--enable-native-access=ALL-UNNAMED", "-Dfile.encoding=UTF-8",
            f"-Dconfig={self.etc / 'config.properties'}", f"-Dcatalog.config-dir={self.etc / 'catalog'}",
            "-cp", f"{TRINO_HOME / 'lib'}/*", "io.trino.server.TrinoServer",
        ]

    def cwd(self) -> Path:
        return self.dir / "data"

    def healthy(self) -> bool:
        # /v1/info says "starting": false before the node has announced itself, and queries fail with
        # "nodes is empty" until it has; so a query is the health check, over HTTP and over HTTPS
        # with the password (which also proves the certificate and the password file).
        import requests
        import trino

        https = requests.Session()
        https.trust_env = False  # REQUESTS_CA_BUNDLE would replace the certificate to trust
        https.verify = str(self.ca_bundle())
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/v1/info", timeout=3) as response:
                if b'"starting":false' not in response.read():
                    return False
            plain = trino.dbapi.connect(host=HOST, port=self.port, user="pyspark-jobs-health", request_timeout=10)
            secure = trino.dbapi.connect(
                host=HOST, port=self.https_port, user=TRINO_USER, http_scheme="https", http_session=https,
                auth=trino.auth.BasicAuthentication(TRINO_USER, read_credentials()[TRINO_PASSWORD_KEY]),
                request_timeout=10,
            )
            for conn in (plain, secure):
                cur = conn.cursor()
                cur.execute("SELECT 1")
                if cur.fetchall() != [[1]]:
                    return False
            return True
        except (OSError, requests.exceptions.RequestException, trino.exceptions.Error, trino.exceptions.HttpError):
            return False


class Moto(Service):
    name = "moto"
    port_env, default_port = cluster.PORTS["moto"]
    process_marker = "moto_server"

    def __init__(self) -> None:
        super().__init__()
        self.binary = Path(sys.executable).parent / "moto_server"

    def check_installed(self) -> None:
        if not self.binary.exists():
            raise ServiceError(f"moto: {self.binary} not found; run 'make deps'")

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.binary), "-H", HOST, "-p", str(self.port)]

    def client(self, service: str):  # noqa: ANN201 - a boto3 client
        import boto3

        keys = cluster.AWS_KEYS
        return boto3.client(
            service, endpoint_url=f"http://{HOST}:{self.port}", region_name=keys["AWS_DEFAULT_REGION"],
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"], aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )

    @staticmethod
    def mysql_secret() -> str:
        creds = read_credentials()
        return json.dumps({
            "engine": "mysql", "host": HOST, "port": cluster.port("mariadb"), "dbname": "tpch",
            "username": creds["PYSPARK_JOBS_MYSQL_USER"], "password": creds["PYSPARK_JOBS_MYSQL_PASSWORD"],
        })

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/moto-api/", timeout=3) as response:
                return response.status == 200
        except OSError:
            return False

    def after_ready(self) -> None:
        """The buckets and the secret, made again if missing (moto keeps them in memory only)."""
        s3, secrets_manager = self.client("s3"), self.client("secretsmanager")
        existing = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
        for bucket in set(BUCKETS) - existing:
            s3.create_bucket(Bucket=bucket)
        value = self.mysql_secret()
        try:
            if secrets_manager.get_secret_value(SecretId=MYSQL_SECRET_ID)["SecretString"] != value:
                secrets_manager.put_secret_value(SecretId=MYSQL_SECRET_ID, SecretString=value)
        except secrets_manager.exceptions.ResourceNotFoundException:
            secrets_manager.create_secret(Name=MYSQL_SECRET_ID, SecretString=value)

    def healthy(self) -> bool:
        if not self.ready():
            return False
        try:
            buckets = {bucket["Name"] for bucket in self.client("s3").list_buckets()["Buckets"]}
            self.client("secretsmanager").describe_secret(SecretId=MYSQL_SECRET_ID)
        except Exception:  # noqa: BLE001 - botocore's errors: not provisioned (moto restarted) or not answering
            return False
        return set(BUCKETS) <= buckets


class JavaService(Service):
    """A JVM daemon on the cluster's Java (Java 17), its classpath from var/cache."""

    heap = "512m"
    main_class = ""

    def classpath(self) -> list[Path | str]:
        raise NotImplementedError

    def check_installed(self) -> None:
        java = cluster.JAVA_HOME / "bin" / "java"
        if not java.exists():
            raise ServiceError(f"{self.name}: Java 17 not found at {java}; install openjdk-17-jdk-headless "
                               "or set PYSPARK_JOBS_JAVA_HOME")
        for entry in self.classpath():
            # Configuration folders under var/ are written when the service starts; only what
            # `make fetch` downloads (and pyspark's jars) must be there already.
            own = str(entry).startswith(str(VAR)) and not str(entry).startswith(str(VAR / "cache"))
            if not own and not glob.glob(str(entry)):
                raise ServiceError(f"{self.name}: {entry} is missing; run 'make fetch'")

    def environment(self) -> dict[str, str]:
        return {**os.environ, "JAVA_HOME": str(cluster.JAVA_HOME)}

    def command(self) -> list[str]:
        return [
            str(cluster.JAVA_HOME / "bin" / "java"), f"-Xmx{self.heap}", *JAVA_OPENS, *self.java_options(),
            "-cp", ":".join(map(str, self.classpath())), self.main_class, *self.arguments(),
        ]

    def java_options(self) -> list[str]:
        return []

    def arguments(self) -> list[str]:
        return []


class Metastore(JavaService):
    """Hive's metastore thrift service (pyspark's Hive 2.3.9 jars) on MariaDB's `metastore` database.

    Hive 2.3 has no bind-address setting: the port listens on every interface."""

    name = "metastore"
    port_env, default_port = cluster.PORTS["metastore"]
    main_class = process_marker = "org.apache.hadoop.hive.metastore.HiveMetaStore"
    requires = ("mariadb",)
    start_timeout = 120.0

    def __init__(self) -> None:
        super().__init__()
        self.conf = self.dir / "conf"

    def classpath(self) -> list[Path | str]:
        jars = VAR / "cache" / "jars"
        pyspark_jars = cluster.pyspark_home() / "jars"
        return [self.conf, pyspark_jars / "*", pyspark_jars / "hive-metastore-*.jar",
                jars / "mysql-connector-java-5.1.49.jar", cluster.S3A_JARS / "*"]

    def prepare(self) -> None:
        self.conf.mkdir(mode=0o700, parents=True, exist_ok=True)
        creds = read_credentials()
        write_private(self.conf / "hive-site.xml", cluster.site_xml({
            "javax.jdo.option.ConnectionURL":
                f"jdbc:mysql://{HOST}:{cluster.port('mariadb')}/metastore?useSSL=false&createDatabaseIfNotExist=false",
            "javax.jdo.option.ConnectionDriverName": "com.mysql.jdbc.Driver",
            "javax.jdo.option.ConnectionUserName": creds["PYSPARK_JOBS_MYSQL_USER"],
            "javax.jdo.option.ConnectionPassword": creds["PYSPARK_JOBS_MYSQL_PASSWORD"],
            # Tables and columns, but no foreign keys: DataNucleus adds those with ALTER TABLE while
            # its own pooled connections hold metadata locks on the referenced tables, and the first
            # start on an empty metastore then waits on itself. Hive never relies on them.
            "datanucleus.schema.autoCreateAll": "false",
            "datanucleus.schema.autoCreateTables": "true",
            "datanucleus.schema.autoCreateColumns": "true",
            "datanucleus.schema.autoCreateConstraints": "false",
            "datanucleus.schema.validateConstraints": "false",
            "hive.metastore.schema.verification": "false",
            "hive.metastore.warehouse.dir": cluster.WAREHOUSE.as_uri(),
            "hive.async.log.enabled": "false",  # its async logger needs a jar pyspark lacks
            # It checks and makes table directories itself, on S3 too (as EMR's does through EMRFS).
            **cluster.s3a_properties(),
        }))

    def java_options(self) -> list[str]:
        return ["-Dhive.root.logger=console", "-Dhive.log.level=INFO"]  # to this service's log, not /tmp

    def arguments(self) -> list[str]:
        return ["-p", str(self.port)]

    def healthy(self) -> bool:
        try:
            return "default" in thrift_get_all_databases(HOST, self.port)
        except OSError:
            return False


def thrift_get_all_databases(host: str, port: int, timeout: float = 5.0) -> list[str]:
    """ThriftHiveMetastore.get_all_databases() over the binary protocol, written out by hand: one
    real metastore call (it reads the database) without a thrift library."""
    name = b"get_all_databases"
    call = struct.pack("!iI", -0x7FFF0000 | 1, len(name)) + name + struct.pack("!i", 1) + b"\x00"  # no arguments
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(call)
        stream = sock.makefile("rb")

        def read(size: int) -> bytes:
            data = stream.read(size)
            if len(data) != size:
                raise OSError("the metastore closed the connection mid-reply")
            return data

        def read_string() -> bytes:
            return read(struct.unpack("!i", read(4))[0])

        (version,) = struct.unpack("!i", read(4))
        read_string(), read(4)  # method name, sequence id
        if version & 0xFF != 2:  # 3: an exception instead of a reply
            raise OSError(f"get_all_databases: no reply (message type {version & 0xFF})")
        if struct.unpack("!bh", read(3)) != (15, 0):  # field 0 (success) as a list, or an error
            raise OSError("get_all_databases: the metastore answered with an error")
        _, size = struct.unpack("!bi", read(5))
        return [read_string().decode() for _ in range(size)]


class YarnDaemon(JavaService):
    """A YARN daemon from the Hadoop 3.3.4 server jars, configured by var/cluster/conf."""

    def classpath(self) -> list[Path | str]:
        return [cluster.CONF_DIR, cluster.YARN_HOME / "lib" / "*"]

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    def java_options(self) -> list[str]:
        return [f"-Dhadoop.log.dir={self.dir}", f"-Dyarn.log.dir={self.dir}"]

    def ports(self) -> dict[str, int]:
        return {cluster.PORTS[name][0]: cluster.port(name) for name in self.port_names}

    def rest(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://{cluster.address('rm-web')}{path}", timeout=3) as response:
            return json.load(response)


class YarnResourceManager(YarnDaemon):
    name = "yarn-rm"
    port_env, default_port = cluster.PORTS["rm"]
    main_class = process_marker = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
    port_names = ("rm", "rm-scheduler", "rm-tracker", "rm-admin", "rm-web")

    def healthy(self) -> bool:
        try:
            return self.rest("/ws/v1/cluster/info")["clusterInfo"]["state"] == "STARTED"
        except (OSError, ValueError, KeyError):
            return False


class YarnNodeManager(YarnDaemon):
    """Healthy once the ResourceManager lists it as RUNNING (some 5 to 15 s after the start)."""

    name = "yarn-nm"
    port_env, default_port = cluster.PORTS["nm"]
    main_class = process_marker = "org.apache.hadoop.yarn.server.nodemanager.NodeManager"
    port_names = ("nm", "nm-localizer", "nm-web")
    requires = ("yarn-rm",)

    def prepare(self) -> None:
        for sub in ("local", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    def healthy(self) -> bool:
        try:
            nodes = (self.rest("/ws/v1/cluster/nodes")["nodes"] or {}).get("node", [])
        except (OSError, ValueError, KeyError):
            return False
        return any(node["state"] == "RUNNING" and node["id"].endswith(f":{self.port}") for node in nodes)


SERVICES = {service.name: service for service in (MariaDB, Trino, Moto, Metastore, YarnResourceManager, YarnNodeManager)}


def up(services: list[Service]) -> None:
    try:
        cluster.write_conf()
    except FileNotFoundError as error:
        raise ServiceError(str(error)) from error
    to_start = []
    for service in services:
        if service.pid() is not None:
            # Running already: maybe still starting or busy. Wait rather than restart, since a
            # restart would drop state other processes rely on (moto keeps everything in memory).
            service.wait_ready()
            print(f"{service.name}: healthy on {HOST}:{service.port}, left running")
            continue
        service.preflight()
        to_start.append(service)
    if not to_start:
        return
    read_credentials()
    started: list[Service] = []
    waiting = {service.name for service in to_start}

    def start_unblocked() -> None:
        for service in to_start:
            if service not in started and not waiting.intersection(service.requires):
                service.start()
                started.append(service)

    try:
        start_unblocked()  # all at once, except those waiting for another
        for service in to_start:  # SERVICES order: a required service comes first
            service.wait_ready()
            took = time.monotonic() - service.started_at
            print(f"{service.name}: started on {HOST}:{service.port}, healthy after {took:.0f}s")
            waiting.discard(service.name)
            start_unblocked()
    except BaseException:
        for service in reversed(started):
            service.stop()
        print(f"stopped what this run started: {', '.join(s.name for s in started)}", file=sys.stderr)
        raise


def down(services: list[Service]) -> None:
    for service in reversed(services):
        was_running = service.pid() is not None
        service.stop()
        print(f"{service.name}: {'stopped' if was_running else 'already stopped'}")


def status(services: list[Service]) -> int:
    states = {service.name: service.status() for service in services}
    for service in services:
        print(f"{service.name:9} {states[service.name]:10} {HOST}:{service.port}")
    return 0 if all(state == "healthy" for state in states.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev/services.sh", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("services", nargs="*", metavar="service", help=f"some of {', '.join(SERVICES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    names = set(args.services or SERVICES)
    if args.action == "up":
        while not names.issuperset(required := {r for name in names for r in SERVICES[name].requires}):
            names |= required
    services = [service() for name, service in SERVICES.items() if name in names]
    try:
        if args.action == "up":
            up(services)
        elif args.action == "down":
            down(services)
        else:
            return status(services)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
