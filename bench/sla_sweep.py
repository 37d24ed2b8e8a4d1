"""`python -m bench.sla_sweep [--incidents N] [--open N] [--due N] [--keep-db]`: the SLA sweep at scale.

Issue 4, item 7: with 1,000,000 incidents of which 200,000 open, (a) the sweep's query for due
clocks (`incidents.sla.due_clock_ids`) must use the partial index `slaclock_due` and run in
<= 50 ms, and (b) 10,000 due breaches must all fire within 60 s on 2 worker processes.

A run:

1. creates the database `itsm_bench_sla` (`--db`; the name must start with `itsm_bench`),
   migrates it and seeds it with `bench.seeding.incidents.seed_incidents`: incidents, their
   `created` events and SLA clocks by COPY; `--due` open incidents carry a resolution clock whose
   breach came 1 to 30 minutes ago and has not fired, on a policy without warnings, so exactly
   one breach fires per clock. The other running clocks have their next warning or breach
   ahead (spread over the next days; the few that come due while the run lasts are fired too
   and counted as "background"). With `--keep-db` an earlier seed of the same sizes is reused
   and its due clocks are re-armed (their breach, timeline events and notifications undone).
2. times `due_clock_ids(limit=...)` (the sweep task's limit, and the function's default) and
   prints the `EXPLAIN (ANALYZE, BUFFERS)` of exactly the SQL it ran;
3. starts one `celery -A itsm worker --concurrency 2` (prefork: two worker processes) on a
   Redis database of its own (`--broker`, default db 5, flushed before and after, refused if it
   holds anything but Celery's keys), publishes `sweep_sla_clocks` as beat would (at once,
   then every `--sweep-interval` seconds, the beat schedule's 60 by default) and polls until
   every due clock has `breach_fired`; then checks each fired exactly once (one `breached`
   timeline event per clock), lets the notification deliveries drain, and stops the worker
   (also on error or Ctrl-C);
4. with `--profile N`, re-arms 3 x N due clocks and fires them in this process in the sweep's
   chunks (`fire_many`): N counting and timing their SQL, N under cProfile (where the time
   goes), and N one by one (`fire_due`, the ETA task's path) for comparison.

Emails go to Django's dummy backend (`EMAIL_URL=dummymail://`): the deliveries run, nothing is
sent. The cache is the local-memory one (no REDIS_URL). The report is printed and written as
JSON to `bench/results/sla-sweep-<timestamp>.json` (or `--json PATH`). The database is left
for inspection (`--drop` drops it at the end).
"""

from __future__ import annotations

import argparse
import inspect
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import profiling
from bench.broker import check_private_broker, queue_length
from bench.db import BenchError, database_secret, prepare_database, read_seed, record_seed
from bench.procs import MIGRATE_TIMEOUT, CeleryWorker, manage, run_tool, scratch_dir, setup_django, worker_env
from bench.report import Conditions, conditions_lines

SCENARIO = "sla_sweep"  # its row in bench_seed
DEFAULT_DB = "itsm_bench_sla"
DEFAULT_BROKER = "redis://127.0.0.1:6379/5"
POLL_SECONDS = 0.25
DRAIN_TIMEOUT = 300
QUERY_RUNS = 20
TARGET_QUERY_MS = 50
TARGET_FIRE_SECONDS = 60


def say(message: str) -> None:
    print(f"sla_sweep: {message}", file=sys.stderr, flush=True)


# --- arguments -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.sla_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000, help="incidents to seed (default 1,000,000)")
    parser.add_argument("--open", type=int, default=200_000, help="of which open (default 200,000)")
    parser.add_argument("--due", type=int, default=10_000, help="open ones whose breach is due (default 10,000)")
    parser.add_argument("--keep-db", action="store_true", help="reuse an earlier seed of the same sizes")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database name (default {DEFAULT_DB})")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"a private Redis database (default {DEFAULT_BROKER})")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--sweep-interval", type=float, default=60.0, help="seconds between sweeps, as beat (default 60)"
    )
    parser.add_argument("--sweep-limit", type=int, help="the sweep's limit (default: the task's own)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up firing after this many seconds")
    parser.add_argument("--profile", type=int, default=300, metavar="N", help="fire N re-armed clocks under cProfile")
    parser.add_argument("--json", type=Path, metavar="PATH", help="where to write the results")
    args = parser.parse_args(argv)
    if not 0 <= args.due <= args.open <= args.incidents or args.incidents <= 0:
        parser.error("need 0 <= --due <= --open <= --incidents and --incidents > 0")
    if not args.broker.startswith("redis://"):
        parser.error("--broker must be a redis:// URL")
    return args


