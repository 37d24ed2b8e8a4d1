"""The private Redis databases the Celery-driven tools use as their broker.

`bench.sla_sweep` and `bench.webhooks` each run real workers on a Redis database of their own:
it is flushed before and after a run, so it must hold nothing but Celery's keys.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bench.db import BenchError

# Keys kombu's Redis transport keeps for the default queue; anything else means the database
# is someone else's and must not be flushed.
KOMBU_KEY = re.compile(r"^(celery|_kombu\..*|unacked.*|celeryev.*)$")


def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def check_private_broker(url: str) -> None:
    """Refuse a Redis database holding anything but Celery's own keys; flush it otherwise."""
    client = _client(url)
    foreign = [key for key in client.scan_iter(count=1000) if not KOMBU_KEY.match(key.decode(errors="replace"))]
    if foreign:
        raise BenchError(f"{url} holds keys that are not Celery's (e.g. {foreign[0]!r}): pass a private --broker")
    client.flushdb()


def queue_length(url: str) -> int:
    """Messages waiting in the default queue plus those delivered but not acknowledged, except
    ETA tasks a worker holds for later (`check_sla_clock` of a clock's next warning): they are
    scheduled work, not a backlog, and would keep a drain waiting until their time."""
    client = _client(url)
    now = datetime.now(UTC)
    waiting = 0
    for raw in client.hvals("unacked"):
        try:
            eta = json.loads(raw)[0]["headers"].get("eta")
        except (ValueError, KeyError, IndexError, TypeError):
            eta = None
        if not eta or datetime.fromisoformat(eta) <= now:
            waiting += 1
    return int(client.llen("celery")) + waiting


def redis_cpu_seconds(url: str) -> float:
    """CPU seconds of the whole Redis server so far (shared with others: an upper bound for us)."""
    info = _client(url).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
