"""The runner: fresh database, migrate, seed, gunicorn, one load process per step, report.

Everything runs on this machine: PostgreSQL and Redis on 127.0.0.1, gunicorn bound to
127.0.0.1 on a free port, and the load generator refuses any other host. Every wait has a
timeout and every step a request count and a time limit, so a run always ends by itself;
gunicorn is stopped in a `finally`, whatever failed. The database, process and report helpers
it uses are the harness's shared ones (`bench.db`, `bench.procs`, `bench.report`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.db import BenchError, database_secret, prepare_database, seeded_scenarios
from bench.procs import (
    ADMIN_USERNAME,
    DEFAULT_SETTINGS,
    MIGRATE_TIMEOUT,
    ROOT,
    Gunicorn,
    child_env,
    git_commit,
    manage,
    run_checked,
    scratch_dir,
    server_env,
)
from bench.registry import Scenario, discover
from bench.report import Conditions

__all__ = ["ADMIN_USERNAME", "BenchError", "Options", "run"]

DEFAULT_DB_NAME = "itsm_bench"
SEED_TIMEOUT = 3600  # a million rows take minutes; this only guards against a hang
LOAD_GRACE = 45  # seconds a load process may overrun its step's time limit before it is killed


@dataclass
class Options:
    """What the command line asked for; None means each scenario's or step's own default."""

    scenarios: list[str] = field(default_factory=list)  # empty: every registered scenario
    scale: int | None = None
    requests: int | None = None
    concurrency: int | None = None
    time_limit: float | None = None
    workers: int = 2
    client: str = "http"  # the load generator's HTTP client: "http" (http.client) or "httpx"
    keep_db: bool = False
    json_path: Path | None = None
    db_name: str = field(default_factory=lambda: os.environ.get("BENCH_DB_NAME", DEFAULT_DB_NAME))


def issue_token(env: dict[str, str]) -> str:
    """A fresh token of the bench administrator (`manage.py issue_token` prints it alone)."""
    out = manage(env, MIGRATE_TIMEOUT, "issue_token", ADMIN_USERNAME)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise BenchError("issue_token printed no key")
    return lines[-1]


def settings_module(scenarios: list[Scenario]) -> str:
    """The Django settings the server runs with: the product's, or the one bench module the
    selected scenarios name (such as the framework ceiling's, which adds its endpoints)."""
    named = sorted({s.settings for s in scenarios if s.settings})
    if len(named) > 1:
        raise BenchError(f"the scenarios ask for different settings ({', '.join(named)}): run them apart")
    return named[0] if named else DEFAULT_SETTINGS


def select_scenarios(names: list[str]) -> list[Scenario]:
    """The scenarios asked for (all registered ones, by name, if none), in the order given."""
    registry = discover()
    if not names:
        return [registry[name] for name in sorted(registry)]
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    return [registry[name] for name in dict.fromkeys(names)]


def warm_up(server: Gunicorn, token: str, scenarios: list[Scenario], per_path: int) -> None:
    """A few requests to each fixed GET path, so the first timed requests meet warm workers."""
    paths = {
        (step.path, step.auth)
        for scenario in scenarios
        for step in scenario.steps
        if isinstance(step.path, str) and step.method.upper() == "GET"
    }
    auth = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        for path, needs_auth in sorted(paths):
            for _ in range(per_path):
                try:
                    client.get(path, headers=auth if needs_auth else {})
                except httpx.HTTPError:
                    pass  # the timed run will report it


def run_load_step(spec: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """Run one step in a separate `python -m bench.load` process; a crash becomes an all-error row."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load"],
            cwd=ROOT,
            env=child_env(),
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=time_limit + LOAD_GRACE,
        )
        if done.returncode != 0:
            raise BenchError(f"exit {done.returncode}: {done.stderr[-2000:]}")
        return json.loads(done.stdout)
    except (subprocess.TimeoutExpired, BenchError, json.JSONDecodeError) as exc:
        return {
            "planned": spec["requests"],
            "completed": 0,
            "errors": spec["requests"],
            "timed_out": True,
            "concurrency": spec["concurrency"],
            "duration_s": None,
            "throughput_rps": None,
            "latency_ms": {"p50": None, "p95": None, "p99": None, "max": None, "mean": None},
            "queries": {"min": None, "median": None, "max": None, "missing": None},
            "statuses": {},
            "error_samples": [{"index": None, "status": "load generator failed", "body": str(exc)[:2000]}],
            "load_peak_rss_kb": None,
        }


def run(options: Options, log: Any = None) -> dict[str, Any]:
    """Do a whole run and return the results (see bench/README.md for their meaning)."""
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    scenarios = select_scenarios(options.scenarios)
    settings = settings_module(scenarios)
    # Other work on the machine skews the numbers: the load averages say how much there was, and
    # the calibration how fast this machine runs Python (machines of one kind differ up to 3x).
    conditions = Conditions()

    with scratch_dir() as scratch:
        kept = prepare_database(options.db_name, options.keep_db)
        env = server_env(options.db_name, database_secret(options.db_name), settings=settings)
        say(f"database {options.db_name}: {'kept' if kept else 'created'}; settings {settings}; migrating")
        manage(env, MIGRATE_TIMEOUT, "migrate", "--noinput")
        if any(s.static_files for s in scenarios):
            say("collecting static files (the admin pages need their manifest with DEBUG=false)")
            manage(env, MIGRATE_TIMEOUT, "collectstatic", "--noinput")

        # Seed what a kept database does not already hold.
        previous = seeded_scenarios(options.db_name) if kept else {}
        scales = {s.name: options.scale or s.default_scale for s in scenarios}
        to_seed = [s for s in scenarios if s.name not in previous]
        for name in (s.name for s in scenarios if s.name in previous):
            if previous[name]["scale"] != scales[name]:
                say(f"{name}: kept database holds scale {previous[name]['scale']}, not {scales[name]}; reusing it")
        say("seeding " + (", ".join(f"{s.name} (scale {scales[s.name]})" for s in to_seed) or "nothing"))
        seed_out = scratch / "seed.json"
        run_checked(
            [sys.executable, "-m", "bench.seed", f"--admin={ADMIN_USERNAME}", f"--out={seed_out}"]
            + [f"{s.name}:{scales[s.name]}" for s in to_seed],
            env,
            SEED_TIMEOUT,
            "seeding",
        )
        seeded = {**previous, **json.loads(seed_out.read_text())}
        token = issue_token(env)

        server = Gunicorn(env, options.workers, scratch / "gunicorn.log")
        steps: list[dict[str, Any]] = []
        rss: dict[str, int | None] = {}
        try:
            server.start()
            server.wait_ready()
            say(f"gunicorn up at {server.base_url} with {options.workers} workers; warming up")
            warm_up(server, token, scenarios, per_path=2 * options.workers)
            for scenario in scenarios:
                for step in scenario.steps:
                    spec = {
                        "scenario": scenario.name,
                        "step": step.name,
                        "base_url": server.base_url,
                        "token": token,
                        "requests": (options.requests if step.scalable else None) or step.requests,
                        "concurrency": options.concurrency or step.concurrency,
                        "client": options.client,
                        "time_limit": options.time_limit or step.time_limit,
                        "scale": seeded[scenario.name]["scale"],
                        "seed_data": seeded[scenario.name]["data"],
                    }
                    say(
                        f"{scenario.name}/{step.name}: {spec['requests']} requests at concurrency {spec['concurrency']}"
                    )
                    result = run_load_step(spec, spec["time_limit"])
                    path = step.path if isinstance(step.path, str) else f"<{step.path.__name__}>"
                    steps.append(
                        {"scenario": scenario.name, "step": step.name, "method": step.method, "path": path} | result
                    )
            rss = server.peak_rss()
        finally:
            server.stop()
        if server.process is not None and server.process.returncode not in (0, None):
            say(f"gunicorn exited with {server.process.returncode}; log tail:\n{server.log_tail()}")

    load_peaks = [s["load_peak_rss_kb"] for s in steps if s.get("load_peak_rss_kb")]
    rss["load generator (max of steps)"] = max(load_peaks) if load_peaks else None
    options_dict = asdict(options) | {"json_path": str(options.json_path) if options.json_path else None}
    return {
        **conditions.results(),
        "git_commit": git_commit(),
        "options": options_dict,
        "database": options.db_name,
        "settings": settings,
        "scenarios": [
            {
                "name": s.name,
                "scale": seeded[s.name]["scale"],
                "seconds": seeded[s.name]["seconds"],
                "reused": s.name in previous,
            }
            for s in scenarios
        ],
        "steps": steps,
        "peak_rss_kb": rss,
    }