# --- Django in this process ------------------------------------------------------------------------
def sweep_env(db_name: str, broker: str) -> dict[str, str]:
    """The runner's production-like environment, on our broker, with emails going nowhere."""
    return worker_env(db_name, database_secret(db_name), broker)


# --- seed, or reuse and re-arm -----------------------------------------------------------------------
def seed_or_reuse(args: argparse.Namespace, kept: bool) -> dict[str, Any]:
    """Seed the sizes asked for, or reuse a kept database's seed of the same sizes (re-armed)."""
    from django.db import connection

    from bench.seeding.incidents import seed_incidents

    sizes = {"incidents": args.incidents, "open": args.open, "due": args.due}
    row = read_seed(SCENARIO)
    if kept and row is not None:
        data, seconds = row
        if {k: data["sizes"][k] for k in sizes} != sizes:
            raise BenchError(f"{args.db} holds a seed of {data['sizes']}, not {sizes}: drop it or pass those sizes")
        say(f"reusing the seed of {args.db} ({seconds:.0f} s to make); re-arming the due clocks")
        rearm(data)
        return data | {"seconds": seconds, "reused": True}
    if kept:
        raise BenchError(f"{args.db} exists but holds no {SCENARIO} seed: run without --keep-db")
    started = time.perf_counter()
    say(f"seeding {args.incidents:,} incidents ({args.open:,} open, {args.due:,} due)")
    data = seed_incidents(args.incidents, open_count=args.open, due=args.due)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) FROM incidents_timelineevent")
        data["timeline_max_id"] = cursor.fetchone()[0]
    data["sizes"] = sizes
    seconds = round(time.perf_counter() - started, 1)
    record_seed(SCENARIO, args.incidents, seconds, data)
    return data | {"seconds": seconds, "reused": False}


