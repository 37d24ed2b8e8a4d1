"""`python -m bench [--scenario NAME ...] [--scale N] [--requests N] [--concurrency N] [--workers 2]
[--keep-db] [--json PATH]`: run the benchmark and print the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.registry import discover
from bench.report import format_table, write_json
from bench.runner import BenchError, Options, run


def _positive(kind: type) -> object:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed a fresh PostgreSQL database, serve it with gunicorn on 127.0.0.1 and measure.",
    )
    parser.add_argument(
        "--scenario", action="append", default=[], metavar="NAME", help="run this scenario (repeatable; default: all)"
    )
    parser.add_argument("--scale", type=_positive(int), help="records to seed (default: each scenario's own)")
    parser.add_argument("--requests", type=_positive(int), help="requests per step (default: each step's own)")
    parser.add_argument("--concurrency", type=_positive(int), help="parallel clients per step (default: each step's)")
    parser.add_argument("--time-limit", type=_positive(float), help="seconds per step (default: each step's own)")
    parser.add_argument("--workers", type=_positive(int), default=2, help="gunicorn workers (default: 2)")
    parser.add_argument(
        "--client",
        choices=["http", "httpx"],
        default="http",
        help="load client: http.client keep-alive (default; a third of httpx's CPU per request) or httpx",
    )
    parser.add_argument("--keep-db", action="store_true", help="reuse the bench database and its seed if it exists")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write results here (default: bench/results/)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and their steps, then exit")
    return parser.parse_args(argv)


def list_scenarios() -> str:
    """The registered scenarios with their default scale and steps."""
    lines = []
    for name, scenario in sorted(discover().items()):
        lines.append(f"{name} (default scale {scenario.default_scale}): {scenario.description}")
        for step in scenario.steps:
            path = step.path if isinstance(step.path, str) else f"<{step.path.__name__}>"
            lines.append(f"  {step.name}: {step.method} {path} x{step.requests} @{step.concurrency}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 when it ran (errors are in the report), 2 when it could not."""
    args = parse_args(argv)
    if args.list:
        print(list_scenarios())
        return 0
    options = Options(
        scenarios=args.scenario,
        scale=args.scale,
        requests=args.requests,
        concurrency=args.concurrency,
        time_limit=args.time_limit,
        workers=args.workers,
        client=args.client,
        keep_db=args.keep_db,
        json_path=args.json,
    )
    try:
        results = run(options)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    print(f"\nresults: {write_json(results, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
