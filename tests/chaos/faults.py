"""What the fault tests of the object store, the metastore and Trino share.

- `StoreProxy`: an HTTP proxy in front of moto that answers a counted share of requests with
  S3's `503 SlowDown` or a TCP reset, or every request with a reset (the store down). It counts
  what it forwarded and what it broke, so a test can show that faults were injected and retried.
- `run_cli`: `pyspark-jobs run` in a process of its own, so settings that point only this run
  somewhere else (its S3 endpoint, its metastore) reach a JVM of its own. Its Spark conf dir is
  its own too: `prepare_local_conf_dir` writes the run's endpoints there, never into the shared
  var/spark-conf that every other local Spark process starts from.
- `require_loopback`: these tests break and restart what they talk to; they refuse anything
  but a service on this machine.
- `busy_executor`: a Spark executor JVM running Python tasks, the one an executor-loss test
  kills: among the test's own processes (local-cluster) or anywhere on the machine for one
  application (YARN's containers are the NodeManager's children);
  `assert_the_event_log_shows_the_recovery` reads Spark's recovery from the loss in the
  application's event log.
"""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from tests.conftest import ROOT

__all__ = ["StoreProxy", "assert_the_event_log_shows_the_recovery", "busy_executor", "recorded_events", "require_loopback",
           "run_cli", "free_port"]

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message><RequestId>chaos</RequestId></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}
# org.apache.spark.executor.CoarseGrainedExecutorBackend; on YARN, YarnCoarseGrainedExecutorBackend
EXECUTOR = "CoarseGrainedExecutorBackend"


def require_loopback(*addresses: str) -> None:
    """Refuse, with the address named, any service address (a URL or a host) not on loopback."""
    for address in addresses:
        host = urlparse(address).hostname if "://" in address else address
        try:
            loopback = ipaddress.ip_address(socket.gethostbyname(host or "")).is_loopback
        except (OSError, ValueError):
            loopback = False
        if not loopback:
            raise RuntimeError(f"chaos tests break and restart services: {address!r} is not on loopback; "
                               "point them only at the local services (dev/services.sh)")


