"""Production web server settings (`gunicorn itsm.wsgi` reads this file from the working directory).

Python's cyclic garbage collector was the p95 tail of list requests in the benchmark (a full
collection walks every object the app loaded at start-up). Freezing the start-up objects after
fork keeps them out of every collection, and a larger young generation makes collections rarer.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500


def post_fork(server, worker) -> None:
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
