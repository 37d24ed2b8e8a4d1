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

The parts: `common` (constants), `receiver` (the receiver process), `workers` (the Celery
workers and their CPU accounting), `phases` (drain, broker down, profile), `report`.
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.broker import check_private_broker
from bench.db import BenchError, prepare_database
from bench.procs import MIGRATE_TIMEOUT, manage, run_tool, scratch_dir, setup_django
from bench.report import Conditions
from bench.webhooks.common import (
    CREATE_TIMEOUT,
    DEFAULT_BROKER,
    DEFAULT_DB,
    DEFAULT_DEAD_BROKER,
    DRAIN_EVENT,
    OUTAGE_EVENT,
    TARGET_RATE,
    TARGET_RATIO,
    say,
)


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results (see format_report)."""
    from bench.webhooks.phases import (
        bench_env,
        create_backlog,
        drain,
        make_endpoint,
        outage,
        profile_deliveries,
        reference_data,
        reset_outbox,
    )
    from bench.webhooks.receiver import Receiver
    from bench.webhooks.workers import Workers

    conditions = Conditions()
    check_dead(args.dead_broker)
    _locks = exclusive(f"db-{args.db}", f"broker-{args.broker}")  # held until this process exits
    kept = prepare_database(args.db, args.keep_db)
    env = bench_env(args.db, args.broker, args.sweep_grace)
    say(f"database {args.db}: {'kept' if kept else 'created'}; migrating")
    manage(env, MIGRATE_TIMEOUT, "migrate", "--noinput")
    setup_django(env)
    # The workers log each request at INFO into their files; here (the receiver's /stats, the
    # profile) it would only flood the console.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if kept:
        reset_outbox()
    check_private_broker(args.broker)
    reference_data()

    secret = secrets.token_hex(16)
    results: dict[str, Any] = {
        "database": args.db,
        "broker": args.broker,
        "dead_broker": args.dead_broker,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    with scratch_dir("itsm-webhooks-") as scratch:  # kept (and named) only when the run fails
        # The receiver's own time limit: every phase's drain, creation and profile, with room to spare.
        receiver = Receiver(secret, lifetime=3 * args.timeout + 2 * CREATE_TIMEOUT, log_path=scratch / "receiver.log")
        workers = Workers(args, env, scratch)
        results["workers"] = workers.describe()
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
        finally:
            workers.stop()
            receiver.stop()
        results["worker_log_errors"] = workers.errors()
    check_private_broker(args.broker)  # the profile's messages have no worker: drop them
    results = conditions.results() | results
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
        from bench.webhooks.receiver import receiver_main

        return receiver_main(argv[1:])
    if argv[:1] == ["_create"]:
        from bench.webhooks.phases import create_main

        return create_main(argv[1:])
    from bench.webhooks.report import format_report

    results = run_tool(run, parse_args(argv), say, format_report, prefix="webhooks-")
    if results is None:
        return 2
    checks = {k: v for k, v in results["passed"].items() if k not in ("rate", "outage_ratio")}
    return 0 if all(checks.values()) else 1
