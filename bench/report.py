"""Turns a run's results (a JSON-able dict) into the printed table and the JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = [
    ("scenario", "<"),
    ("step", "<"),
    ("reqs", ">"),
    ("errors", ">"),
    ("req/s", ">"),
    ("p50 ms", ">"),
    ("p95 ms", ">"),
    ("p99 ms", ">"),
    ("queries min/med/max", ">"),
]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _queries(queries: dict[str, Any]) -> str:
    if queries.get("min") is None:
        return "-"
    return f"{queries['min']}/{queries['median']}/{queries['max']}"


def step_row(step: dict[str, Any]) -> list[str]:
    """The table cells of one step's result."""
    latency = step["latency_ms"]
    requests = str(step["completed"]) + ("*" if step["timed_out"] else "")
    return [
        step["scenario"],
        step["step"],
        requests,
        str(step["errors"]),
        _num(step["throughput_rps"]),
        _num(latency["p50"]),
        _num(latency["p95"]),
        _num(latency["p99"]),
        _queries(step["queries"]),
    ]


def format_table(results: dict[str, Any]) -> str:
    """The report: one row per step, then error samples, time-limit notes and peak RSS."""
    rows = [[name for name, _ in COLUMNS]] + [step_row(step) for step in results["steps"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if align == "<" else cell.rjust(width)
            for cell, width, (_, align) in zip(cells, widths, COLUMNS, strict=True)
        ).rstrip()

    out = [line(rows[0]), line(["-" * w for w in widths])]
    out += [line(row) for row in rows[1:]]

    for scenario in results["scenarios"]:
        how = "reused" if scenario["reused"] else f"seeded in {scenario['seconds']:.1f} s"
        out.append(f"\n{scenario['name']}: scale {scenario['scale']}, {how}")

    timed_out = [s for s in results["steps"] if s["timed_out"]]
    if timed_out:
        out.append("\n* stopped by its time limit before sending every request:")
        for step in timed_out:
            out.append(f"  {step['scenario']}/{step['step']}: {step['completed']} of {step['planned']}")

    failing = [s for s in results["steps"] if s["errors"]]
    if failing:
        out.append("\nErrors (first few per step):")
        for step in failing:
            statuses = ", ".join(f"{code}: {n}" for code, n in sorted(step["statuses"].items()))
            out.append(f"  {step['scenario']}/{step['step']} (statuses {statuses or 'none'}):")
            for sample in sorted(step["error_samples"], key=lambda s: s.get("index") or 0):
                body = " ".join(str(sample.get("body", "")).split())[:200]
                target = f"{sample.get('method', '')} {sample.get('path', '')}".strip()
                out.append(f"    #{sample.get('index')} {target} -> {sample['status']} {body}".rstrip())

    load = results.get("load_average")
    if load:
        before, after = (" ".join(f"{v:.2f}" for v in load[key]) for key in ("before", "after"))
        out.append(f"\nLoad average (1/5/15 min) on {results.get('cpus')} CPUs: before {before}, after {after}")
    calibration = results.get("python_calibration_ms")
    if calibration:
        out.append(
            f"Python speed: the calibration workload (bench/calibrate.py) took {calibration} ms; "
            "compare runs together with it"
        )

    rss = results.get("peak_rss_kb") or {}
    if rss:
        out.append("\nPeak RSS (VmHWM):")
        for name, kb in rss.items():
            out.append(f"  {name:<30} {'-' if kb is None else f'{kb / 1024:.1f} MiB'}")
    return "\n".join(out)


def write_json(results: dict[str, Any], path: Path) -> Path:
    """Write the results as indented JSON, creating the folder; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