def rearm(data: dict[str, Any], clock_ids: list[int] | None = None) -> int:
    """Undo the breach of the due clocks (all, or `clock_ids`): unfired, due again at `due_at`.

    Their `sla`/`notified` timeline events written after the seed and every notification are
    deleted too (this database is the tool's own: notifications only come from its runs).
    """
    from django.db import connection, transaction

    where = "policy_id = %s" + (" AND id = ANY(%s)" if clock_ids is not None else "")
    params: list[Any] = [data["due_policy"]] + ([clock_ids] if clock_ids is not None else [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE incidents_slaclock SET stage = 'running', breached_at = NULL, breach_fired = false, "
            f"warnings_fired = '[]', next_check_at = due_at, updated_at = now() WHERE {where}",
            params,
        )
        count = cursor.rowcount
        cursor.execute(
            "DELETE FROM incidents_timelineevent WHERE id > %s AND type IN ('sla', 'notified') "
            f"AND incident_id IN (SELECT incident_id FROM incidents_slaclock WHERE {where})",
            [data["timeline_max_id"], *params],
        )
        cursor.execute("TRUNCATE communications_notification CASCADE")
    return count


# --- (a) the due-clock query -------------------------------------------------------------------------
def measure_query(limit: int, runs: int = QUERY_RUNS) -> dict[str, Any]:
    """Time `due_clock_ids(limit=limit)` and EXPLAIN (ANALYZE, BUFFERS) the very SQL it ran."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.sla.firing import due_clock_ids

    timings = []
    with CaptureQueriesContext(connection) as captured:
        ids = due_clock_ids(limit=limit)
    for _ in range(runs):
        started = time.perf_counter()
        due_clock_ids(limit=limit)
        timings.append((time.perf_counter() - started) * 1000)
    statement = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
        plan = [line for (line,) in cursor.fetchall()]
    timings.sort()
    execution = next((float(m.group(1)) for line in plan if (m := re.search(r"Execution Time: ([\d.]+)", line))), None)
    return {
        "limit": limit,
        "returned": len(ids),
        "first_ms": round(float(captured.captured_queries[-1]["time"]) * 1000, 2),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 2),
        "max_ms": round(timings[-1], 2),
        "runs": runs,
        "execution_ms": execution,
        "sql": statement,
        "plan": plan,
        "uses_partial_index": any("slaclock_due" in line for line in plan),
        "seq_scan": any("Seq Scan" in line for line in plan),
    }


def index_facts(due_policy: int) -> dict[str, Any]:
    """Sizes that explain the query: clocks, entries of the partial index, due ones."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(next_check_at), count(*) FILTER (WHERE next_check_at <= now()), "
            "count(*) FILTER (WHERE policy_id = %s AND NOT breach_fired) FROM incidents_slaclock",
            [due_policy],
        )
        clocks, indexed, due_now, armed = cursor.fetchone()
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size('slaclock_due')), "
            "pg_size_pretty(pg_total_relation_size('incidents_slaclock')), "
            "pg_size_pretty(pg_total_relation_size('incidents_incident')), "
            "(SELECT count(*) FROM incidents_incident), "
            "(SELECT count(*) FROM incidents_incident WHERE state IN ('new', 'in_progress', 'on_hold'))"
        )
        index_size, clock_size, incident_size, incidents, open_ = cursor.fetchone()
    return {
        "incidents": incidents,
        "open_incidents": open_,
        "clocks": clocks,
        "in_partial_index": indexed,
        "due_now": due_now,
        "armed_due_clocks": armed,
        "slaclock_due_size": index_size,
        "slaclock_table_size": clock_size,
        "incident_table_size": incident_size,
    }


# --- (b) firing with a real worker -------------------------------------------------------------------
TASK_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/[^\]]+\] Task (?P<task>[\w.]+)\[[^\]]+\] "
    r"succeeded in (?P<seconds>[\d.]+)s: (?P<value>.*)$"
)


def worker_task_stats(log_text: str, started: datetime) -> dict[str, Any]:
    """What the worker did, from its INFO log: tasks by name and result, and each sweep's run.

    `check_sla_clock` returning False is a clock that was already fired (or not due): a
    duplicate message. Sweep times are seconds after the first sweep was published.
    """
    tasks: Counter[str] = Counter()
    busy: defaultdict[str, float] = defaultdict(float)
    sweeps = []
    for line in log_text.splitlines():
        match = TASK_LINE.match(line)
        if match is None:
            continue
        name = match["task"].rsplit(".", 1)[-1]
        if name == "check_sla_clock":
            name = f"check_sla_clock -> {match['value']}"
        tasks[name] += 1
        busy[name] += float(match["seconds"])
        if name == "sweep_sla_clocks":
            finished = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f").astimezone()
            took = float(match["seconds"])
            sweeps.append(
                {
                    "ran_at_s": round((finished - started).total_seconds() - took, 1),
                    "took_s": round(took, 2),
                    "published": int(match["value"]) if match["value"].isdigit() else match["value"],
                }
            )
    return {
        "tasks": dict(tasks),
        "task_seconds": {name: round(seconds, 1) for name, seconds in busy.items()},
        "sweeps": sweeps,
    }