def processes(session: int | None = None) -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process, or of every process in one session."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if session is not None and os.getsid(int(proc.name)) != session:
                continue
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            found[int(proc.name)] = (parent, (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue  # ended while being read
    return found


def busy_executor(*, session: int | None = None, application: str = "") -> tuple[int, str] | None:
    """(pid, executor id) of an executor running Python tasks: it has started pyspark.daemon.
    One in `session`, or anywhere whose command line names `application` (`--app-id`)."""
    procs = processes(session)
    for pid, (_, cmdline) in procs.items():
        busy = any(parent == pid and "pyspark.daemon" in line for parent, line in procs.values())
        if EXECUTOR in cmdline and application in cmdline and busy:
            return pid, re.search(r"--executor-id (\S+)", cmdline).group(1)
    return None


def recorded_events(events: Path) -> list[dict]:
    """The events of the one application whose event log is in `events` (spark.eventLog.dir)."""
    (log,) = events.iterdir()  # one application
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def assert_the_event_log_shows_the_recovery(events: Path, killed: str) -> list[str]:
    """A task lost with executor `killed`, a FetchFailed, a stage resubmitted and completed, and
    an executor added after the loss; returns the executors added after it."""
    recorded = recorded_events(events)
    kinds = [e["Event"].rsplit(".", 1)[-1] for e in recorded]

    def where(kind: str) -> list[tuple[int, dict]]:
        return [(i, e) for i, (k, e) in enumerate(zip(kinds, recorded)) if k == kind]

    added = [(i, e["Executor ID"]) for i, e in where("SparkListenerExecutorAdded")]
    # its first removal: on YARN the event log records the removal twice, with the same reason
    lost_at = min((i for i, e in where("SparkListenerExecutorRemoved") if e["Executor ID"] == killed), default=None)
    assert lost_at is not None, f"executor {killed} was never removed"
    ends = [e for _, e in where("SparkListenerTaskEnd")]
    reasons = {e["Task End Reason"]["Reason"] for e in ends}
    assert "ExecutorLostFailure" in reasons, f"no task lost with executor {killed}: {reasons}"
    assert "FetchFailed" in reasons, f"no task found its shuffle input lost: {reasons}"
    # the lost map output recomputed: a stage run again in a later attempt, and its tasks succeeded
    again = {(e["Stage Info"]["Stage ID"], e["Stage Info"]["Stage Attempt ID"])
             for _, e in where("SparkListenerStageSubmitted") if e["Stage Info"]["Stage Attempt ID"] > 0}
    redone = [e for e in ends if (e["Stage ID"], e["Stage Attempt ID"]) in again
              and e["Task End Reason"]["Reason"] == "Success"]
    assert again and redone, f"no stage was resubmitted and completed after the loss: {sorted(again)}"
    replacements = [executor for i, executor in added if i > lost_at]
    assert replacements, f"no executor was added after executor {killed} was lost: {added}"
    return replacements


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StoreProxy(http.server.ThreadingHTTPServer):
    """Forwards to `upstream`; breaks the first and every `every`-th request of each HTTP method.

    Broken requests alternate between `503 SlowDown` (S3's XML body) and a reset (the request
    read, then the connection closed with SO_LINGER 0). Counting per method makes the faults
    deterministic and puts some on reads (GET, HEAD) and some on writes (PUT, POST, DELETE).
    `down = True`: every request is reset; `down_from = "PUT"`: the first PUT and all after it.
    `recovered` counts faults whose method and path were later forwarded: requests retried
    after a fault and served."""

    daemon_threads = True

    def __init__(self, upstream: str, *, every: int = 0) -> None:
        require_loopback(upstream)
        target = urlparse(upstream)
        self.upstream = (target.hostname, target.port or 80)
        self.every, self.down, self.down_from = every, False, ""
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()  # requests by method
        self.forwarded: Counter[str] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()  # (kind, method)
        self.pending: dict[tuple[str, str], str] = {}  # (method, path) broken and not yet served -> method
        self.recovered: Counter[str] = Counter()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, name="store-proxy", daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def decide(self, method: str, path: str) -> str | None:
        """What to do with this request: None (forward), "slowdown" or "reset"; counted."""
        with self.lock:
            self.seen[method] += 1
            n = self.seen[method]
            self.down = self.down or method == self.down_from
            if self.down:
                kind = "reset"
            elif self.every and (n - 1) % self.every == 0:
                kind = "slowdown" if sum(self.faults.values()) % 2 == 0 else "reset"
            else:
                self.forwarded[method] += 1
                if self.pending.pop((method, path), None):
                    self.recovered[method] += 1
                return None
            self.faults[kind, method] += 1
            self.pending[method, path] = method
            return kind

    def report(self) -> str:
        return (f"requests {dict(self.seen)}, faults {dict(self.faults)}, served after a fault {dict(self.recovered)}")

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the AWS SDK's pooled connections expect
    server: StoreProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        fault = self.server.decide(self.command, self.path)
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "slowdown":
            self._reply(503, [("Content-Type", "application/xml")], b"" if self.command == "HEAD" else SLOW_DOWN,
                        len(SLOW_DOWN))
            return
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"expect"}}
            headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
            length = int(answer.getheader("Content-Length") or len(data)) if self.command == "HEAD" else len(data)
            self._reply(answer.status, kept, data, length)
        finally:
            upstream.close()

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes, length: int) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


def run_cli(args: list[str], var: Path, env: dict[str, str], *, timeout: float = 240, watch=None,  # noqa: ANN001
            preload: str = "") -> subprocess.CompletedProcess:
    """`pyspark-jobs ARGS` in a process of its own, after importing the module `preload` (a test's
    job): its own var dir (its Spark conf dir, run logs, lineage), the shared credentials, jars and
    warehouse, and `env` on top; `watch` is called with each line of its stderr as it comes."""
    from common.settings import load_settings

    shared = load_settings()
    var.mkdir(parents=True, exist_ok=True)
    full = {**os.environ, "PYSPARK_JOBS_HOME": str(ROOT), "PYSPARK_JOBS_VAR": str(var),
            "PYSPARK_JOBS_PROFILE": str(shared.var / "credentials.env"), "PYSPARK_JOBS_JARS": str(shared.jars),
            "PYSPARK_JOBS_WAREHOUSE": str(shared.warehouse), **env}
    for key in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR"):
        full.pop(key, None)  # the test session's own JVM: never this run's
    code = f"import sys, {preload or 'common'}; from common.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    err: list[str] = []
    killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, 9))  # the group this call started
    killer.start()
    try:
        for line in proc.stderr:
            err.append(line)
            if watch:
                watch(line)
        proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=60)
    reader.join(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(out), "".join(err))
