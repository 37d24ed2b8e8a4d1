"""Liveness and readiness probes (no authentication)."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    from itsm.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming what failed."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    failed = {name: problem for name, problem in checks.items() if problem}
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": {name: (problem or "ok") for name, problem in checks.items()},
    }
    if failed:
        logger.warning("readiness failed: %s", failed)
        body["detail"] = "; ".join(failed.values())
        return JsonResponse(body, status=503)
    return JsonResponse(body)
