"""The load generator: drives one step in its own process, `python -m bench.load < spec.json`.

A separate process keeps the client's CPU and memory apart from the runner's. It reads a JSON
spec on stdin (`scenario`, `step`, `base_url`, `token`, `requests`, `concurrency`,
`time_limit`, `scale`, `seed_data`), sends at most `requests` requests from `concurrency`
threads (one keep-alive httpx client each), stops issuing new ones at the time limit (those in
flight get DRAIN_SECONDS more), and prints one JSON summary on stdout. It only ever talks to
the loopback server it was given.
"""

from __future__ import annotations

import http.client
import json
import math
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.registry import RequestContext, Step, get

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_ERROR_SAMPLES = 5
REQUEST_TIMEOUT = 30.0
# A request in flight at the step's time limit may finish within this many seconds: being cut
# off by the harness's own deadline is not the server's error.
DRAIN_SECONDS = 10.0


@dataclass
class _Tally:
    """What the threads collect; guarded by `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_index: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    query_counts: list[int] = field(default_factory=list)
    missing_query_count: int = 0
    errors: int = 0
    completed: int = 0  # requests answered, failed in transport, or not built at all
    samples: list[dict[str, Any]] = field(default_factory=list)

    def take(self, limit: int) -> int | None:
        """The next request index, or None once `limit` have been handed out."""
        with self.lock:
            if self.next_index >= limit:
                return None
            self.next_index += 1
            return self.next_index - 1

    def error(self, sample: dict[str, Any], answered: bool = False) -> None:
        """Count an error (`answered`: a response already counted as completed); keep the first few."""
        with self.lock:
            self.errors += 1
            if not answered:
                self.completed += 1
            if len(self.samples) < MAX_ERROR_SAMPLES:
                self.samples.append(sample)


def check_loopback(url: str) -> None:
    """Refuse any target that is not this machine: the harness never leaves loopback."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing a non-loopback target: {url}")


