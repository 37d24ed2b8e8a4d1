"""`python -m bench.webhooks [--deliveries 10000] [--workers 2] [--keep-db]`: webhook delivery at scale.

Issue 5, item 9: 10,000 webhook deliveries to a local receiver with 2 worker processes, their
throughput (target >= 300/s) and time to drain; and incident creation with the broker down must
keep >= 80 % of its normal throughput, everything created meanwhile being delivered exactly once
when the broker is back.

A run:

1. creates the database `itsm_bench_webhooks` (`--db`; the name must start with `itsm_bench`) and
   migrates it; starts an HTTP receiver on 127.0.0.1 in a process of its own (asyncio, answers
   204, counts requests and distinct `X-ITSM-Delivery` ids per path and checks the signature,
   timestamp and body id of every request) and points two `WebhookEndpoint`s at it.
2. Drain: with no worker running, writes `--deliveries` outbox rows through the real path,
   `communications.services.emit("incident.commented", ...)` (`--batch` emits per transaction;
   each hands its row to the broker after commit, so the messages pile up in the queue), then
   starts the workers and times how long they take until every row is `sent`. Exactly once:
   the receiver saw each delivery id once, and the ids are those of the rows.
3. Broker down: creates `--incidents` incidents per mode through
   `incidents.services.open_incident`, in child processes that alternate between the real broker
   and `--dead-broker` (a loopback port nothing listens on; the shared Redis is never stopped),
   with no worker running, and compares the throughputs. Then the workers deliver what the
   reachable broker was handed, the sweep is published as beat would publish it (every
   `--sweep-interval` s) until the rows written during the outage are sent too, and the receiver
   must have seen every delivery id exactly once.
4. With `--profile N` (default 300), delivers N rows in this process counting their SQL, then
   N under cProfile, and prints where the time of one delivery goes.

Workers: `--workers` processes do deliveries. `--pool prefork` (the default) runs one
`celery -A itsm worker -P prefork --concurrency <workers>`; `--pool threads` runs `<workers>`
separate `celery worker -P threads --concurrency <threads>` processes. All on a private Redis
database (`--broker`, default db 10, refused if it holds anything but Celery's keys, flushed
before and after). Every process gets `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` (the receiver is on
loopback), emails go to Django's dummy backend, digests are off (`NOTIFICATION_DIGEST_THRESHOLD=0`:
one group mailbox receives every incident's email, which storm control would otherwise fold).

The report is printed and written as JSON to `bench/results/webhooks-<timestamp>.json` (or
`--json PATH`). The database is left for inspection (`--drop` drops it at the end). Workers and
the receiver are always stopped, on error and Ctrl-C too; every wait has a time limit.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import cProfile
import hashlib
import hmac
import json
import logging
import os
import pstats
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.runner import (
    MIGRATE_TIMEOUT,
    RESULTS_DIR,
    ROOT,
    BenchError,
    database_secret,
    free_port,
    prepare_database,
    run_checked,
    server_env,
)
from bench.sla_sweep import Worker as _SweepWorker
from bench.sla_sweep import _die_with_parent, _group_members, check_private_broker, drop_database, queue_length

DEFAULT_DB = "itsm_bench_webhooks"
DEFAULT_BROKER = "redis://127.0.0.1:6379/10"
DEFAULT_DEAD_BROKER = "redis://127.0.0.1:6390/0"
ADMIN_USERNAME = "bench-admin"
SERVICE_SLUG = "bench-webhooks"
GROUP_NAME = "Bench Webhooks Desk"
DRAIN_EVENT = "incident.commented"  # phase 1: the drain endpoint listens to this one only
OUTAGE_EVENT = "incident.created"  # phase 2: open_incident emits it once per incident
# Phase 1 subjects are not real incidents: ids far above any incident the run creates, so the
# outbox rows of the two phases can never be confused.
FAKE_ID_BASE = 1_000_000_000

TARGET_RATE = 300.0
TARGET_RATIO = 0.80
POLL_SECONDS = 0.25
SETTLE_SECONDS = 2.0  # after a drain: room for a duplicate delivery to show up at the receiver
RECEIVER_BOOT_TIMEOUT = 20
CREATE_TIMEOUT = 900  # one creation child; a hang guard only
LOG_TAIL = 200_000


def say(message: str) -> None:
    print(f"webhooks: {message}", file=sys.stderr, flush=True)


# --- arguments -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="webhook deliveries to drain (10,000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes doing deliveries (2)")
    parser.add_argument(
        "--pool",
        choices=("prefork", "threads"),
        default="prefork",
        help="prefork: one celery worker, --concurrency WORKERS; threads: WORKERS celery workers (prefork)",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process with --pool threads (4)")
    parser.add_argument(
        "--prefetch-multiplier", type=int, help="celery worker --prefetch-multiplier (default: the settings' 1)"
    )
    parser.add_argument(
        "--worker-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="experiment: a Django setting for the workers only, e.g. CELERY_DB_REUSE_MAX=1000 (repeatable)",
    )
    parser.add_argument("--batch", type=int, default=250, help="emit() calls per transaction when creating (250)")
    parser.add_argument("--incidents", type=int, default=500, help="incidents per broker mode (500; 0 skips)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating creation rounds per mode (4)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed incidents first in each creation child (5)")
    parser.add_argument("--sweep-interval", type=float, default=10.0, help="seconds between published sweeps (10)")
    parser.add_argument(
        "--sweep-grace", type=float, default=5.0, help="NOTIFICATION_SWEEP_GRACE_SECONDS of the workers (5)"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="give up a drain after this many seconds")
    parser.add_argument("--profile", type=int, default=300, metavar="N", help="profile N deliveries in-process (0: no)")
    parser.add_argument("--keep-db", action="store_true", help="reuse the database (its old outbox is emptied)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database name (default {DEFAULT_DB})")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"a private Redis database ({DEFAULT_BROKER})")
    parser.add_argument(
        "--dead-broker", default=DEFAULT_DEAD_BROKER, help=f"a loopback URL nothing listens on ({DEFAULT_DEAD_BROKER})"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="where to write the results")
    args = parser.parse_args(argv)
    if args.deliveries <= 0 or args.workers <= 0 or args.threads <= 0 or args.batch <= 0:
        parser.error("--deliveries, --workers, --threads and --batch must be positive")
    if args.incidents < 0 or args.rounds <= 0 or args.warmup < 0 or args.profile < 0:
        parser.error("--incidents, --warmup and --profile must be >= 0, --rounds > 0")
    for item in args.worker_setting:
        if not re.match(r"^[A-Z][A-Z0-9_]*=.+$", item):
            parser.error(f"--worker-setting {item!r}: expected NAME=VALUE with an upper-case setting name")
    for name in ("broker", "dead_broker"):
        url = getattr(args, name)
        if not re.match(r"^redis://(127\.0\.0\.1|localhost)(:\d+)?/\d+$", url):
            parser.error(f"--{name.replace('_', '-')} must be a loopback redis://127.0.0.1:PORT/DB URL")
    return args


# --- the receiver (its own process) ----------------------------------------------------------------
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
SIGNATURE_MAX_AGE = 300  # seconds; a receiver following API.md refuses older timestamps


class Tally:
    """What one receiver path saw: requests, distinct delivery ids, and failed checks."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.requests = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.bad_signatures = 0
        self.stale_timestamps = 0
        self.id_mismatches = 0
        self.events: Counter[str] = Counter()
        self.first_at: float | None = None
        self.last_at: float | None = None

    def record(self, headers: dict[str, str], body: bytes) -> None:
        """Count one delivery and check it the way a receiver following API.md would."""
        now = time.time()
        self.requests += 1
        self.first_at = self.first_at or now
        self.last_at = now
        delivery = headers.get("x-itsm-delivery", "")
        if delivery in self.ids:
            self.duplicates += 1
        self.ids.add(delivery)
        self.events[headers.get("x-itsm-event", "")] += 1
        # Every request is checked, not a sample: an HMAC of 1 KB costs microseconds.
        timestamp = headers.get("x-itsm-timestamp", "")
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest("sha256=" + mac.hexdigest(), headers.get("x-itsm-signature", "")):
            self.bad_signatures += 1
        if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
            self.stale_timestamps += 1
        try:
            if json.loads(body).get("id") != delivery:
                self.id_mismatches += 1
        except ValueError:
            self.id_mismatches += 1

    def as_dict(self, with_ids: bool) -> dict[str, Any]:
        out = {
            "requests": self.requests,
            "distinct_ids": len(self.ids),
            "duplicates": self.duplicates,
            "bad_signatures": self.bad_signatures,
            "stale_timestamps": self.stale_timestamps,
            "id_mismatches": self.id_mismatches,
            "events": dict(self.events),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }
        if with_ids:
            out["ids"] = sorted(self.ids)
        return out


