"""The CI pipeline only calls make targets that exist, in the documented order."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / ".circleci" / "config.yml").read_text())


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE)}


def run_commands(steps: list) -> list[str]:
    """Every `run` step's command, in the steps and in the reusable commands they call."""
    found = []
    for step in steps:
        if isinstance(step, dict) and "run" in step:
            run = step["run"]
            found.append(run["command"] if isinstance(run, dict) else run)
        elif isinstance(step, str) and step in CONFIG.get("commands", {}):
            found += run_commands(CONFIG["commands"][step]["steps"])
    return found


def all_run_commands() -> dict[str, list[str]]:
    return {name: run_commands(job["steps"]) for name, job in CONFIG["jobs"].items()}


def test_every_step_is_a_make_target_that_exists():
    targets = make_targets()
    commands = [cmd for cmds in all_run_commands().values() for cmd in cmds]
    assert commands
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "make", f"CI step is not a make target: {command!r}"
        named = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        assert named, command
        missing = [t for t in named if t not in targets]
        assert not missing, f"{command!r} names targets missing from the Makefile: {missing}"


def test_each_stage_calls_its_target():
    commands = all_run_commands()
    for job, target in [("lint", "make lint"), ("check", "make check"), ("test", "make test"),
                        ("package", "make package"), ("publish", "make publish")]:
        assert target in commands[job], job
    assert "make publish PROD=1" in commands["publish-prod"]


def _workflow_jobs() -> dict[str, dict]:
    (workflow,) = CONFIG["workflows"].values()
    jobs = {}
    for entry in workflow["jobs"]:
        name, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        jobs[name] = options or {}
    return jobs


def test_the_stages_run_in_order_on_every_branch():
    jobs = _workflow_jobs()
    order = ["lint", "check", "test", "package", "publish"]
    for before, after in itertools.pairwise(order):
        assert before in jobs[after].get("requires", []), f"{after} must require {before}"
    for name in order:
        assert "filters" not in jobs[name], f"{name} must run on every branch"


def test_production_is_published_from_main_only():
    prod = _workflow_jobs()["publish-prod"]
    assert prod["filters"]["branches"]["only"] == "main"
    assert "publish" in prod["requires"]


def test_a_branch_stores_its_data_diff_as_a_build_artifact():
    jobs = _workflow_jobs()
    assert "publish" in jobs["qa-diff"]["requires"]
    assert jobs["qa-diff"]["filters"]["branches"]["ignore"] == "main"
    steps = CONFIG["jobs"]["qa-diff"]["steps"]
    assert "make qa-diff" in run_commands(steps)
    stored = [s["store_artifacts"]["path"] for s in steps if isinstance(s, dict) and "store_artifacts" in s]
    assert stored == ["dist/qa-diff"]
