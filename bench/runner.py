"""The runner: fresh database, migrate, seed, gunicorn, one load process per step, report.

Everything runs on this machine: PostgreSQL and Redis on 127.0.0.1, gunicorn bound to
127.0.0.1 on a free port, and the load generator refuses any other host. Every wait has a
timeout and every step a request count and a time limit, so a run always ends by itself;
gunicorn is stopped in a `finally`, whatever failed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench import calibrate
from bench.load import peak_rss_kb
from bench.registry import Scenario, discover

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DEFAULT_DB_NAME = "itsm_bench"
# The runner drops this database: the name must say it belongs to the bench.
DB_NAME_PATTERN = re.compile(r"^itsm_bench[a-z0-9_]{0,53}$")
BROKER_URL = "redis://127.0.0.1:6379/13"
REDIS_URL = "redis://127.0.0.1:6379/12"
ADMIN_USERNAME = "bench-admin"

MIGRATE_TIMEOUT = 600
SEED_TIMEOUT = 3600  # a million rows take minutes; this only guards against a hang
BOOT_TIMEOUT = 60
LOAD_GRACE = 45  # seconds a load process may overrun its step's time limit before it is killed
# Settings the bench decides; the caller's environment must not leak them into the server.
STRIPPED_ENV = {"ITSM_TESTING", "DEBUG", "EXTRA_MIDDLEWARE", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS"}


class BenchError(RuntimeError):
    """A run cannot go on (database, migrate, seed or server failure); the message says why."""


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


def database_url(db_name: str) -> str:
    """The DATABASE_URL of the bench database."""
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name}"


def prepare_database(db_name: str, keep: bool) -> bool:
    """Create the bench database afresh (DROP + CREATE); with `keep`, reuse it if it exists.

    Returns True when an existing database was kept.
    """
    if not DB_NAME_PATTERN.match(db_name):
        raise BenchError(f"refusing database name {db_name!r}: it must match {DB_NAME_PATTERN.pattern}")
    try:
        conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        raise BenchError(f"cannot reach PostgreSQL at {PG_HOST}:{PG_PORT}: {exc}") from exc
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone() is not None
        if keep and exists:
            return True
        name = sql.Identifier(db_name)
        # FORCE: a previous run killed mid-way may have left connections behind.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return False


def seeded_scenarios(db_name: str) -> dict[str, dict[str, Any]]:
    """What an earlier run seeded into a kept database (the bench_seed table), by scenario."""
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db_name) as conn:
        if conn.execute("SELECT to_regclass('bench_seed')").fetchone()[0] is None:
            return {}
        rows = conn.execute("SELECT scenario, scale, seconds, data FROM bench_seed").fetchall()
    return {name: {"scale": scale, "seconds": seconds, "data": data} for name, scale, seconds, data in rows}


def database_secret(db_name: str) -> str:
    """The SECRET_KEY of a bench database: random when it is created, then kept in it.

    A `--keep-db` run then signs as the run that seeded it did, so what a seed signed (an
    administrator's session for the admin pages) stays valid.
    """
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db_name, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_secret (key text NOT NULL)")
        row = conn.execute("SELECT key FROM bench_secret LIMIT 1").fetchone()
        if row is not None:
            return row[0]
        key = secrets.token_urlsafe(50)
        conn.execute("INSERT INTO bench_secret (key) VALUES (%s)", [key])
        return key


def server_env(db_name: str, secret_key: str | None = None) -> dict[str, str]:
    """A production-like environment for manage.py, the seed process and gunicorn."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    env.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        DEBUG="false",
        SECRET_KEY=secret_key or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url(db_name),
        CELERY_BROKER_URL=BROKER_URL,
        REDIS_URL=REDIS_URL,
        # Throttling would cap the numbers at the configured rate, not at what the server can do.
        API_THROTTLE_RATE="100000000/min",
        ALERT_THROTTLE_RATE="100000000/min",
        EXTRA_MIDDLEWARE="bench.middleware.QueryCountMiddleware",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_checked(args: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    """Run a child process in the project folder; its stdout, or BenchError with its output."""
    try:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


def issue_token(env: dict[str, str]) -> str:
    """A fresh token of the bench administrator (`manage.py issue_token` prints it alone)."""
    out = run_checked([sys.executable, "manage.py", "issue_token", ADMIN_USERNAME], env, MIGRATE_TIMEOUT, "issue_token")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise BenchError("issue_token printed no key")
    return lines[-1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name, which may itself hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


class Gunicorn:
    """A gunicorn serving `itsm.wsgi` on 127.0.0.1:<free port>, logging to a file."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the master (in its own process group, so it can be stopped as a whole)."""
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "itsm.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            # The worker class (and threads) come from gunicorn.conf.py, as in production;
            # GUNICORN_CMD_ARGS in the environment may override them for an experiment.
            "--timeout=60",
            "--graceful-timeout=10",
            "--log-level=warning",
            "--error-logfile=-",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Poll /healthz until it answers 200 (BenchError if the server dies or never answers)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BenchError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def peak_rss(self) -> dict[str, int | None]:
        """VmHWM of the master and of each worker alive now."""
        if self.process is None or self.process.poll() is not None:
            return {}
        rss = {f"gunicorn master ({self.process.pid})": peak_rss_kb(self.process.pid)}
        for n, pid in enumerate(child_pids(self.process.pid), start=1):
            rss[f"gunicorn worker {n} ({pid})"] = peak_rss_kb(pid)
        return rss

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (gunicorn's graceful shutdown), then SIGKILL to the group if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own child's group, by its id
            self.process.wait(timeout=5)


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
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load"],
            cwd=ROOT,
            env=env,
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


def git_commit() -> str | None:
    """The commit the run measured (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@contextmanager
def work_dir() -> Iterator[Path]:
    """A scratch folder for logs and the seed output; kept (and named) only if the run fails."""
    path = Path(tempfile.mkdtemp(prefix="itsm-bench-"))
    try:
        yield path
    except BaseException:
        print(f"bench: logs kept in {path}", file=sys.stderr)
        raise
    else:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def run(options: Options, log: Any = None) -> dict[str, Any]:
    """Do a whole run and return the results (see bench/README.md for their meaning)."""
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    scenarios = select_scenarios(options.scenarios)
    started_at = datetime.now(UTC)
    # Other work on the machine skews the numbers: the load averages say how much there was, and
    # the calibration how fast this machine runs Python (machines of one kind differ up to 3x).
    load_before = os.getloadavg()
    calibration_ms = calibrate.python_ms()

    with work_dir() as scratch:
        kept = prepare_database(options.db_name, options.keep_db)
        env = server_env(options.db_name, database_secret(options.db_name))
        say(f"database {options.db_name}: {'kept' if kept else 'created'}; migrating")
        run_checked([sys.executable, "manage.py", "migrate", "--noinput"], env, MIGRATE_TIMEOUT, "migrate")
        if any(s.static_files for s in scenarios):
            say("collecting static files (the admin pages need their manifest with DEBUG=false)")
            run_checked(
                [sys.executable, "manage.py", "collectstatic", "--noinput"], env, MIGRATE_TIMEOUT, "collectstatic"
            )

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
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "options": options_dict,
        "database": options.db_name,
        "cpus": os.cpu_count(),
        "load_average": {"before": [round(v, 2) for v in load_before], "after": [round(v, 2) for v in os.getloadavg()]},
        "python_calibration_ms": calibration_ms,
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