def unfired(due_policy: int) -> int:
    """Due clocks whose breach has not fired yet."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM incidents_slaclock WHERE policy_id = %s AND NOT breach_fired", [due_policy]
        )
        return cursor.fetchone()[0]


def publish_sweep(limit: int | None) -> None:
    from incidents.tasks import sweep_sla_clocks

    sweep_sla_clocks.apply_async(kwargs={"limit": limit} if limit else {})


def fire_with_worker(args: argparse.Namespace, env: dict[str, str], data: dict[str, Any], scratch: Path) -> dict:
    """Start the worker, sweep as beat would until every due clock fired, drain, stop."""
    from django.db import connection

    due_policy = data["due_policy"]
    armed = unfired(due_policy)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(max(id), 0) FROM incidents_timelineevent")
        timeline_before = cursor.fetchone()[0]
    check_private_broker(args.broker)
    worker = CeleryWorker(env, scratch / "worker.log", concurrency=args.concurrency, name="sla-sweep")
    progress: list[tuple[float, int]] = []
    sweeps: list[float] = []
    result: dict[str, Any] = {"armed": armed, "concurrency": args.concurrency, "sweep_interval_s": args.sweep_interval}
    try:
        worker.start()
        worker.wait_ready()
        say(f"worker ready (pid {worker.process.pid}); sweeping {armed:,} due clocks")
        started = time.monotonic()
        started_wall = datetime.now().astimezone()  # the worker logs local wall-clock times
        next_sweep = started
        left = armed
        last_note = started
        while left and time.monotonic() - started < args.timeout:
            now = time.monotonic()
            if now >= next_sweep:
                publish_sweep(args.sweep_limit)
                sweeps.append(round(now - started, 2))
                next_sweep += args.sweep_interval
            if not worker.alive():
                raise BenchError(f"the worker died:\n{worker.log_tail()}")
            time.sleep(POLL_SECONDS)
            left = unfired(due_policy)
            elapsed = time.monotonic() - started
            progress.append((round(elapsed, 2), armed - left))
            if elapsed - (last_note - started) >= 10:
                last_note = time.monotonic()
                say(f"{elapsed:5.0f} s: {armed - left:,} of {armed:,} fired")
        fired_at = time.monotonic() - started
        result["all_fired"] = left == 0
        result["fire_seconds"] = round(fired_at, 2) if left == 0 else None
        result["left_unfired"] = left
        result["sweeps_at_s"] = sweeps
        # The deliveries the breaches queued run after them: wait for the queue to empty.
        drain_deadline = time.monotonic() + DRAIN_TIMEOUT
        while queue_length(args.broker) and time.monotonic() < drain_deadline and worker.alive():
            time.sleep(0.5)
        result["drained"] = queue_length(args.broker) == 0
        result["drain_seconds"] = round(time.monotonic() - started, 2)
    finally:
        worker.stop()
    result["progress"] = profiling.thin(progress)
    result["rate_per_s"] = round(armed / result["fire_seconds"], 1) if result.get("fire_seconds") else None
    result |= exactly_once(due_policy, timeline_before)
    log_text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
    result["worker_log_errors"] = [line for line in log_text.splitlines() if "ERROR" in line][:5]
    result["worker"] = worker_task_stats(log_text, started_wall) if "started_wall" in locals() else {}
    return result


def exactly_once(due_policy: int, timeline_before: int) -> dict[str, Any]:
    """Breached events per due clock (must be one each), and what else fired during the run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n, count(*) FROM (
                SELECT c.id, count(e.id) AS n
                FROM incidents_slaclock c
                LEFT JOIN incidents_timelineevent e
                  ON e.incident_id = c.incident_id AND e.id > %s AND e.type = 'sla'
                 AND e.data ->> 'event' = 'breached' AND (e.data ->> 'policy')::bigint = c.policy_id
                WHERE c.policy_id = %s
                GROUP BY c.id
            ) per_clock GROUP BY n ORDER BY n
            """,
            [timeline_before, due_policy],
        )
        per_clock = {int(n): count for n, count in cursor.fetchall()}
        cursor.execute(
            """
            SELECT e.data ->> 'event', count(*) FROM incidents_timelineevent e
            WHERE e.id > %s AND e.type = 'sla' AND (e.data ->> 'policy')::bigint <> %s
            GROUP BY 1 ORDER BY 1
            """,
            [timeline_before, due_policy],
        )
        background = dict(cursor.fetchall())
        cursor.execute("SELECT status, count(*) FROM communications_notification GROUP BY 1 ORDER BY 1")
        notifications = dict(cursor.fetchall())
    return {
        "breached_events_per_clock": per_clock,
        "exactly_once": set(per_clock) == {1},
        "background_events": background,
        "notifications": notifications,
    }


# --- where the time goes -----------------------------------------------------------------------------
def profile_fires(data: dict[str, Any], count: int) -> dict[str, Any]:
    """Re-arm 3 x `count` due clocks and fire them in this process as the sweep's chunks do
    (`fire_many`, `SWEEP_CHUNK` at a time): `count` counting and timing their SQL, `count` under
    cProfile; and `count` one by one (`fire_due`, the ETA task's path) counting SQL for comparison."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.sla.firing import fire_due, fire_many
    from incidents.tasks import SWEEP_CHUNK

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM incidents_slaclock WHERE policy_id = %s ORDER BY id LIMIT %s",
            [data["due_policy"], 3 * count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    rearm(data, ids)
    third = len(ids) // 3
    timed, profiled, single = ids[:third], ids[third : 2 * third], ids[2 * third :]

    def chunks(part: list[int]) -> list[list[int]]:
        return [part[i : i + SWEEP_CHUNK] for i in range(0, len(part), SWEEP_CHUNK)]

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        fired = sum(fire_many(chunk) for chunk in chunks(timed))
    wall = time.perf_counter() - started
    stats = profiling.profile(fire_many, chunks(profiled))

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as one_by_one:
        fired_singly = sum(fire_due(clock_id) for clock_id in single)
    single_wall = time.perf_counter() - started
    n = max(len(timed), 1)
    return {
        "fires": len(timed),
        "fired": fired,
        "chunk": SWEEP_CHUNK,
        "ms_per_fire": round(wall / n * 1000, 2),
        **profiling.statements(captured.captured_queries, len(timed), "fire"),
        "one_by_one": {
            "fires": len(single),
            "fired": fired_singly,
            "ms_per_fire": round(single_wall / max(len(single), 1) * 1000, 2),
            "queries_per_fire": round(len(one_by_one.captured_queries) / max(len(single), 1), 1),
        },
        "areas": profiling.areas(stats, len(profiled), AREA_RULES, "fire"),
        "top_cumulative": profiling.top(stats, len(profiled), "fire"),
    }


AREA_RULES = [
    profiling.COMMON_AREAS[0],
    ("kombu / redis (publishing tasks)", ("kombu", "redis", "celery")),
    *profiling.COMMON_AREAS[1:],
    ("communications (emit, rules, recipients, storm control)", ("communications/",)),
    ("incidents (sla, notify, events, services)", ("incidents/",)),
    ("itsm (business time, calendars)", ("itsm/",)),
    *profiling.TRAILING_AREAS,
]


# --- report ----------------------------------------------------------------------------------------------
def format_report(results: dict[str, Any]) -> str:
    """The human-readable report."""
    out = []
    sizes, facts = results["sizes"], results["facts"]
    out.append(
        f"SLA sweep: {facts['incidents']:,} incidents ({facts['open_incidents']:,} open), "
        f"{facts['clocks']:,} clocks, {facts['in_partial_index']:,} in slaclock_due ({facts['slaclock_due_size']}), "
        f"{facts['due_now']:,} due now; asked {sizes}; seed {results['seed_seconds']:.0f} s"
        + (" (reused)" if results["reused"] else "")
    )
    for query in results["queries"]:
        verdict = "ok" if query["median_ms"] <= TARGET_QUERY_MS else "MISSED"
        out.append(
            f"\n(a) due_clock_ids(limit={query['limit']}): {query['returned']} ids; "
            f"first {query['first_ms']} ms, median {query['median_ms']} ms, p95 {query['p95_ms']} ms, "
            f"max {query['max_ms']} ms over {query['runs']} runs; EXPLAIN execution {query['execution_ms']} ms "
            f"[target <= {TARGET_QUERY_MS} ms: {verdict}]; partial index: "
            f"{'yes' if query['uses_partial_index'] else 'NO'}; seq scan: {'YES' if query['seq_scan'] else 'no'}"
        )
        out.append(f"    {query['sql']}")
        out.extend(f"    {line}" for line in query["plan"])
    fire = results.get("fire")
    if fire:
        verdict = "ok" if fire.get("fire_seconds") and fire["fire_seconds"] <= TARGET_FIRE_SECONDS else "MISSED"
        out.append(
            f"\n(b) {fire['armed']:,} due breaches, 1 worker x {fire['concurrency']} processes, "
            f"sweep every {fire['sweep_interval_s']:.0f} s (published at {fire['sweeps_at_s']} s): "
            + (
                f"all fired after {fire['fire_seconds']} s ({fire['rate_per_s']}/s)"
                if fire["all_fired"]
                else f"{fire['left_unfired']:,} NOT fired at the time limit"
            )
            + f" [target <= {TARGET_FIRE_SECONDS} s: {verdict}]"
        )
        out.append(f"    progress (s, fired): {fire['progress']}")
        out.append(
            f"    breached events per clock {fire['breached_events_per_clock']} "
            f"(exactly once: {'yes' if fire['exactly_once'] else 'NO'}); other SLA events meanwhile "
            f"{fire['background_events'] or 'none'}; notifications {fire['notifications']}; queue drained: "
            f"{fire['drained']} at {fire['drain_seconds']} s"
        )
        stats = fire.get("worker") or {}
        if stats:
            out.append(f"    worker tasks {stats['tasks']}; busy seconds {stats['task_seconds']}")
            out.append(
                "    sweeps ran (s after the first was published, seconds it took, clocks published): "
                + ", ".join(f"{s['ran_at_s']}/{s['took_s']}/{s['published']}" for s in stats["sweeps"])
            )
        for line in fire["worker_log_errors"]:
            out.append(f"    worker error: {line[:300]}")
    prof = results.get("profile")
    if prof:
        single = prof.get("one_by_one") or {}
        out.append(
            f"\nprofile: {prof['fires']} fires in one process in chunks of {prof.get('chunk')} (fire_many): "
            f"{prof['ms_per_fire']} ms each, {prof['queries_per_fire']} SQL statements "
            f"({prof['db_ms_per_fire']} ms waiting for PostgreSQL); one by one (fire_due, the ETA path): "
            f"{single.get('ms_per_fire')} ms and {single.get('queries_per_fire')} statements each"
        )
        out += profiling.report_lines(prof, "fire")
    return "\n".join([*out, "", *conditions_lines(results)])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results (see format_report)."""
    conditions = Conditions()
    kept = prepare_database(args.db, args.keep_db)
    env = sweep_env(args.db, args.broker)
    say(f"database {args.db}: {'kept' if kept else 'created'}; migrating")
    manage(env, MIGRATE_TIMEOUT, "migrate", "--noinput")
    setup_django(env)
    from incidents.tasks import sweep_sla_clocks

    data = seed_or_reuse(args, kept)
    task_limit = args.sweep_limit or inspect.signature(sweep_sla_clocks.run).parameters["limit"].default
    limits = list(dict.fromkeys([task_limit, 1000]))
    results: dict[str, Any] = {
        "database": args.db,
        "sizes": data["sizes"],
        "seed_seconds": data["seconds"],
        "reused": data["reused"],
        "facts": index_facts(data["due_policy"]),
        "queries": [measure_query(limit) for limit in limits],
    }
    with scratch_dir("itsm-sla-sweep-") as scratch:  # kept only if the run fails
        results["fire"] = fire_with_worker(args, env, data, scratch)
    if args.profile:
        say(f"profiling {args.profile} fires in this process")
        results["profile"] = profile_fires(data, args.profile)
    check_private_broker(args.broker)  # the profile's delivery tasks have no worker left: drop them
    return conditions.results() | results


def main(argv: list[str] | None = None) -> int:
    """Run, print the report, write the JSON; exit 0 when it ran, 1 if a check failed, 2 if it could not run."""
    results = run_tool(run, parse_args(argv), say, format_report, prefix="sla-sweep-")
    if results is None:
        return 2
    fire = results.get("fire", {})
    return 0 if fire.get("all_fired") and fire.get("exactly_once") else 1


if __name__ == "__main__":
    sys.exit(main())
