"""Where the time goes: SQL statements by kind, cProfile own time by area, top functions.

`bench.sla_sweep` (per SLA fire) and `bench.webhooks` (per delivery) run their unit of work in
their own process, under Django's `CaptureQueriesContext` and under cProfile, and report the
same three tables; `unit` names the keys (`ms_per_fire`, `ms_per_delivery`, ...).
"""

from __future__ import annotations

import cProfile
import pstats
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bench.procs import ROOT

# (area, needles in the file name), first match wins; what matches none is "other".
COMMON_AREAS = [
    ("psycopg / socket (waiting for PostgreSQL)", ("psycopg", "socket.py", "selectors.py")),
    ("Django templates (rendering notifications)", ("django/template",)),
    ("Django ORM (building queries, instances)", ("django/db",)),
]
TRAILING_AREAS = [
    ("Django (other: URL reversing, model init, signals, transactions)", ("django/",)),
    ("Python standard library (json, uuid, datetime, ...)", ("/lib/python3",)),
    ("built-ins (C functions called from everywhere)", ("~",)),
]


def statement_kind(statement: str) -> str:
    """`SELECT communications_notification`, `UPDATE ...`, `SAVEPOINT`: the verb and first table
    (`SELECT ... FOR UPDATE` named as such)."""
    text = statement.strip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "BEGIN"):
        return verb
    pattern = {"INSERT": r'\bINTO\s+"?(\w+)"?', "UPDATE": r'^UPDATE\s+"?(\w+)"?'}.get(verb, r'\bFROM\s+"?(\w+)"?')
    match = re.search(pattern, text, re.IGNORECASE)
    suffix = " FOR UPDATE" if verb == "SELECT" and "FOR UPDATE" in text.upper() else ""
    return f"{verb} {match.group(1) if match else '?'}{suffix}"


def statements(queries: Sequence[dict[str, Any]], count: int, unit: str, limit: int = 25) -> dict[str, Any]:
    """What `CaptureQueriesContext` captured over `count` units: statements and database time per
    unit, and the `limit` most frequent kinds of statement with their count and ms per unit."""
    n = max(count, 1)
    kinds: Counter[str] = Counter()
    kind_time: defaultdict[str, float] = defaultdict(float)
    for query in queries:
        kind = statement_kind(query["sql"])
        kinds[kind] += 1
        kind_time[kind] += float(query["time"])
    return {
        f"queries_per_{unit}": round(len(queries) / n, 2),
        f"db_ms_per_{unit}": round(sum(float(q["time"]) for q in queries) / n * 1000, 2),
        "statements": [
            {"statement": kind, f"per_{unit}": round(c / n, 2), f"ms_per_{unit}": round(kind_time[kind] / n * 1000, 2)}
            for kind, c in kinds.most_common(limit)
        ],
    }


def profile(work: Callable[[Any], Any], items: Iterable[Any]) -> pstats.Stats:
    """`work(item)` for every item under cProfile; the statistics."""
    profiler = cProfile.Profile()
    profiler.enable()
    for item in items:
        work(item)
    profiler.disable()
    return pstats.Stats(profiler)


def areas(stats: pstats.Stats, count: int, rules: Sequence[tuple[str, Sequence[str]]], unit: str) -> list[dict]:
    """Own time (tottime) summed by area of the code (the first rule a file name matches), per unit."""
    totals: defaultdict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((name for name, needles in rules if any(n in filename for n in needles)), "other")
        totals[area] += tottime
    grand = sum(totals.values()) or 1
    return [
        {"area": area, f"ms_per_{unit}": round(t / max(count, 1) * 1000, 3), "share": round(t / grand * 100, 1)}
        for area, t in sorted(totals.items(), key=lambda item: -item[1])
    ]


def top(stats: pstats.Stats, count: int, unit: str, limit: int = 25) -> list[dict[str, Any]]:
    """The `limit` functions with the largest cumulative time, per unit (paths made short)."""
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "")
        where = re.sub(r"^.*?/site-packages/", "", where)
        rows.append((cumtime, tottime, calls, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    n = max(count, 1)
    return [
        {
            "function": label,
            f"cum_ms_per_{unit}": round(cum / n * 1000, 3),
            f"own_ms_per_{unit}": round(own / n * 1000, 3),
            f"calls_per_{unit}": round(calls / n, 1),
        }
        for cum, own, calls, label in rows[:limit]
    ]


def report_lines(prof: dict[str, Any], unit: str) -> list[str]:
    """The three tables of a profile result (`statements`, `areas`, `top_cumulative`) as text."""
    out = [f"  statements per {unit} (count, ms):"]
    out += [f"    {s[f'per_{unit}']:6.2f} {s[f'ms_per_{unit}']:7.2f}  {s['statement']}" for s in prof["statements"]]
    out.append(f"  own time by area (cProfile, ms per {unit}, share):")
    out += [f"    {a[f'ms_per_{unit}']:7.3f} {a['share']:5.1f} %  {a['area']}" for a in prof["areas"]]
    out.append(f"  top functions by cumulative time (ms per {unit}, own ms, calls per {unit}):")
    for t in prof["top_cumulative"]:
        cum, own, calls = t[f"cum_ms_per_{unit}"], t[f"own_ms_per_{unit}"], t[f"calls_per_{unit}"]
        out.append(f"    {cum:7.3f} {own:7.3f} {calls:7.1f}  {t['function']}")
    return out


def thin(progress: list[tuple[float, int]], every: float = 5.0) -> list[tuple[float, int]]:
    """One progress point per `every` seconds (and the last)."""
    kept: list[tuple[float, int]] = []
    for point in progress:
        if not kept or point[0] - kept[-1][0] >= every:
            kept.append(point)
    if progress and kept[-1] != progress[-1]:
        kept.append(progress[-1])
    return kept
