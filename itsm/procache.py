"""Per-process caches of rarely changing look-ups, invalidated across processes by a version key.

The hot request paths (token authentication, an alert naming its service) read the same few rows
thousands of times a minute; an ORM query costs far more than the lookup itself. A
`VersionedCache` keeps loaded values in this process for as long as a *version* stored in
Django's cache (Redis in production, shared by every web and worker process) stays the same.
Whatever changes the underlying rows calls `changed()`, which sets a new version once the
transaction commits, so every process reloads on its next read. Three safety nets:

* inside a transaction that changed the rows (its bump still waits for the commit) reads go to
  the loader and cache nothing, so the transaction sees its own changes and a rollback leaves
  nothing stale behind;
* with no usable shared cache (Redis down or failing, remembered for a second so requests do not
  wait on it; a process-local LocMem cache outside tests) every read goes to the loader;
* entries expire after `max_age` seconds even if no version change arrives (a bulk
  `QuerySet.update()` sends no signal).

The version is read from the cache at most once a second per process (`version_ttl`), so a change
reaches other processes within about a second; the loader runs once per process and version.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)
_MISSING = object()
_instances: list[VersionedCache] = []


def bump_all() -> None:
    """Set a new version of every cache (after migrate or a test flush: rows changed without signals)."""
    for instance in _instances:
        instance.bump()


def clear_all() -> None:
    """Forget every cache's entries in this process (tests: rolled-back rows send no signal)."""
    for instance in _instances:
        instance.clear()


def shared_cache_available() -> bool:
    """True when Django's default cache is seen by every process (so a version bump reaches all).

    LocMem is per process: only trusted in tests, where one process does everything.
    """
    backend = settings.CACHES["default"]["BACKEND"]
    return "locmem" not in backend.lower() or getattr(settings, "TESTING", False)


# How long a thread that changed the cached rows inside a transaction reads the database instead
# of the cache. The flag is cleared by the bump after commit; a rollback leaves it to expire.
CHANGED_FOR = 60.0


class _Bump:
    """An after-commit hook setting a new version of one cache (one per change: a bump is idempotent)."""

    def __init__(self, owner: VersionedCache) -> None:
        self.owner = owner

    def __call__(self) -> None:
        self.owner._local.changed_until = 0.0
        self.owner.bump()


class VersionedCache:
    """Values loaded once per process and version; see the module docstring."""

    def __init__(
        self, name: str, *, max_age: float = 300.0, max_entries: int = 10_000, version_ttl: float = 1.0
    ) -> None:
        self.name = name
        self.version_key = f"itsm:procache:{name}:version"
        self.max_age = max_age
        self.max_entries = max_entries
        self.version_ttl = version_ttl
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: "this thread's open transaction changed the rows"
        self._version: str | None = None
        self._version_read_at = float("-inf")
        self._unavailable_until = float("-inf")
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        _instances.append(self)

    # --- writers -------------------------------------------------------------------------------
    def bump(self) -> None:
        """Set a new version now: every process reloads on its next read.

        The write is checked and tried once more: django-redis ignores errors, and a lost bump
        would leave the other processes on old entries until `max_age`.
        """
        version = uuid.uuid4().hex
        for _attempt in range(2):
            try:
                cache.set(self.version_key, version, None)
                if cache.get(self.version_key) == version:
                    break
            except Exception:  # logged below; the entries still expire at max_age
                pass
        else:
            logger.warning(
                "Could not store a new version of the %s cache: other processes keep it up to %.0f s",
                self.name,
                self.max_age,
            )
        self.clear()

    def clear(self) -> None:
        """Forget this process's entries (tests; a bump does it too)."""
        with self._lock:
            self._entries = {}
            self._version = None
            self._version_read_at = float("-inf")
            self._unavailable_until = float("-inf")
        self._local.changed_until = 0.0

    def changed(self) -> None:
        """The cached rows changed in the current transaction: bump the version once it commits."""
        connection = transaction.get_connection()
        if not connection.in_atomic_block:
            self.bump()
            return
        self._local.changed_until = time.monotonic() + CHANGED_FOR
        transaction.on_commit(_Bump(self))

    def forget_change(self) -> None:
        """Tests: act as if this thread had not changed the rows (as when another process changed them)."""
        self._local.changed_until = 0.0

    def _changed_here(self, connection) -> bool:
        """Whether this thread's open transaction changed the cached rows (then it reads the database)."""
        return connection.in_atomic_block and getattr(self._local, "changed_until", 0.0) > time.monotonic()

    # --- readers -------------------------------------------------------------------------------
    def _current_version(self, now: float) -> str | None:
        if not shared_cache_available():
            return None
        # The version is re-read at most every `version_ttl` seconds: a change reaches the other
        # processes that much later, and a lookup costs no cache round trip in between.
        version = self._version
        if version is not None and now - self._version_read_at < self.version_ttl:
            return version
        if now < self._unavailable_until:
            return None  # the cache failed a moment ago: straight to the loader, no waiting on it
        try:
            version = cache.get(self.version_key)
            if version is None:
                cache.add(self.version_key, uuid.uuid4().hex, None)
                version = cache.get(self.version_key)
        except Exception:  # any cache failure (django-redis ignores only some): read the database
            version = None
        if version is None:
            self._unavailable_until = now + max(self.version_ttl, 1.0)
            return None
        with self._lock:
            if version != self._version:
                self._entries = {}
                self._version = version
            self._version_read_at = now
        return version

    def get(self, key: Hashable, loader: Callable[[], Any], *, cache_none: bool = True) -> Any:
        """The value for `key`, from this process when its version is current, else `loader()`.

        `cache_none=False`: a None from the loader is not kept (look-ups keyed by untrusted input,
        such as presented API tokens, must not let anyone fill the cache).
        """
        connection = transaction.get_connection()
        if self._changed_here(connection):
            return loader()
        now = time.monotonic()
        version = self._current_version(now)
        if version is None:
            return loader()
        with self._lock:
            entry = self._entries.get(key, _MISSING) if version == self._version else _MISSING
        if entry is not _MISSING and now - entry[0] < self.max_age:
            return entry[1]
        value = loader()
        if value is None and not cache_none:
            return value
        with self._lock:
            if self._version == version:
                if len(self._entries) >= self.max_entries:
                    self._entries = {}
                self._entries[key] = (now, value)
        return value