def relative_path(path: str, base_url: str) -> str:
    """`path` as given, or an absolute `next` link of the same server made relative."""
    if path.startswith("/"):
        return path
    parts, base = urlsplit(path), urlsplit(base_url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        raise ValueError(f"a request factory gave a URL of another server: {path}")
    return parts.path + (f"?{parts.query}" if parts.query else "")


def percentile(sorted_values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class LightResponse:
    """A response as request factories see it: the part of httpx.Response the scenarios use."""

    def __init__(self, status_code: int, headers: Message, content: bytes, method: str, url: str) -> None:
        self.status_code = status_code
        self.headers = headers  # case-insensitive .get(), like httpx's Headers
        self.content = content
        self.request = SimpleNamespace(method=method, url=url)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class LightClient:
    """One keep-alive HTTP/1.1 connection (http.client), reopened when the server closes it.

    A third of httpx's CPU per request (measured: 0.34-0.54 ms against 1.0-1.35 ms): on a
    two-core machine that runs the server, PostgreSQL and the load, the client's CPU is taken
    from the server being measured. Only loopback, only plain HTTP, no proxies, no redirects.
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.base_url = parts.hostname, parts.port or 80, base_url.rstrip("/")
        self.headers = headers
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, *, json_body: Any, headers: dict[str, str], timeout: float
    ) -> LightResponse:
        body = None
        sent = {**self.headers, **headers}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        try:
            self.conn.request(method, path, body=body, headers=sent)
            raw = self.conn.getresponse()
            content = raw.read()
        except Exception:
            self.close()
            raise
        if raw.will_close:
            self.close()
        return LightResponse(raw.status, raw.msg, content, method, self.base_url + path)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _next_request(
    worker: int, step: Step, spec: dict[str, Any], tally: _Tally, deadline: float, last: Any
) -> tuple[int, Any, str, float] | None:
    """This thread's next (index, request, relative path, seconds left), or None when the step's
    requests are handed out or its time is up. A factory that raises counts as an error."""
    while (index := tally.take(spec["requests"])) is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ctx = RequestContext(
            index=index, worker=worker, scale=spec["scale"], seed_data=spec["seed_data"], last_response=last
        )
        try:
            request = step.build(ctx)
            return index, request, relative_path(request.path, spec["base_url"]), remaining
        except Exception as exc:  # a broken factory is a harness error, reported like any other
            tally.error({"index": index, "status": "factory", "body": repr(exc)[:300]})
    return None


def _worker(worker: int, step: Step, spec: dict[str, Any], tally: _Tally, deadline: float) -> None:
    if spec.get("client", "http") == "httpx":
        _httpx_worker(worker, step, spec, tally, deadline)
        return
    base_url = spec["base_url"]
    headers = {"Authorization": f"Token {spec['token']}"} if step.auth else {}
    client = LightClient(base_url, headers)
    last: LightResponse | None = None
    try:
        while (planned := _next_request(worker, step, spec, tally, deadline, last)) is not None:
            index, request, path, remaining = planned
            method = request.method
            started = time.perf_counter()
            try:
                response = client.request(
                    method,
                    path,
                    json_body=request.json,
                    headers=dict(request.headers),
                    timeout=min(REQUEST_TIMEOUT, remaining + DRAIN_SECONDS),
                )
            except (OSError, http.client.HTTPException) as exc:
                last = None
                status = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                tally.error({"index": index, "method": method, "path": path, "status": status})
                continue
            last = response
            _record(tally, step, index, method, path, response, (time.perf_counter() - started) * 1000)
    finally:
        client.close()


def _record(tally: _Tally, step: Step, index: int, method: str, path: str, response, elapsed_ms: float) -> None:
    queries = response.headers.get("X-Query-Count")
    with tally.lock:
        tally.latencies_ms.append(elapsed_ms)
        key = str(response.status_code)
        tally.statuses[key] = tally.statuses.get(key, 0) + 1
        tally.completed += 1
        if queries is not None and queries.isdigit():
            tally.query_counts.append(int(queries))
        else:
            tally.missing_query_count += 1
    if not step.is_success(response.status_code):
        tally.error(
            {
                "index": index,
                "method": method,
                "path": path,
                "status": response.status_code,
                "body": response.text[:300],
            },
            answered=True,
        )


def _httpx_worker(worker: int, step: Step, spec: dict[str, Any], tally: _Tally, deadline: float) -> None:
    base_url = spec["base_url"]
    headers = {"Authorization": f"Token {spec['token']}"} if step.auth else {}
    # trust_env=False: no proxy from the environment may redirect the traffic elsewhere.
    with httpx.Client(base_url=base_url, headers=headers, trust_env=False, follow_redirects=False) as client:
        last: httpx.Response | None = None
        while (planned := _next_request(worker, step, spec, tally, deadline, last)) is not None:
            index, request, path, remaining = planned
            started = time.perf_counter()
            try:
                response = client.request(
                    request.method,
                    path,
                    json=request.json,
                    headers=dict(request.headers),
                    timeout=min(REQUEST_TIMEOUT, remaining + DRAIN_SECONDS),
                )
            except httpx.HTTPError as exc:
                last = None
                status = "timeout" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
                tally.error({"index": index, "method": request.method, "path": path, "status": status})
                continue
            last = response
            _record(tally, step, index, request.method, path, response, (time.perf_counter() - started) * 1000)


def peak_rss_kb(pid: int | str = "self") -> int | None:
    """VmHWM (peak resident set size, kB) of a process from /proc, None if unavailable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Drive one step as the spec says and summarise it (see the module docstring)."""
    check_loopback(spec["base_url"])
    step = get(spec["scenario"]).step(spec["step"])
    tally = _Tally()
    concurrency = max(1, min(spec["concurrency"], spec["requests"]))
    started = time.perf_counter()
    deadline = time.monotonic() + spec["time_limit"]
    threads = [
        threading.Thread(target=_worker, args=(w, step, spec, tally, deadline), daemon=True) for w in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - started
    latencies = sorted(tally.latencies_ms)
    completed = tally.completed
    counts = sorted(tally.query_counts)
    return {
        "planned": spec["requests"],
        "completed": completed,
        "errors": tally.errors,
        "timed_out": completed < spec["requests"],
        "concurrency": concurrency,
        "duration_s": round(duration, 3),
        "throughput_rps": round(len(latencies) / duration, 1) if duration > 0 else 0.0,
        "latency_ms": {
            "p50": _round(percentile(latencies, 50)),
            "p95": _round(percentile(latencies, 95)),
            "p99": _round(percentile(latencies, 99)),
            "max": _round(latencies[-1] if latencies else None),
            "mean": _round(statistics.fmean(latencies) if latencies else None),
        },
        "queries": {
            "min": counts[0] if counts else None,
            "median": statistics.median_low(counts) if counts else None,
            "max": counts[-1] if counts else None,
            "missing": tally.missing_query_count,
        },
        "statuses": tally.statuses,
        "error_samples": tally.samples,
        "load_peak_rss_kb": peak_rss_kb(),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> int:
    """Read the spec from stdin, run the step, print the summary as JSON on stdout."""
    spec = json.load(sys.stdin)
    json.dump(run_step(spec), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
