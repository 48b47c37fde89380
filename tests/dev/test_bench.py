"""dev/bench.py keeps BENCHMARKS.md whole: a partial run replaces only the sections it measured."""

from __future__ import annotations

from tests.helpers import load_dev_script

bench = load_dev_script("bench")

EXISTING = """# Benchmarks

old header

## 1. Shared intermediate at SF1

Measured earlier.

| a |
|---|

## 2. TPC-H at SF1

old table

## Reading these numbers

Written by hand.
"""


def test_a_partial_run_replaces_its_section_and_keeps_the_others(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(EXISTING)
    sections = bench.read_sections(path)
    sections[bench._key("## 2. TPC-H at SF10")] = ["## 2. TPC-H at SF10", "", "new table"]
    sections[bench._key("## 6. Parse time")] = ["## 6. Parse time", "", "0.05 s"]
    bench.write_sections(path, sections)
    text = path.read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. Shared intermediate at SF1", "## 2. TPC-H at SF10", "## 6. Parse time",
                        "## Reading these numbers"]
    assert "Measured earlier." in text and "Written by hand." in text and "new table" in text
    assert "old table" not in text and "old header" not in text
