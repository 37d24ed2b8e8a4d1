"""Reports of every bench tool: text tables, the run's conditions, the JSON results file.

`format_table` is the runner's table; `text_table`, `Conditions` (load averages and the Python
calibration around a run), `conditions_lines` and `write_json`/`results_path` serve
`bench.sla_sweep` and `bench.webhooks` too.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import calibrate

RESULTS_DIR = Path(__file__).resolve().parent / "results"

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
    out = text_table(rows, right={i for i, (_, align) in enumerate(COLUMNS) if align == ">"})

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

    conditions = conditions_lines(results)
    if conditions:
        out += ["", *conditions]

    rss = results.get("peak_rss_kb") or {}
    if rss:
        out.append("\nPeak RSS (VmHWM):")
        for name, kb in rss.items():
            out.append(f"  {name:<30} {'-' if kb is None else f'{kb / 1024:.1f} MiB'}")
    return "\n".join(out)


def text_table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows of cells as aligned lines (header, a rule of dashes, the rest); columns in `right`
    are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(cells)
        ).rstrip()

    return [line(rows[0]), line(["-" * w for w in widths]), *(line(r) for r in rows[1:])]


class Conditions:
    """What else a run's numbers depend on: the load averages before and after, and how fast this
    machine runs Python (`bench/calibrate.py`, measured at the start: machines of one kind
    differ up to 3x, so compare runs together with it)."""

    def __init__(self, calibrate_python: bool = True) -> None:
        self.started_at = datetime.now(UTC)
        self.load_before = os.getloadavg()
        self.calibration_ms = calibrate.python_ms() if calibrate_python else None

    def results(self) -> dict[str, Any]:
        """`started_at`, `finished_at`, `cpus`, `load_average` and `python_calibration_ms`, now."""
        return {
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "load_average": {
                "before": [round(v, 2) for v in self.load_before],
                "after": [round(v, 2) for v in os.getloadavg()],
            },
            "python_calibration_ms": self.calibration_ms,
        }


def conditions_lines(results: dict[str, Any]) -> list[str]:
    """The load-average and calibration lines of a report (nothing for what was not recorded)."""
    out = []
    load = results.get("load_average")
    if load:
        before, after = (" ".join(f"{v:.2f}" for v in load[key]) for key in ("before", "after"))
        out.append(f"Load average (1/5/15 min) on {results.get('cpus')} CPUs: before {before}, after {after}")
    calibration = results.get("python_calibration_ms")
    if calibration:
        out.append(
            f"Python speed: the calibration workload (bench/calibrate.py) took {calibration} ms; "
            "compare runs together with it"
        )
    return out


def results_path(prefix: str = "") -> Path:
    """The default JSON file of a run: bench/results/<prefix><UTC timestamp>.json."""
    return RESULTS_DIR / f"{prefix}{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


def write_json(results: dict[str, Any], path: Path | None = None, prefix: str = "") -> Path:
    """Write the results as indented JSON (to `path`, or `results_path(prefix)`), creating the
    folder; returns the path."""
    path = path or results_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path
