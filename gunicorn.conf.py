"""Production web server settings (`gunicorn itsm.wsgi` reads this file from the working directory).

Python's cyclic garbage collector was the p95 tail of list requests in the benchmark (a full
collection walks every object the app loaded at start-up). Freezing the start-up objects after
fork keeps them out of every collection, and a larger young generation makes collections rarer.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads with keep-alive: integrations (monitoring above all) send request after request on one
# connection; a sync worker closes each after one answer, so every alert paid a TCP handshake,
# and one slow request blocked its worker. Measured on the alert storm (2 workers, 2 cores): 489
# events/s with sync workers, 751-808/s with 4 threads each.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "30"))
# Recycling a worker (a guard against slow leaks) costs a second of start-up: at thousands of
# requests a minute, 5,000 meant a restart every minute or so.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = 10_000


def post_fork(server, worker) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
