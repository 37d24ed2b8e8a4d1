"""Per-token rate limits: a sliding-window counter, two integers per token in the cache.

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry that it reads,
rewrites and re-pickles on each request: at an alert-intake rate of thousands a minute that list
is the most expensive part of the request. Here each token has one counter per fixed window;
the rate is estimated as the current window's count plus the previous window's count weighted by
how much of it still lies within one window of now (the approximation Cloudflare and others use;
exact at the window edges, and never lets more than twice the rate through in any window). On
Redis one pipelined round trip (INCRBY and EXPIRE of this window's counter, GET of the previous
one) reserves the request, plus a DECRBY for what is refused; at rates of 1,000 or more a window
a process reserves a small batch at once, lets the rest of it through without asking again and
gives back what it did not use when the next window starts (`grant_batch`). Other cache backends
use get_many and incr. If the cache is down, the throttle lets the request through: degrading
open, never a 500.
"""

from __future__ import annotations

import threading
import time

from rest_framework.throttling import SimpleRateThrottle

# Requests this process reserved in Redis and may still let through without asking again:
# token's counter key -> (window index, requests left).
_grants: dict[str, tuple[int, int]] = {}
_grants_lock = threading.Lock()


def grant_batch(limit: int) -> int:
    """How many requests a process reserves per Redis round trip: 1 (exact) below 1,000 a window.

    At 6,000/min a process asks Redis once per 50 requests. While a window lasts, what other
    processes reserved and have not used yet counts against it (at most batch - 1 each), so the
    limit is reached that much early; at the next window each process gives back what it did
    not use, so the previous window's weight in the sliding estimate is exact again.
    """
    return max(1, min(50, limit // 1000 * 10))


def forget_local_grants() -> None:
    """Drop this process's reserved requests (tests; they would otherwise outlive a flushed cache)."""
    with _grants_lock:
        _grants.clear()


def _take_local_grant(key: str, window: int) -> bool:
    with _grants_lock:
        held, left = _grants.get(key, (window, 0))
        if held != window or left <= 0:
            return False
        _grants[key] = (window, left - 1)
        return True


def _unused_grant(key: str, window: int) -> int:
    """Requests this process reserved in the window before `window` and did not use (forgotten now)."""
    with _grants_lock:
        held, left = _grants.get(key, (window, 0))
        if held == window:
            return 0
        del _grants[key]
        return left if held == window - 1 else 0


def _keep_local_grant(key: str, window: int, left: int) -> None:
    with _grants_lock:
        if len(_grants) > 10_000:  # tokens gone quiet: a fresh start costs one round trip each
            _grants.clear()
        held, already = _grants.get(key, (window, 0))
        _grants[key] = (window, left + (already if held == window else 0))


def _redis_client(cache):
    """django-redis's client of `cache` (for a pipeline), or None for other cache backends."""
    client = getattr(cache, "client", None)
    return client if client is not None and hasattr(client, "get_client") and hasattr(client, "make_key") else None


class TokenRateThrottle(SimpleRateThrottle):
    """Per-token (per user) rate for the API, `API_THROTTLE_RATE`; per IP for anonymous calls."""

    scope = "token"

    def timer(self) -> float:
        # A method rather than DRF's `timer = time.time` class attribute, so that clock-faking
        # tools (freezegun in tests) patch it cleanly.
        return time.time()

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window = float(self.duration)
        self.now = now = self.timer()
        index = int(now // window)
        current_key, previous_key = f"{self.key}:{index}", f"{self.key}:{index - 1}"
        into_window = (now - index * window) / window  # 0..1: how far into the current window
        redis = _redis_client(self.cache)
        if redis is not None:
            if _take_local_grant(self.key, index):
                return True
            return self._allow_on_redis(redis, index, current_key, previous_key, into_window, window)
        counts = self.cache.get_many([current_key, previous_key]) or {}
        current, previous = int(counts.get(current_key) or 0), int(counts.get(previous_key) or 0)
        if previous * (1.0 - into_window) + current >= self.num_requests:
            self._wait = self._seconds_until_allowed(current, previous, into_window, window)
            return False
        self._count(current_key, window)
        return True

    def _allow_on_redis(
        self, redis, index: int, current_key: str, previous_key: str, into_window: float, window: float
    ) -> bool:
        """One round trip: reserve this request (and, at high rates, a few more for this process),
        give back what this process left unused in the previous window, read that window's count;
        then give back what does not fit."""
        current_name, previous_name = redis.make_key(current_key), redis.make_key(previous_key)
        batch = grant_batch(self.num_requests)
        unused = _unused_grant(self.key, index)
        ttl = int(2 * window) + 1
        try:
            client = redis.get_client(write=True)
            pipe = client.pipeline(transaction=False)
            pipe.incrby(current_name, batch)
            pipe.expire(current_name, ttl)
            if unused:
                pipe.decrby(previous_name, unused)
            pipe.get(previous_name)
            replies = pipe.execute()
        except Exception:  # Redis down or failing: degrade open, never a 500
            return True
        current, previous = int(replies[0]) - batch, max(0, int(replies[-1] or 0))  # reserved before this call
        fits = int(self.num_requests - previous * (1.0 - into_window) - current + 0.999999)  # ceil, as `<`
        granted = max(0, min(batch, fits))
        if granted < batch:
            try:  # refused requests do not use up the budget (EXPIRE: a DECRBY may recreate the key)
                give_back = client.pipeline(transaction=False)
                give_back.decrby(current_name, batch - granted)
                give_back.expire(current_name, ttl)
                give_back.execute()
            except Exception:  # best effort: the window ends soon anyway
                pass
        if granted:
            _keep_local_grant(self.key, index, granted - 1)
            return True
        self._wait = self._seconds_until_allowed(current, previous, into_window, window)
        return False

    def _count(self, key: str, window: float) -> None:
        try:
            self.cache.incr(key)
        except ValueError:  # no counter yet in this window (or it just expired)
            if not self.cache.add(key, 1, timeout=int(2 * window) + 1):
                try:
                    self.cache.incr(key)  # another request created it first
                except ValueError:
                    pass

    def _seconds_until_allowed(self, current: int, previous: int, into_window: float, window: float) -> float:
        limit = self.num_requests
        if current < limit and previous > 0:
            # The previous window's weight must shrink until the estimate drops below the limit.
            needed = 1.0 - (limit - current) / previous
            return max((needed - into_window) * window + 0.001, 1.0)  # strictly past the edge
        # This window alone is at the limit: wait for the next one, and for this one's weight
        # (carried into the next window as "previous") to shrink enough.
        rest = (1.0 - into_window) * window
        carried = max(0.0, 1.0 - limit / current) if current else 0.0
        return max(rest + carried * window + 0.001, 1.0)

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class AlertRateThrottle(TokenRateThrottle):
    """A separate bucket for alert ingestion (`ALERT_THROTTLE_RATE`): a storm never blocks the API."""

    scope = "alerts"
