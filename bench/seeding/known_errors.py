"""The known error seed: `seed_known_errors()`, published known errors for the `incidents` scenario.

Issue 13's speed goal: incident creation must not slow down with 10,000 published known errors
(suggestions are computed when an incident's page or `/known-errors/` is read, never on create),
and the KEDB search's p95 at 10,000 is reported beside the incident list's. Each known error is
a problem in `known_error` (numbered from the problem sequence, which is advanced past them) with
its published article (title, symptoms, root cause, workaround), on one to three of the seeded
services. Texts are drawn from a vocabulary of components and failure modes, so a two-word query
matches a handful of articles and a one-word query hundreds, as in a real KEDB. COPY throughout.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from typing import Any

COMPONENTS = [
    "vpn gateway", "mail relay", "portal login", "payroll export", "printer queue", "wifi controller",
    "database replica", "backup agent", "certificate store", "dns resolver", "proxy cache", "sso broker",
    "file share", "calendar sync", "crm import", "ticket webhook", "billing batch", "laptop docking",
    "mobile app", "search index", "load balancer", "message broker", "storage array", "video bridge",
    "license server", "hr portal", "timesheet form", "invoice pdf", "report scheduler", "api token",
    "firewall rule", "disk quota", "antivirus scan", "patch rollout", "browser plugin", "kiosk terminal",
    "badge reader", "phone system", "chat client", "erp connector",
]  # fmt: skip
FAILURES = [
    "drops sessions", "times out", "rejects passwords", "returns error 500", "runs out of memory",
    "loses messages", "shows stale data", "fails after update", "hangs on startup", "duplicates records",
    "logs users out", "refuses connections", "corrupts attachments", "stops syncing", "uses full cpu",
    "expires too early", "blocks uploads", "sends wrong notifications", "crashes when printing", "slows down",
]  # fmt: skip
CAUSES = [
    "a connection pool too small for peak load", "an expired intermediate certificate",
    "a memory leak in the vendor library", "a misconfigured retry policy", "clock skew between nodes",
    "a full transaction log", "a race condition in the cache", "a firewall rule dropping idle sessions",
]  # fmt: skip
WORKAROUNDS = [
    "Restart the service on the affected node.", "Reconnect through the secondary gateway.",
    "Clear the local cache and sign in again.", "Retry the job after the nightly batch.",
    "Use the web client until the fix is rolled out.", "Raise the session timeout for the affected group.",
]  # fmt: skip


def _say(message: str) -> None:
    print(f"known error seed: {message}", file=sys.stderr, flush=True)


def query_words(index: int) -> str:
    """The text of the `kedb-search` step's `index`-th query: a component and a failure (few
    matches), every third a component word alone (many)."""
    component = COMPONENTS[(index * 7) % len(COMPONENTS)]
    if index % 3 == 2:
        return component.split()[0]
    return f"{component} {FAILURES[(index * 11) % len(FAILURES)].split()[0]}"


def seed_known_errors(count: int, service_ids: list[int], *, seed: int = 20261206) -> dict[str, Any]:
    """Seed `count` problems in `known_error`, each with its published known error article."""
    from django.db import connection
    from django.utils import timezone

    from bench.bulk import copy_rows
    from itsm.numbering import sequence_name
    from problems.models import KnownError, Problem

    if count <= 0:
        return {"known_errors": 0}
    rng = random.Random(seed)
    started = time.perf_counter()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(pg_sequence_last_value(%s::regclass), 0)", [sequence_name("problem")])
        (last_number,) = cursor.fetchone()
    first_number = last_number + 1
    texts = []
    problems = []
    for i in range(count):
        component, failure = rng.choice(COMPONENTS), rng.choice(FAILURES)
        title = f"{component.capitalize()} {failure} ({i % 991})"
        symptoms = f"The {component} {failure}, then {rng.choice(FAILURES)}."
        cause, workaround = f"{rng.choice(CAUSES).capitalize()}.", rng.choice(WORKAROUNDS)
        opened = now - timedelta(days=rng.uniform(1, 700))
        known = opened + timedelta(hours=rng.uniform(1, 240))
        texts.append((title, symptoms, cause, workaround, known))
        problems.append(
            {
                "number": f"PRB{first_number + i:07d}",
                "title": title,
                "description": symptoms,
                "state": "known_error",
                "source": "reactive",
                "service": rng.choice(service_ids) if service_ids else None,
                "root_cause": cause,
                "workaround": workaround,
                "opened_at": opened,
                "investigating_at": opened,
                "known_error_at": known,
                "updated_at": known,
            }
        )
    copy_rows(Problem, problems)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(%s, %s)", [sequence_name("problem"), first_number + count - 1])
    ids = dict(
        Problem.objects.filter(number__in=[p["number"] for p in problems]).values_list("number", "id").iterator()
    )
    articles = (
        {
            "problem": ids[p["number"]],
            "title": title,
            "symptoms": symptoms,
            "root_cause": cause,
            "workaround": workaround,
            "state": "published",
            "published_at": known,
            "updated_at": known,
        }
        for p, (title, symptoms, cause, workaround, known) in zip(problems, texts, strict=True)
    )
    copy_rows(KnownError, articles)
    article_ids = list(KnownError.objects.filter(problem_id__in=ids.values()).values_list("id", flat=True))
    if service_ids:
        copy_rows(
            KnownError.services.through,
            (
                {"knownerror": article, "service": service}
                for article in article_ids
                for service in rng.sample(service_ids, min(len(service_ids), rng.randint(1, 3)))
            ),
        )
    with connection.cursor() as cursor:
        for table in ("problems_problem", "problems_knownerror", "problems_knownerror_services"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    _say(f"{count:,} published known errors in {time.perf_counter() - started:,.1f} s")
    return {"known_errors": count, "first_problem_number": first_number}
