"""A data diff three ways: a terminal table, Markdown for a pull request, JSON for tools.

Each takes a list of `DiffReport`s (one per output of a job) and the sides' names; the text
and Markdown say first whether anything differs, then per table only what does.
"""

from __future__ import annotations

import json
from typing import Iterable

from common.diff import DiffReport

__all__ = ["render_json", "render_markdown", "render_text"]

FORMATS = ("text", "markdown", "json")


def _value(value: object) -> str:
    return "null" if value is None else str(value)


def _key(example: dict) -> str:
    fields = example.get("key") or example.get("row") or {}
    return ", ".join(f"{k}={_value(v)}" for k, v in fields.items())


def _verdict(report: DiffReport) -> str:
    return "identical" if report.equal else "DIFFERENT"


def _kind(report: DiffReport) -> str:
    return f"key ({', '.join(report.key)})" if report.keyed else "multiset (no primary key)"


def _one_side(report: DiffReport) -> list[tuple[str, int, list[dict]]]:
    noun = "key(s)" if report.keyed else "row(s)"
    return [
        (f"{noun} only in {report.left}", report.only_left, report.only_left_examples),
        (f"{noun} only in {report.right}", report.only_right, report.only_right_examples),
    ]


def _example(report: DiffReport, example: dict) -> str:
    if "row" in example:
        return f"({_key(example)}): {example['left']} in {report.left}, {example['right']} in {report.right}"
    return f"({_key(example)})"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def render_text(reports: Iterable[DiffReport], *, title: str) -> str:
    reports = list(reports)
    status = "identical" if all(r.equal for r in reports) else "DIFFERENT"
    lines = [f"{title}: {status}"]
    for report in reports:
        lines += ["", f"{report.table}  {_kind(report)}: {_verdict(report)}"]
        lines += _table(
            [
                ("", report.left, report.right),
                ("rows", str(report.left_rows), str(report.right_rows)),
                *[(label, str(count), "") for label, count, _ in _one_side(report)[:1]],
                *[(label, "", str(count)) for label, count, _ in _one_side(report)[1:]],
            ]
        )
        lines += [f"  {note}" for note in (*report.schema, *report.notes)]
        for label, count, examples in _one_side(report):
            lines += [f"  {label}, e.g. {_example(report, e)}" for e in examples if count]
        if report.columns:
            rows = [("column", "type", "differing", "rate", f"example: key: {report.left} -> {report.right}")]
            for diff in report.columns.values():
                first, *rest = diff.examples or [{}]
                change = f"({_key(first)}): {_value(first.get('left'))} -> {_value(first.get('right'))}"
                rows.append((diff.column, diff.type, str(diff.differing), f"{diff.rate:.2%}", change))
                rows += [("", "", "", "", f"({_key(e)}): {_value(e['left'])} -> {_value(e['right'])}") for e in rest]
            lines += ["  " + line for line in _table(rows)]
    return "\n".join(lines)


def render_markdown(reports: Iterable[DiffReport], *, title: str) -> str:
    reports = list(reports)
    status = "no differences" if all(r.equal for r in reports) else "**differs**"
    lines = [f"### {title}: {status}", ""]
    for report in reports:
        lines += [
            f"#### `{report.table}` — {_verdict(report)}",
            "",
            f"Matched on {_kind(report)}.",
            "",
            f"| | {report.left} | {report.right} |",
            "|---|---:|---:|",
            f"| rows | {report.left_rows} | {report.right_rows} |",
            f"| only on this side | {report.only_left} | {report.only_right} |",
            "",
        ]
        lines += [f"- {note}" for note in (*report.schema, *report.notes)]
        for label, count, examples in _one_side(report):
            if count:
                lines.append(f"- {count} {label}, e.g. " + "; ".join(f"`{_example(report, e)}`" for e in examples))
        if report.columns:
            lines += ["", f"| column | type | differing rows | rate | examples ({report.left} → {report.right}) |"]
            lines.append("|---|---|---:|---:|---|")
            for diff in report.columns.values():
                shown = "<br>".join(f"`{_key(e)}`: {_value(e['left'])} → {_value(e['right'])}" for e in diff.examples)
                lines.append(f"| `{diff.column}` | {diff.type} | {diff.differing} | {diff.rate:.2%} | {shown} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_json(reports: Iterable[DiffReport], *, title: str) -> str:
    reports = list(reports)
    document = {"title": title, "equal": all(r.equal for r in reports), "tables": [r.to_dict() for r in reports]}
    return json.dumps(document, indent=2, default=str)


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