async def _serve(port: int, secret: bytes, lifetime: float) -> None:
    """HTTP/1.1 with keep-alive, just enough of it: `POST /hook/<name>` is counted and answered
    204, `GET /stats[?ids=1]` returns the tallies as JSON. Stops by itself after `lifetime` s."""
    tallies: dict[str, Tally] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, *_ = [*lines[0].split(" "), "", ""]
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if method == "POST" and target.startswith("/hook/"):
                    tallies.setdefault(target, Tally(secret)).record(headers, body)
                    writer.write(NO_CONTENT)
                elif method == "GET" and target.startswith("/stats"):
                    with_ids = "ids=1" in target
                    payload = json.dumps({path: t.as_dict(with_ids) for path, t in tallies.items()}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                        % len(payload)
                        + payload
                    )
                else:
                    writer.write(NOT_FOUND)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await asyncio.sleep(lifetime)


def receiver_main(argv: list[str]) -> int:
    """`python -m bench.webhooks _receiver --port P --lifetime S` (secret in BENCH_WEBHOOK_SECRET)."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks _receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lifetime", type=float, required=True)
    args = parser.parse_args(argv)
    secret = os.environ["BENCH_WEBHOOK_SECRET"].encode()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(_serve(args.port, secret, args.lifetime))
    return 0


class Receiver:
    """The receiver process, on 127.0.0.1:<free port>; `stats()` reads its tallies."""

    def __init__(self, secret: str, lifetime: float, log_path: Path) -> None:
        self.secret, self.lifetime, self.log_path = secret, lifetime, log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"{self.base_url}/hook/{name}"

    def start(self) -> None:
        args = [sys.executable, "-m", "bench.webhooks", "_receiver", f"--port={self.port}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*args, f"--lifetime={self.lifetime:.0f}"],
                cwd=ROOT,
                env={**os.environ, "BENCH_WEBHOOK_SECRET": self.secret},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + RECEIVER_BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the receiver exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                self.stats()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise BenchError(f"the receiver did not answer within {RECEIVER_BOOT_TIMEOUT} s")

    def stats(self, path: str | None = None, with_ids: bool = False) -> dict[str, Any]:
        """All tallies, or those of one path (zeros if it saw nothing yet)."""
        with httpx.Client(trust_env=False, timeout=10) as client:
            tallies = client.get(f"{self.base_url}/stats" + ("?ids=1" if with_ids else "")).json()
        if path is None:
            return tallies
        return tallies.get(path) or Tally(b"").as_dict(with_ids)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own child's group, by its id
            self.process.wait(timeout=5)


# --- workers -------------------------------------------------------------------------------------
class Worker(_SweepWorker):
    """One `celery -A itsm worker` process group with the pool this run asked for."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, pool: str, concurrency: int, name: str, prefetch: int | None
    ) -> None:
        super().__init__(env, concurrency, log_path)
        self.pool, self.name, self.prefetch = pool, name, prefetch

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "itsm",
            "worker",
            f"--concurrency={self.concurrency}",
            "-P",
            self.pool,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",  # as deployed; it also prints the " ready." line wait_ready needs
            f"--hostname={self.name}-{os.getpid()}@%h",
        ]
        if self.prefetch:
            args.append(f"--prefetch-multiplier={self.prefetch}")
        with open(self.log_path, "ab") as log:
            # Its own session: stopping it reaches the pool processes too, by this group's id.
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )


