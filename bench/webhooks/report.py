"""The printed report of `bench.webhooks`."""

from __future__ import annotations

import json
from typing import Any

from bench import profiling
from bench.report import conditions_lines, text_table
from bench.webhooks.common import TARGET_RATE, TARGET_RATIO


# --- report ----------------------------------------------------------------------------------------
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
    out += ["", *text_table(rows, right=set())]
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
        out += ["", *text_table(rows, right=set(range(1, 8)))]
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
        out += profiling.report_lines(p, "delivery")
    for line in results.get("worker_log_errors", []):
        out.append(f"worker error: {line[:300]}")
    calibration = conditions_lines(results)[1:]  # the load averages are in the first line already
    return "\n".join([*out, *calibration])
