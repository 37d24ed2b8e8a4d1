"""The Celery workers of `bench.webhooks`, and the CPU their deliveries cost (from /proc)."""

from __future__ import annotations

import argparse
import ast
import os
from collections import Counter
from pathlib import Path
from typing import Any

from bench.db import BenchError
from bench.procs import ROOT, CeleryWorker, children_cpu_seconds, cpu_seconds, group_members
from bench.webhooks.common import LOG_TAIL
from bench.webhooks.receiver import Receiver


class Workers:
    """The worker processes of a run, started and stopped together."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], scratch: Path) -> None:
        self.args, self.env, self.scratch = args, env, scratch
        self.started = 0
        self.current: list[CeleryWorker] = []
        self.overrides = worker_overrides(args.worker_setting)
        if self.overrides:
            # An experiment without touching the project: a settings module in the scratch folder
            # that extends the real one, for the workers only.
            lines = ["from itsm.settings import *  # noqa: F403", ""]
            lines += [f"{name} = {value!r}" for name, value in self.overrides.items()]
            (scratch / "bench_worker_settings.py").write_text("\n".join(lines) + "\n")
            self.env = {**env, "DJANGO_SETTINGS_MODULE": "bench_worker_settings", "PYTHONPATH": f"{scratch}:{ROOT}"}

    def describe(self) -> str:
        if self.args.pool == "prefork":
            text = f"1 celery worker, prefork pool of {self.args.workers} processes"
        else:
            text = f"{self.args.workers} celery workers, {self.args.threads} threads each"
        if self.args.prefetch_multiplier:
            text += f", prefetch multiplier {self.args.prefetch_multiplier}"
        if self.overrides:
            text += f"; EXPERIMENT, worker settings {self.overrides}"
        return text

    def start(self) -> None:
        self.started += 1
        if self.args.pool == "prefork":
            specs = [("prefork", self.args.workers)]
        else:
            specs = [("threads", self.args.threads)] * self.args.workers
        self.current = [
            CeleryWorker(
                self.env,
                self.scratch / f"worker-{self.started}-{n}.log",
                pool=pool,
                concurrency=concurrency,
                name=f"webhooks{n}",
                prefetch=self.args.prefetch_multiplier,
            )
            for n, (pool, concurrency) in enumerate(specs, start=1)
        ]
        for worker in self.current:  # all first, then wait: they boot side by side
            worker.start()
        for worker in self.current:
            worker.wait_ready()

    def check_alive(self) -> None:
        for worker in self.current:
            if not worker.alive():
                raise BenchError(f"a worker died:\n{worker.log_tail()}")

    def stop(self) -> None:
        for worker in self.current:
            worker.stop()

    def outcomes(self) -> dict[str, int]:
        """What the delivery tasks of the running workers returned, from their logs: `sent`,
        or why a task skipped its row (already sent, locked by another transaction, ...)."""
        counts: Counter[str] = Counter()
        for worker in self.current:
            for line in worker.log_tail(10**9).splitlines():
                if "deliver_notification[" in line and " succeeded in " in line:
                    counts[line.rsplit(": ", 1)[-1].strip("'")] += 1
        return dict(counts.most_common())

    def errors(self) -> list[str]:
        lines = []
        for log in sorted(self.scratch.glob("worker-*.log")):
            text = log.read_text(errors="replace")[-LOG_TAIL:]
            lines += [line for line in text.splitlines() if " ERROR" in line or "Traceback" in line]
        return lines[:5]


def worker_overrides(items: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs as settings; VALUE is a Python literal if it parses as one, else a string."""
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    return overrides


# --- CPU accounting ----------------------------------------------------------------------------------
# The machine is shared: wall-clock rates move with everyone else's load, CPU seconds per delivery
# much less. They are read from /proc (Linux), for the processes of this run only.
def database_backends(db_name: str) -> list[int]:
    """PostgreSQL backends connected to the bench database, this process's own excepted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        return [pid for (pid,) in cursor.fetchall()]


def cpu_snapshot(workers: Workers, receiver: Receiver, db_name: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process of the worker groups, the receiver and the workers'
    PostgreSQL backends (all on this machine: /proc shows the server's processes too)."""
    groups = {
        "workers": [pid for w in workers.current if w.process for pid in group_members(w.process.pid)],
        "receiver": [receiver.process.pid] if receiver.process else [],
        "postgres": database_backends(db_name),
    }
    return {name: {pid: s for pid in pids if (s := cpu_seconds(pid)) is not None} for name, pids in groups.items()}


def postgres_server_cpu_seconds() -> float | None:
    """CPU seconds of the whole PostgreSQL server so far: the postmaster, its live children and
    the children it reaped (short-lived backends end up there). Shared with everyone using the
    server: an upper bound for this run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0]
    try:
        postmaster = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return children_cpu_seconds(postmaster)


def database_sessions(db_name: str) -> int:
    """Sessions (connections) ever opened to the database (pg_stat_database, PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [db_name])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def redis_cpu_seconds(url: str) -> float:
    """CPU seconds of the whole Redis server so far (shared with others: an upper bound for us)."""
    import redis

    info = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], count: int) -> dict[str, Any]:
    """CPU milliseconds per delivery by component between two snapshots, and the rate two idle
    cores could sustain if CPU were the only limit (processes that appeared meanwhile count from 0)."""
    per = {
        name: sum(sec - before.get(name, {}).get(pid, 0.0) for pid, sec in pids.items()) * 1000 / max(count, 1)
        for name, pids in after.items()
    }
    total = sum(per.values())
    cpus = os.cpu_count() or 1
    return {
        "ms_per_delivery": {name: round(ms, 3) for name, ms in per.items()},
        "total_ms": round(total, 3),
        "cpu_bound_ceiling_per_s": round(cpus * 1000 / total, 1) if total else None,
    }
