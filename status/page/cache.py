"""The rendered status page and feed in Django's cache, so a flood of visitors costs no query.

Each rendering is stored with the generation it was built from and when it stops being fresh:
`invalidate()` bumps the generation (after commit, by the hooks in `registrations` and by the
maintenance use cases), so a stored rendering of an older generation is never served as fresh,
even one that finished building after the change. Freshness also ends with time (`TTL`, and
never past the next maintenance start or end), because availability and maintenance move on
their own. Stampede: when a rendering is stale, one request rebuilds it (a `cache.add` lock)
while the others keep serving the stale copy for a few seconds; with no copy at all, all build.

A fresh hit is one `get_many` on the cache and no database query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

TTL = 60  # seconds a rendering stays fresh at most
KEEP = 600  # seconds a stale rendering stays in the cache (served while one request rebuilds)
LOCK_SECONDS = 15
GENERATION = "status:page:generation"
PREFIX = "status:page:"


@dataclass(frozen=True)
class Rendered:
    """One cached rendering: the bytes, its content type, and until when it is fresh."""

    body: bytes
    content_type: str
    generation: int
    fresh_until: float  # time.time()


def invalidate() -> None:
    """Forget every cached rendering (the next request rebuilds). Call after commit."""
    try:
        cache.incr(GENERATION)
    except ValueError:  # no generation stored yet (or evicted): any stored rendering is now orphaned
        cache.set(GENERATION, int(time.time() * 1000), None)


def invalidate_on_commit() -> None:
    """`invalidate()` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(invalidate)


def ttl_for(now: datetime, next_change_at: datetime | None) -> float:
    """Seconds a rendering built at `now` stays fresh: TTL, shortened to the next maintenance change."""
    ttl = float(TTL)
    if next_change_at is not None:
        ttl = min(ttl, max(0.0, (next_change_at - now).total_seconds()))
    return ttl


def _generation(stored) -> int:
    if stored is None:
        generation = int(time.time() * 1000)
        cache.add(GENERATION, generation, None)
        return cache.get(GENERATION, generation)
    return stored


def get_or_build(name: str, build: Callable[[], tuple[bytes, str, datetime | None]]) -> Rendered:
    """The cached rendering `name`, built with `build()` -> (body, content type, next change) when
    missing or stale. Serving a fresh copy runs no database query."""
    key = PREFIX + name
    found = cache.get_many([key, GENERATION])
    rendered: Rendered | None = found.get(key)
    generation = found.get(GENERATION)
    if rendered is not None and rendered.generation == generation and rendered.fresh_until > time.time():
        return rendered
    generation = _generation(generation)
    lock = f"{key}:lock:{generation}"
    if rendered is not None and not cache.add(lock, 1, LOCK_SECONDS):
        return rendered  # someone else rebuilds: the stale copy for a few seconds
    now = timezone.now()
    body, content_type, next_change_at = build()
    rendered = Rendered(body, content_type, generation, time.time() + ttl_for(now, next_change_at))
    cache.set(key, rendered, KEEP)
    cache.delete(lock)
    return rendered