class Workers:
    """The worker processes of a run, started and stopped together."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], scratch: Path) -> None:
        self.args, self.env, self.scratch = args, env, scratch
        self.started = 0
        self.current: list[Worker] = []
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
            Worker(
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


# --- Django in this process ------------------------------------------------------------------------
def bench_env(db_name: str, broker: str, sweep_grace: float) -> dict[str, str]:
    """The runner's production-like environment on our broker, for this process and every child."""
    env = server_env(db_name, database_secret(db_name))
    env.pop("EXTRA_MIDDLEWARE", None)
    env.pop("REDIS_URL", None)  # local-memory cache: nothing of ours in anyone's Redis db
    env.update(
        CELERY_BROKER_URL=broker,
        EMAIL_URL="dummymail://",
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",  # the receiver listens on loopback (SSRF switch)
        NOTIFICATION_DIGEST_THRESHOLD="0",
        NOTIFICATION_SWEEP_GRACE_SECONDS=str(sweep_grace),
    )
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django here with the environment the workers get."""
    for key in ("ITSM_TESTING", "DEBUG", "EXTRA_MIDDLEWARE", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        os.environ.pop(key, None)
    os.environ.update(env)
    import django

    django.setup()


def reference_data() -> dict[str, Any]:
    """The administrator who opens incidents, and a service routed to a group with a mailbox."""
    from bench.seed import ensure_admin
    from itsm.models import AssignmentGroup, Service

    ensure_admin(ADMIN_USERNAME)
    group, _ = AssignmentGroup.objects.get_or_create(name=GROUP_NAME, defaults={"email": "bench-desk@example.com"})
    service, _ = Service.objects.get_or_create(
        slug=SERVICE_SLUG, defaults={"name": "Bench webhooks", "owner_group": group}
    )
    return {"service": service.pk, "group": group.pk}


def make_endpoint(url: str, event: str, secret: str) -> int:
    """A signed webhook endpoint listening to one event, validated as the admin would."""
    from communications.models import WebhookEndpoint

    endpoint = WebhookEndpoint(url=url, events=[event], secret=secret, description=f"bench {event}")
    endpoint.full_clean()
    endpoint.save()
    return endpoint.pk


def reset_outbox() -> None:
    """A kept database: forget the outbox and endpoints of earlier runs."""
    from django.db import connection

    from communications.models import WebhookEndpoint

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE communications_deliveryattempt, communications_notification CASCADE")
    WebhookEndpoint.objects.update(active=False)


def status_counts(**filters: Any) -> dict[str, int]:
    from django.db.models import Count

    from communications.models import Notification

    rows = Notification.objects.filter(**filters).values("status").annotate(n=Count("id")).order_by("status")
    return {row["status"]: row["n"] for row in rows}


# --- CPU accounting ----------------------------------------------------------------------------------
# The machine is shared: wall-clock rates move with everyone else's load, CPU seconds per delivery
# much less. They are read from /proc (Linux), for the processes of this run only.
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process so far (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


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
        "workers": [pid for w in workers.current if w.process for pid in _group_members(w.process.pid)],
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
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(entry.name) == postmaster:
            total += sum(int(f) for f in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime
        elif int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


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


# --- phase 1: backlog and drain --------------------------------------------------------------------
def _comment(n: int) -> tuple[Any, dict[str, Any]]:
    """The subject and context of one `incident.commented` event (about 1 KB of JSON)."""
    from django.conf import settings

    from communications.services import Subject

    pk = FAKE_ID_BASE + n
    number = f"WHB{n:07d}"
    url = f"{settings.ITSM_SITE_URL.rstrip('/')}/admin/incidents/incident/{pk}/change/"
    subject = Subject("incident", pk, number, f"Benchmark incident {n}", url, priority=3)
    context = {
        "incident": {
            "id": pk,
            "number": number,
            "title": f"Benchmark incident {n}",
            "state": "in_progress",
            "priority": 3,
            "impact": 2,
            "urgency": 2,
            "service": SERVICE_SLUG,
            "assignment_group_name": GROUP_NAME,
            "url": url,
        },
        "comment": {
            "body": f"Update {n}: the mail relay queue is draining; next update in 30 minutes. " * 4,
            "public": True,
            "author": "Bench Agent",
        },
    }
    return subject, context


def create_backlog(count: int, batch: int) -> dict[str, Any]:
    """`count` emits of the drain event, `batch` per transaction; each row is handed to the
    broker after its commit (no worker runs yet, so the messages wait in the queue)."""
    from django.db import transaction

    from communications.services import emit

    started = time.perf_counter()
    for first in range(0, count, batch):
        with transaction.atomic():
            for n in range(first, min(first + batch, count)):
                subject, context = _comment(n)
                emit(DRAIN_EVENT, subject, context)
    seconds = time.perf_counter() - started
    return {"rows": count, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1)}


def wait_until(predicate, timeout: float, workers: Workers | None = None, note: str = "") -> tuple[bool, float]:
    """Poll `predicate()` (returning (done, progress text)) until done or `timeout`; (done, seconds)."""
    started = time.monotonic()
    last_note = started
    while True:
        done, progress = predicate()
        elapsed = time.monotonic() - started
        if done or elapsed > timeout:
            return done, elapsed
        if workers is not None:
            workers.check_alive()
        if note and time.monotonic() - last_note >= 10:
            last_note = time.monotonic()
            say(f"{note}: {progress} after {elapsed:.0f} s")
        time.sleep(POLL_SECONDS)


def drain(args: argparse.Namespace, workers: Workers, receiver: Receiver, endpoint: int) -> dict[str, Any]:
    """Start the workers on the backlog and time them until every row is sent; check exactly once."""
    from django.db.models import Count, Max, Min

    from communications.models import DeliveryAttempt, Notification

    expected = args.deliveries
    rows = Notification.objects.filter(endpoint_id=endpoint)
    queued = queue_length(args.broker)
    progress: list[tuple[float, int]] = []

    boot = time.monotonic()
    workers.start()
    ready = time.monotonic()
    say(f"workers ready after {ready - boot:.1f} s ({workers.describe()}); draining {expected:,} deliveries")
    cpu_before = cpu_snapshot(workers, receiver, args.db)
    shared_before = (redis_cpu_seconds(args.broker), postgres_server_cpu_seconds(), database_sessions(args.db))

    def all_sent() -> tuple[bool, str]:
        sent = rows.filter(status="sent").count()
        progress.append((round(time.monotonic() - ready, 2), sent))
        return sent >= expected, f"{sent:,} of {expected:,} sent"

    drained, seconds = wait_until(all_sent, args.timeout, workers, note="drain")
    cpu = cpu_used(cpu_before, cpu_snapshot(workers, receiver, args.db), expected)
    shared_after = (redis_cpu_seconds(args.broker), postgres_server_cpu_seconds(), database_sessions(args.db))
    cpu["redis_server_ms_upper_bound"] = round((shared_after[0] - shared_before[0]) * 1000 / expected, 3)
    if shared_before[1] is not None and shared_after[1] is not None:
        cpu["postgres_server_ms_upper_bound"] = round((shared_after[1] - shared_before[1]) * 1000 / expected, 3)
    # Celery's Django fixup closes the connection around every task unless CELERY_DB_REUSE_MAX is
    # set: then each delivery opens a session, and its backend's CPU only shows in the server total.
    cpu["postgres_sessions_opened"] = shared_after[2] - shared_before[2]
    time.sleep(SETTLE_SECONDS)
    window = DeliveryAttempt.objects.filter(notification__endpoint_id=endpoint).aggregate(
        first=Min("started_at"), last=Max("finished_at"), n=Count("id")
    )
    active = (window["last"] - window["first"]).total_seconds() if window["first"] else None
    tally = receiver.stats("/hook/drain", with_ids=True)
    delivery_ids = {str(u) for u in rows.values_list("delivery_id", flat=True)}
    attempts = dict(Counter(rows.values_list("attempts", flat=True)))
    result = {
        "rows": rows.count(),
        "queued_messages": queued,
        "worker_boot_s": round(ready - boot, 2),
        "drained": drained,
        "drain_s": round(seconds, 2),  # from "all workers ready" to "the poll saw every row sent"
        "active_s": round(active, 2) if active else None,  # first attempt started -> last finished
        "rate_per_s": round(expected / active, 1) if drained and active else None,
        "rate_from_ready_per_s": round(expected / seconds, 1) if drained and seconds else None,
        "statuses": status_counts(endpoint_id=endpoint),
        "attempts_per_row": {str(k): v for k, v in sorted(attempts.items())},
        "attempt_rows": window["n"],
        "receiver": {k: v for k, v in tally.items() if k != "ids"},
        "receiver_window_s": round(tally["last_at"] - tally["first_at"], 2) if tally["first_at"] else None,
        "ids_match": set(tally.get("ids", [])) == delivery_ids,
        "queue_left": queue_length(args.broker),
        "progress": _thin(progress),
        "cpu": cpu,
        "task_outcomes": workers.outcomes(),
    }
    result["exactly_once"] = (
        result["ids_match"]
        and tally["requests"] == expected
        and tally["distinct_ids"] == expected
        and tally["duplicates"] == 0
        and result["statuses"] == {"sent": expected}
        and result["attempts_per_row"] == {"1": expected}
    )
    result["checks_ok"] = not (tally["bad_signatures"] or tally["stale_timestamps"] or tally["id_mismatches"])
    return result


def _thin(progress: list[tuple[float, int]], every: float = 5.0) -> list[tuple[float, int]]:
    """One progress point per `every` seconds (and the last)."""
    kept: list[tuple[float, int]] = []
    for point in progress:
        if not kept or point[0] - kept[-1][0] >= every:
            kept.append(point)
    if progress and kept[-1] != progress[-1]:
        kept.append(progress[-1])
    return kept


# --- phase 2: creation with the broker up and down -----------------------------------------------------
def create_main(argv: list[str]) -> int:
    """`python -m bench.webhooks _create --count N --warmup W`: open incidents, print JSON timings.

    A child of the run, so that its CELERY_BROKER_URL (the real broker or a dead port) is read
    at start-up exactly as a web process reads it.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks _create")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from incidents.services import open_incident
    from itsm.models import Service

    actor = get_user_model().objects.get(username=ADMIN_USERNAME)
    service = Service.objects.get(slug=SERVICE_SLUG)
    ids = []

    def one(n: int) -> None:
        title = f"Mail relay slow for site {n} ({args.label})"
        ids.append(open_incident(actor=actor, title=title, impact=2, urgency=2, service=service).pk)

    for n in range(args.warmup):  # imports, templates, connections: not what is being compared
        one(n)
    latencies = []
    started = time.perf_counter()
    for n in range(args.count):
        before = time.perf_counter()
        one(args.warmup + n)
        latencies.append((time.perf_counter() - before) * 1000)
    seconds = time.perf_counter() - started
    json.dump({"count": args.count, "seconds": seconds, "latencies_ms": latencies, "incident_ids": ids}, sys.stdout)
    return 0


