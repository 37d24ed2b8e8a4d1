"""The phases of `bench.webhooks`: drain a backlog, create with the broker up and down, profile.

Each runs inside Django (configured by `bench.webhooks.run`); the workers, the receiver and the
creation children are separate processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from bench import profiling
from bench.broker import queue_length, redis_cpu_seconds
from bench.db import BenchError, database_secret
from bench.procs import ROOT, cpu_seconds, worker_env
from bench.webhooks.common import (
    ADMIN_USERNAME,
    CREATE_TIMEOUT,
    DRAIN_EVENT,
    FAKE_ID_BASE,
    GROUP_NAME,
    OUTAGE_EVENT,
    POLL_SECONDS,
    SERVICE_SLUG,
    SETTLE_SECONDS,
    say,
)
from bench.webhooks.receiver import Receiver
from bench.webhooks.workers import Workers, cpu_snapshot, cpu_used, database_sessions, postgres_server_cpu_seconds


# --- Django in this process ------------------------------------------------------------------------
def bench_env(db_name: str, broker: str, sweep_grace: float) -> dict[str, str]:
    """The runner's production-like environment on our broker, for this process and every child."""
    return worker_env(
        db_name,
        database_secret(db_name),
        broker,
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",  # the receiver listens on loopback (SSRF switch)
        NOTIFICATION_DIGEST_THRESHOLD="0",
        NOTIFICATION_SWEEP_GRACE_SECONDS=str(sweep_grace),
    )


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
        "progress": profiling.thin(progress),
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
    result["unsent_over_time"] = profiling.thin(left_over_time)
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
    profiling.COMMON_AREAS[0],
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
    stats = profiling.profile(delivery.deliver, profiled)
    return {
        "deliveries": len(timed),
        "outcomes": dict(outcomes),
        "ms_per_delivery": round(wall / n * 1000, 2),
        "per_s_one_process": round(n / wall, 1),
        "cpu_ms_per_delivery": round(own_cpu / n * 1000, 3),  # this process: Django, httpx, no Celery
        "postgres_cpu_ms_per_delivery": round(backend_cpu / n * 1000, 3),
        **profiling.statements(captured.captured_queries, len(timed), "delivery", limit=20),
        "areas": profiling.areas(stats, len(profiled), AREA_RULES, "delivery"),
        "top_cumulative": profiling.top(stats, len(profiled), "delivery", limit=20),
    }
