"""docs/RELIABILITY.md's security figures are what dev/security_figures.py prints for this commit:
a hostile value added to (or removed from) a test's list changes the table, or this test fails."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_documented_table_is_the_scripts_output():
    done = subprocess.run([sys.executable, str(ROOT / "dev" / "security_figures.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.strip()
    assert table.count("\n") >= 10 and "| **all** |" in table
    assert table in (ROOT / "docs" / "RELIABILITY.md").read_text(), (
        "docs/RELIABILITY.md's security figures are out of date; paste the output of "
        f".venv/bin/python dev/security_figures.py:\n{table}")