def create_round(env: dict[str, str], mode: str, count: int, warmup: int, broker: str) -> dict[str, Any]:
    """One creation child; what it timed, how many messages reached the broker, failed publishes."""
    command = [sys.executable, "-m", "bench.webhooks", "_create", f"--count={count}", f"--warmup={warmup}"]
    command.append(f"--label={mode}")
    before = queue_length(broker)
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=CREATE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"creating {count} incidents ({mode}) took longer than {CREATE_TIMEOUT} s") from exc
    if done.returncode != 0:
        raise BenchError(f"creating incidents ({mode}) failed:\n{done.stderr[-4000:]}")
    out = json.loads(done.stdout)
    out["mode"] = mode
    out["published"] = queue_length(broker) - before
    out["failed_publishes"] = done.stderr.count("could not publish")
    return out


def creation_rounds(args: argparse.Namespace, env: dict[str, str]) -> list[dict[str, Any]]:
    """Alternate normal and broker-down children so that a change in the machine's other load
    falls on both modes alike; each mode creates `--incidents` timed incidents in all."""
    dead_env = {**env, "CELERY_BROKER_URL": args.dead_broker}
    per_round = [args.incidents // args.rounds + (r < args.incidents % args.rounds) for r in range(args.rounds)]
    rounds = []
    for r, count in enumerate(per_round):
        if not count:
            continue
        order = [("normal", env), ("outage", dead_env)]
        for mode, mode_env in order if r % 2 == 0 else order[::-1]:
            say(f"round {r + 1}/{args.rounds}: {count} incidents, broker {mode}")
            rounds.append(create_round(mode_env, mode, count, args.warmup, args.broker) | {"round": r + 1})
    return rounds


def summarize_mode(rounds: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    mine = [r for r in rounds if r["mode"] == mode]
    count = sum(r["count"] for r in mine)
    seconds = sum(r["seconds"] for r in mine)
    latencies = sorted(lat for r in mine for lat in r["latencies_ms"])
    return {
        "incidents": count,
        "created": sum(len(r["incident_ids"]) for r in mine),  # warm-ups included
        "seconds": round(seconds, 2),
        "per_s": round(count / seconds, 1) if seconds else None,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 1) if latencies else None,
        "published": sum(r["published"] for r in mine),
        "failed_publishes": sum(r["failed_publishes"] for r in mine),
    }


def outage(args: argparse.Namespace, env: dict[str, str], workers: Workers, receiver: Receiver) -> dict[str, Any]:
    """Creation throughput with the broker up and down; then recovery through the sweep."""
    from communications.models import Notification
    from communications.tasks import sweep_notifications

    rounds = creation_rounds(args, env)
    normal_ids = [i for r in rounds if r["mode"] == "normal" for i in r["incident_ids"]]
    outage_ids = [i for r in rounds if r["mode"] == "outage" for i in r["incident_ids"]]
    events = [OUTAGE_EVENT, "incident.assigned"]
    phase = Notification.objects.filter(subject_kind="incident", event__in=events)
    normal_rows = phase.filter(subject_id__in=normal_ids)
    outage_rows = phase.filter(subject_id__in=outage_ids)
    result: dict[str, Any] = {
        "normal": summarize_mode(rounds, "normal"),
        "outage": summarize_mode(rounds, "outage"),
        "rounds": [{k: v for k, v in r.items() if k not in ("latencies_ms", "incident_ids")} for r in rounds],
        "rows_per_incident": dict(Counter(phase.values_list("channel", flat=True))),
    }
    normal, down = result["normal"]["per_s"], result["outage"]["per_s"]
    result["ratio"] = round(down / normal, 3) if normal and down else None
    # A create writes its notification rows in its own transaction; with the broker down none was
    # handed over: every outage row is pending, for the sweep.
    result["outage_incidents"] = len(outage_ids)
    result["outage_rows_written"] = outage_rows.count()
    result["outage_rows_pending_before"] = outage_rows.filter(status="pending").count()

    workers.start()
    say(f"workers up; delivering what the reachable broker was handed ({normal_rows.count():,} rows)")

    def normal_done() -> tuple[bool, str]:
        left = normal_rows.exclude(status="sent").count()
        return left == 0, f"{left:,} rows of normal-mode incidents not sent"

    done, seconds = wait_until(normal_done, args.timeout, workers, note="normal-mode deliveries")
    result["normal_delivered"] = done
    result["normal_delivery_s"] = round(seconds, 2)
    result["outage_rows_sent_before_sweep"] = outage_rows.filter(status="sent").count()
    result["receiver_before_sweep"] = receiver.stats("/hook/outage")["requests"]

    say(
        f"broker back: publishing the sweeps every {args.sweep_interval:.0f} s until the "
        f"{len(outage_ids):,} outage incidents' notifications are sent"
    )
    sweeps: list[float] = []
    left_over_time: list[tuple[float, int]] = []
    started = time.monotonic()

    def outage_done() -> tuple[bool, str]:
        # Like beat: on schedule, whether or not the previous sweep has run yet.
        if not sweeps or time.monotonic() - started >= sweeps[-1] + args.sweep_interval:
            # On the real broker: the notifications' sweep (rows whose hand-off was lost).
            sweep_notifications.apply_async()
            sweeps.append(round(time.monotonic() - started, 2))
        left = outage_rows.exclude(status="sent").count()
        left_over_time.append((round(time.monotonic() - started, 2), left))
        done = outage_rows.exists() and left == 0
        return done, f"{left:,} outage rows not sent"

    done, seconds = wait_until(outage_done, args.timeout, workers, note="sweep")
    result["recovered"] = done
    result["recovery_s"] = round(seconds, 2)
    result["outage_rows"] = outage_rows.count()
    sweep_notifications.apply_async()  # one more: nothing may be left to hand over, nothing sent twice
    sweeps.append(round(time.monotonic() - started, 2))
    time.sleep(SETTLE_SECONDS + POLL_SECONDS * 4)
    result["sweeps_at_s"] = sweeps
    result["unsent_over_time"] = _thin(left_over_time)
    result["task_outcomes"] = workers.outcomes()

    tally = receiver.stats("/hook/outage", with_ids=True)
    webhooks = phase.filter(subject_id__in=normal_ids + outage_ids, channel="webhook")
    expected = webhooks.count()
    all_rows = phase.filter(subject_id__in=normal_ids + outage_ids)
    attempts = dict(Counter(all_rows.values_list("attempts", flat=True)))
    result["statuses"] = status_counts(pk__in=all_rows.values("pk"))
    result["attempts_per_row"] = {str(k): v for k, v in sorted(attempts.items())}
    result["webhook_rows"] = expected
    result["receiver"] = {k: v for k, v in tally.items() if k != "ids"}
    result["ids_match"] = set(tally.get("ids", [])) == {str(u) for u in webhooks.values_list("delivery_id", flat=True)}
    result["outage_requeued_by_sweep"] = outage_rows.filter(queued_at__isnull=False).count()
    result["exactly_once"] = (
        result["ids_match"]
        and tally["requests"] == expected == tally["distinct_ids"]
        and tally["duplicates"] == 0
        and set(result["statuses"]) == {"sent"}
        and set(result["attempts_per_row"]) == {"1"}
        and result["outage_rows_pending_before"] == result["outage_rows_written"] > 0
    )
    return result


# --- where the time of one delivery goes -------------------------------------------------------------
AREA_RULES = [
    ("psycopg / socket (waiting for PostgreSQL)", ("psycopg", "socket.py", "selectors.py")),
    ("httpx / httpcore / h11 (the HTTP call)", ("httpx", "httpcore", "h11", "ssl.py")),
    ("logging", ("logging/",)),
    ("Django ORM (building queries, instances)", ("django/db",)),
    ("communications (delivery, channels, netguard)", ("communications/",)),
    ("json / hashing / uuid", ("json", "hashlib", "hmac", "uuid")),
]


def profile_deliveries(count: int, receiver: Receiver, secret: str) -> dict[str, Any]:
    """Deliver `count` rows in this process counting their SQL, then `count` under cProfile.

    Same code as the task runs (`delivery.deliver`), without Celery around it: the gap to the
    workers' per-process time is what the task machinery and the broker cost.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from communications import delivery
    from communications.models import Notification, WebhookEndpoint
    from communications.services import emit

    WebhookEndpoint.objects.update(active=False)  # the drain and outage endpoints keep their tallies
    endpoint = make_endpoint(receiver.url("profile"), DRAIN_EVENT, secret)
    for n in range(2 * count):
        subject, context = _comment(FAKE_ID_BASE // 2 + n)  # not the drain's subjects
        emit(DRAIN_EVENT, subject, context)
    ids = list(Notification.objects.filter(endpoint_id=endpoint).order_by("id").values_list("id", flat=True))
    timed, profiled = ids[:count], ids[count:]
    delivery.deliver(timed[0])  # the pooled HTTP client's first connection is not what we measure
    timed = timed[1:]

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_before, cpu_before = cpu_seconds(backend) or 0.0, time.process_time()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        outcomes = Counter(delivery.deliver(pk) for pk in timed)
    wall = time.perf_counter() - started
    own_cpu, backend_cpu = time.process_time() - cpu_before, (cpu_seconds(backend) or 0.0) - backend_before
    n = max(len(timed), 1)
    kinds: Counter[str] = Counter()
    kind_time: defaultdict[str, float] = defaultdict(float)
    for query in captured.captured_queries:
        kind = statement_kind(query["sql"])
        kinds[kind] += 1
        kind_time[kind] += float(query["time"])
    db_seconds = sum(float(q["time"]) for q in captured.captured_queries)

    profiler = cProfile.Profile()
    profiler.enable()
    for pk in profiled:
        delivery.deliver(pk)
    profiler.disable()
    stats = pstats.Stats(profiler)
    return {
        "deliveries": len(timed),
        "outcomes": dict(outcomes),
        "ms_per_delivery": round(wall / n * 1000, 2),
        "per_s_one_process": round(n / wall, 1),
        "cpu_ms_per_delivery": round(own_cpu / n * 1000, 3),  # this process: Django, httpx, no Celery
        "postgres_cpu_ms_per_delivery": round(backend_cpu / n * 1000, 3),
        "queries_per_delivery": round(len(captured.captured_queries) / n, 2),
        "db_ms_per_delivery": round(db_seconds / n * 1000, 2),
        "statements": [
            {
                "statement": kind,
                "per_delivery": round(c / n, 2),
                "ms_per_delivery": round(kind_time[kind] / n * 1000, 2),
            }
            for kind, c in kinds.most_common(20)
        ],
        "areas": _areas(stats, len(profiled)),
        "top_cumulative": _top(stats, len(profiled)),
    }


def statement_kind(statement: str) -> str:
    """`SELECT communications_notification`, `UPDATE ...`, `SAVEPOINT`: the verb and first table."""
    text = statement.strip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN"):
        return verb
    pattern = {"INSERT": r'\bINTO\s+"?(\w+)"?', "UPDATE": r'^UPDATE\s+"?(\w+)"?'}.get(verb, r'\bFROM\s+"?(\w+)"?')
    match = re.search(pattern, text, re.IGNORECASE)
    suffix = " FOR UPDATE" if verb == "SELECT" and "FOR UPDATE" in text.upper() else ""
    return f"{verb} {match.group(1) if match else '?'}{suffix}"


def _areas(stats: pstats.Stats, count: int) -> list[dict[str, Any]]:
    """Own time (tottime) summed by area of the code, per delivery."""
    totals: defaultdict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((name for name, needles in AREA_RULES if any(n in filename for n in needles)), "other")
        totals[area] += tottime
    grand = sum(totals.values()) or 1
    return [
        {"area": area, "ms_per_delivery": round(t / max(count, 1) * 1000, 3), "share": round(t / grand * 100, 1)}
        for area, t in sorted(totals.items(), key=lambda item: -item[1])
    ]


def _top(stats: pstats.Stats, count: int, limit: int = 20) -> list[dict[str, Any]]:
    """The functions with the largest cumulative time, per delivery."""
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
        rows.append((cumtime, tottime, calls, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    return [
        {
            "function": label,
            "cum_ms": round(cum / max(count, 1) * 1000, 3),
            "own_ms": round(own / max(count, 1) * 1000, 3),
            "calls": round(calls / max(count, 1), 1),
        }
        for cum, own, calls, label in rows[:limit]
    ]


# --- report ----------------------------------------------------------------------------------------
def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(cells)
        ).rstrip()

    return [line(rows[0]), line(["-" * w for w in widths]), *(line(r) for r in rows[1:])]


def _verdict(ok: bool | None) -> str:
    return "ok" if ok else "MISSED"


def format_report(results: dict[str, Any]) -> str:
    """The printed report: the drain, the broker-down comparison and the profile."""
    out = [
        f"webhook delivery benchmark: {results['workers']}; database {results['database']}, "
        f"broker {results['broker']}; {results['cpus']} CPUs, load average before "
        f"{results['load_average']['before']}, after {results['load_average']['after']}"
    ]
    d = results["drain"]
    rec = d["receiver"]
    rows = [
        ["drain", "value", "target", "verdict"],
        ["backlog written (emit)", f"{results['backlog']['rows']:,} rows, {results['backlog']['per_s']}/s", "", ""],
        ["worker boot", f"{d['worker_boot_s']} s", "", ""],
        ["time to drain (first claim -> last sent)", f"{d['active_s']} s", "", ""],
        ["time to drain (workers ready -> all sent seen)", f"{d['drain_s']} s", "", ""],
        [
            "deliveries/s",
            f"{d['rate_per_s']}",
            f">= {TARGET_RATE:.0f}",
            _verdict(d["rate_per_s"] and d["rate_per_s"] >= TARGET_RATE),
        ],
        ["deliveries/s (from workers ready)", f"{d['rate_from_ready_per_s']}", "", ""],
        [
            "row statuses",
            json.dumps(d["statuses"]),
            f"sent: {d['rows']:,}",
            _verdict(d["statuses"] == {"sent": d["rows"]}),
        ],
        ["attempts per row", json.dumps(d["attempts_per_row"]), "all 1", ""],
        [
            "receiver requests / distinct ids / dups",
            f"{rec['requests']:,} / {rec['distinct_ids']:,} / {rec['duplicates']}",
            f"{d['rows']:,} / {d['rows']:,} / 0",
            _verdict(d["exactly_once"]),
        ],
        ["receiver ids == outbox delivery ids", str(d["ids_match"]), "True", _verdict(d["ids_match"])],
        [
            "bad signatures / stale ts / body id mismatch",
            f"{rec['bad_signatures']} / {rec['stale_timestamps']} / {rec['id_mismatches']} of {rec['requests']:,}",
            "0 / 0 / 0",
            _verdict(d["checks_ok"]),
        ],
        ["receiver window (first -> last request)", f"{d['receiver_window_s']} s", "", ""],
        [
            "CPU ms/delivery: workers / postgres / receiver",
            " / ".join(f"{d['cpu']['ms_per_delivery'].get(k, 0):.2f}" for k in ("workers", "postgres", "receiver"))
            + f" = {d['cpu']['total_ms']:.2f}",
            "",
            "",
        ],
        [
            "CPU ms/delivery: redis / postgres server (shared, upper bounds)",
            f"{d['cpu']['redis_server_ms_upper_bound']:.2f} / {d['cpu'].get('postgres_server_ms_upper_bound')}",
            "",
            "",
        ],
        ["PostgreSQL sessions opened while draining", f"{d['cpu']['postgres_sessions_opened']:,}", "", ""],
        [
            f"CPU-bound ceiling on {results['cpus']} idle cores",
            f"{d['cpu']['cpu_bound_ceiling_per_s']}/s",
            f">= {TARGET_RATE:.0f}",
            "",
        ],
    ]
    out += ["", *_table(rows, right=set())]
    out.append(f"  progress (s from ready, sent): {d['progress']}")
    out.append(f"  delivery task results (worker logs): {d['task_outcomes']}")

    o = results.get("outage")
    if o:
        rows = [["creation", "incidents", "seconds", "incidents/s", "p50 ms", "p95 ms", "published", "failed pub"]]
        for mode in ("normal", "outage"):
            m = o[mode]
            rows.append(
                [
                    f"broker {'up' if mode == 'normal' else 'down'}",
                    str(m["incidents"]),
                    f"{m['seconds']}",
                    f"{m['per_s']}",
                    f"{m['p50_ms']}",
                    f"{m['p95_ms']}",
                    str(m["published"]),
                    str(m["failed_publishes"]),
                ]
            )
        out += ["", *_table(rows, right=set(range(1, 8)))]
        ratio = o["ratio"]
        out.append(
            f"  broker-down / normal = {ratio if ratio is None else f'{ratio * 100:.1f} %'} "
            f"[target >= {TARGET_RATIO * 100:.0f} %: {_verdict(ratio and ratio >= TARGET_RATIO)}]; "
            f"rows per incident {o['rows_per_incident']}; {len(o['rounds'])} alternating rounds"
        )
        rec = o["receiver"]
        out.append(
            f"  outage incidents {o['outage_incidents']:,}: {o['outage_rows_pending_before']:,} of "
            f"{o['outage_rows_written']:,} rows pending after creation; normal-mode deliveries took "
            f"{o['normal_delivery_s']} s; receiver had {o['receiver_before_sweep']:,} outage requests before "
            f"the sweep; {o['outage_rows']:,} outage rows in the end"
        )
        out.append(
            f"  sweep published at {o['sweeps_at_s']} s: "
            + (f"all sent after {o['recovery_s']} s" if o["recovered"] else "NOT all sent at the time limit")
            + f"; {o['outage_requeued_by_sweep']:,} rows handed over by the sweeps"
        )
        out.append(f"  outage rows not sent yet (s, rows): {o['unsent_over_time']}")
        out.append(f"  delivery task results (worker logs): {o['task_outcomes']}")
        out.append(
            f"  statuses {o['statuses']}, attempts {o['attempts_per_row']}; receiver {rec['requests']:,} requests, "
            f"{rec['distinct_ids']:,} distinct ids, {rec['duplicates']} duplicates, {rec['bad_signatures']} bad "
            f"signatures for {o['webhook_rows']:,} webhook rows; ids match: {o['ids_match']} "
            f"[exactly once: {_verdict(o['exactly_once'])}]"
        )
    p = results.get("profile")
    if p:
        out.append(
            f"\nprofile: {p['deliveries']} deliveries in one process, no Celery: {p['ms_per_delivery']} ms each "
            f"({p['per_s_one_process']}/s), {p['queries_per_delivery']} SQL statements "
            f"({p['db_ms_per_delivery']} ms waiting for PostgreSQL); outcomes {p['outcomes']}"
        )
        out.append(
            f"  CPU per delivery: {p['cpu_ms_per_delivery']} ms in this process, "
            f"{p['postgres_cpu_ms_per_delivery']} ms in its PostgreSQL backend"
        )
        out.append("  statements per delivery (count, ms):")
        out += [f"    {s['per_delivery']:5.2f} {s['ms_per_delivery']:6.2f}  {s['statement']}" for s in p["statements"]]
        out.append("  own time by area (cProfile, ms per delivery, share):")
        out += [f"    {a['ms_per_delivery']:7.3f} {a['share']:5.1f} %  {a['area']}" for a in p["areas"]]
        out.append("  top functions by cumulative time (ms per delivery, own ms, calls):")
        out += [
            f"    {t['cum_ms']:7.3f} {t['own_ms']:7.3f} {t['calls']:5.1f}  {t['function']}" for t in p["top_cumulative"]
        ]
    for line in results.get("worker_log_errors", []):
        out.append(f"worker error: {line[:300]}")
    return "\n".join(out)


# --- the run -----------------------------------------------------------------------------------------
def check_dead(url: str) -> None:
    """The outage broker must refuse connections: a listener there would not be an outage."""
    match = re.match(r"^redis://([^:/]+):(\d+)/", url)
    host, port = (match.group(1), int(match.group(2))) if match else ("127.0.0.1", 6379)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return
    raise BenchError(f"something listens at {host}:{port}: pass a --dead-broker port nothing uses")


def exclusive(*names: str) -> list[Any]:
    """Hold an exclusive lock per name (a file under the temp folder) for the life of this process.

    Two runs on one database or broker would truncate each other's outbox and flush each other's
    queue; the second one is refused instead.
    """
    import fcntl

    handles = []
    for name in names:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        handle = open(Path(tempfile.gettempdir()) / f"itsm-bench-webhooks-{safe}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise BenchError(f"another bench.webhooks run is using {name}: wait for it or pick another") from exc
        handles.append(handle)
    return handles


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM ends the run like Ctrl-C does: through the `finally` that stops the processes."""
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results (see format_report)."""
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    check_dead(args.dead_broker)
    _locks = exclusive(f"db-{args.db}", f"broker-{args.broker}")  # held until this process exits
    kept = prepare_database(args.db, args.keep_db)
    env = bench_env(args.db, args.broker, args.sweep_grace)
    say(f"database {args.db}: {'kept' if kept else 'created'}; migrating")
    run_checked([sys.executable, "manage.py", "migrate", "--noinput"], env, MIGRATE_TIMEOUT, "migrate")
    setup_django(env)
    # The workers log each request at INFO into their files; here (the receiver's /stats, the
    # profile) it would only flood the console.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if kept:
        reset_outbox()
    check_private_broker(args.broker)
    reference_data()

    scratch = Path(tempfile.mkdtemp(prefix="itsm-webhooks-"))
    secret = secrets.token_hex(16)
    # The receiver's own time limit: every phase's drain, creation and profile, with room to spare.
    receiver = Receiver(secret, lifetime=3 * args.timeout + 2 * CREATE_TIMEOUT, log_path=scratch / "receiver.log")
    workers = Workers(args, env, scratch)
    results: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "database": args.db,
        "broker": args.broker,
        "dead_broker": args.dead_broker,
        "workers": workers.describe(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
    }
    try:
        receiver.start()
        results["receiver_port"] = receiver.port
        say(f"receiver at {receiver.base_url}")
        drain_endpoint = make_endpoint(receiver.url("drain"), DRAIN_EVENT, secret)
        say(f"writing {args.deliveries:,} outbox rows through emit() ({args.batch} per transaction), no worker yet")
        results["backlog"] = create_backlog(args.deliveries, args.batch)
        results["drain"] = drain(args, workers, receiver, drain_endpoint)
        workers.stop()
        if args.incidents:
            make_endpoint(receiver.url("outage"), OUTAGE_EVENT, secret)
            results["outage"] = outage(args, env, workers, receiver)
            workers.stop()
        if args.profile:
            say(f"profiling {args.profile} deliveries in this process")
            results["profile"] = profile_deliveries(args.profile, receiver, secret)
    except BaseException:
        say(f"logs kept in {scratch}")
        raise
    finally:
        workers.stop()
        receiver.stop()
    results["worker_log_errors"] = workers.errors()
    shutil.rmtree(scratch, ignore_errors=True)  # kept (and named) above only when the run failed
    check_private_broker(args.broker)  # the profile's messages have no worker: drop them
    results["load_average"] = {
        "before": [round(v, 2) for v in load_before],
        "after": [round(v, 2) for v in os.getloadavg()],
    }
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["passed"] = passed(results)
    return results


def passed(results: dict[str, Any]) -> dict[str, bool]:
    """Each target and check, true or false."""
    d, o = results["drain"], results.get("outage")
    out = {
        "drained": bool(d["drained"]),
        "exactly_once": bool(d["exactly_once"] and d["checks_ok"]),
        "rate": bool(d["rate_per_s"] and d["rate_per_s"] >= TARGET_RATE),
    }
    if o:
        out["outage_ratio"] = bool(o["ratio"] and o["ratio"] >= TARGET_RATIO)
        out["outage_recovered_exactly_once"] = bool(o["recovered"] and o["exactly_once"])
    return out


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every check held (targets aside), 1 if a check failed, 2 if it could not run."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_receiver"]:
        return receiver_main(argv[1:])
    if argv[:1] == ["_create"]:
        return create_main(argv[1:])
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        results = run(args)
    except BenchError as exc:
        say(str(exc))
        return 2
    finally:
        if args.drop:
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
            drop_database(args.db)
    print(format_report(results))
    path = args.json or RESULTS_DIR / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {path}")
    checks = {k: v for k, v in results["passed"].items() if k not in ("rate", "outage_ratio")}
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
