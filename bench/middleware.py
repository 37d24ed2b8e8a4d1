"""Counts the SQL queries of each request and returns the number in `X-Query-Count`.

Never in the default MIDDLEWARE: the benchmark switches it on with
`EXTRA_MIDDLEWARE=bench.middleware.QueryCountMiddleware`. Settings append it last, so it wraps
the view and the middlewares inside it; queries that outer middlewares make lazily during the
view (the session, the user) are counted too, since they run while the wrapper is installed.
"""

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse

HEADER = "X-Query-Count"


class _Counter:
    """An execute wrapper (see Django's "Database instrumentation") that only counts."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class QueryCountMiddleware:
    """Adds `X-Query-Count: <n>`, the number of SQL statements run while handling the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _Counter()
        with ExitStack() as stack:
            # Every configured alias: a practice may read from a second database one day.
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(counter))
            response = self.get_response(request)
        response[HEADER] = str(counter.count)
        return response
