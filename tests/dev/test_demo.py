"""`make demo` tells a short story: a line per phase, the three outputs, where the full log is."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.services, pytest.mark.slow]

DS = "1995-03-15"


def test_the_demo_prints_a_line_per_phase_and_the_outputs_and_logs_the_rest():
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, str(ROOT / "dev" / "demo.py"), "--ds", DS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert len(lines) < 80, done.stdout
    assert [line[:5] for line in lines if re.match(r"\[\d/5\] ", line)] == [f"[{n}/5]" for n in range(1, 6)]
    for table in ("demo.revenue_by_segment", "demo.top_customers", "demo.revenue_by_shipmode"):
        assert any(line.startswith(f"{table}  (ds={DS}: ") for line in lines), table
    assert "DAG run succeeded: 1 task(s) success" in done.stdout
    # Nothing of Airflow's, Spark's or the packaging's own output on the terminal: it is in the log.
    assert not [line for line in lines if re.search(r"\b(INFO|WARN|WARNING|DEBUG)\b", line)]
    log = re.search(r"Full logs: (\S+)", lines[-1]).group(1)
    text = open(log).read()  # noqa: PTH123
    assert "DagRun Finished" in text and "state=success" in text
    assert "SF0.01 already loaded" in text or "SF0.01 loaded in" in text
