"""`incidents`: the incident API and the agents' console at scale (issue 3, item 9).

The seed is `bench.seeding.incidents.seed_incidents` (default 20,000 incidents; a million takes
minutes), plus a logged-in session for the admin step.

Steps: create through the API at concurrency 8; the first list page (50 and 200 rows, to show
the query count does not grow with the page), a filtered page, a page per assignment group, a
walk 50 pages deep along `next` links, a jump to a cursor in the middle of the table, a 30-day
window a year back (`opened_after`/`opened_before`) in the default order and by `opened_at`, the detail
by id and by number, the transitions list, the admin changelist (logged in with a session
the seed creates for the bench administrator), the public status page and its Atom feed
(anonymous, served from the cache), and the known error database (issue 13): the seed adds
10,000 published known errors (or `--scale` of them, whichever is fewer) before any step runs,
so `create` is measured with them in place (suggestions are computed on read, never on create),
`kedb-search` ranks them (`/api/v1/known-errors/?q=`, the GIN index of problems 0002) and
`kedb-suggest` reads an open incident's suggestions. Issue 14 adds the console's dashboard
(`dashboard`, as the administrator, who sees the manager charts) and two reports over the last
year by week and service (`report-mttr`, `report-sla-compliance`).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from bench.registry import Request, RequestContext, Scenario, Step, register

ADMIN_SESSION_DAYS = 14
KNOWN_ERRORS = 10_000


def admin_session(username: str) -> str:
    """A logged-in Django session for `username` (the admin step sends it as a cookie)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(timedelta(days=ADMIN_SESSION_DAYS))
    session.create()
    return session.session_key


def seed(scale: int) -> dict[str, Any]:
    """The scenario's seed: incidents, clocks, timeline, and a session for the admin step."""
    from bench.procs import ADMIN_USERNAME
    from bench.seeding.incidents import seed_incidents
    from bench.seeding.known_errors import seed_known_errors
    from itsm.models import Service

    data = seed_incidents(scale)
    data["session"] = admin_session(ADMIN_USERNAME)
    service_ids = list(Service.objects.filter(slug__in=data["services"]).values_list("id", flat=True))
    data.update(seed_known_errors(min(KNOWN_ERRORS, scale), service_ids))
    return data


# --- request factories -----------------------------------------------------------------------------
LIST = "/api/v1/incidents/"
WALK_DEPTH = 50
_walk_depth: dict[int, int] = {}  # load thread -> pages walked so far (threads of one process)


def create(ctx: RequestContext) -> Request:
    """A unique new incident on one of the seeded services."""
    services = ctx.seed_data["services"]
    n = ctx.index
    return Request(
        LIST,
        json={
            "title": f"Bench create {ctx.worker}-{n}: cannot reach the portal",
            "description": f"Created by the benchmark, request {n}. Users report errors since this morning.",
            "service": services[(n * 7) % len(services)],
            "impact": 1 + n % 3,
            "urgency": 1 + (n // 3) % 3,
            "caller_name": f"Bench caller {n}",
            "caller_email": f"bench-caller-{n}@example.org",
        },
    )


def by_group(ctx: RequestContext) -> str:
    """Each request reads another group's queue."""
    groups = ctx.seed_data["groups"]
    return f"{LIST}?assignment_group={groups[ctx.index % len(groups)]}"


def walk(ctx: RequestContext) -> str:
    """Follow `next` links from the first page, 50 pages deep, then start again."""
    depth = _walk_depth.get(ctx.worker, 0)
    last = ctx.last_response
    link = None
    if last is not None and last.status_code == 200 and depth < WALK_DEPTH:
        link = last.json().get("next")
    _walk_depth[ctx.worker] = depth + 1 if link else 1
    return link or LIST


def deep_cursor(ctx: RequestContext) -> str:
    """Jump to a cursor anywhere in the table (DRF's cursor: base64 of `p=<last id seen>`)."""
    data = ctx.seed_data
    position = data["first_id"] + (ctx.index * 7919 + data["incidents"] // 2) % max(data["incidents"], 1)
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    return f"{LIST}?cursor={cursor}"


def _month_a_year_ago() -> str:
    """`opened_after`/`opened_before` of a 30-day window a year back (the seed spans two years to now)."""
    from urllib.parse import quote

    end = datetime.now().astimezone() - timedelta(days=365)
    start = end - timedelta(days=30)
    after, before = (quote(moment.isoformat(timespec="seconds")) for moment in (start, end))
    return f"opened_after={after}&opened_before={before}"


def dated(ctx: RequestContext) -> str:
    """A date-bounded list in the default order (newest id first): an old window, far from the newest rows."""
    return f"{LIST}?{_month_a_year_ago()}"


def dated_by_opened(ctx: RequestContext) -> str:
    """The same window ordered by `opened_at` (the opened_at index answers it)."""
    return f"{LIST}?{_month_a_year_ago()}&ordering=-opened_at"


def _seeded_id(ctx: RequestContext) -> int:
    """Seeded incidents spread over the whole table (a prime stride), not the few hot newest ones."""
    data = ctx.seed_data
    return data["first_id"] + (ctx.index * 104_729) % max(data["incidents"], 1)


def detail(ctx: RequestContext) -> str:
    return f"{LIST}{_seeded_id(ctx)}/"


def detail_by_number(ctx: RequestContext) -> str:
    data = ctx.seed_data
    return f"{LIST}INC{data['first_number'] + _seeded_id(ctx) - data['first_id']:07d}/"


def transitions(ctx: RequestContext) -> str:
    sample = ctx.seed_data["open_sample"]
    return f"{LIST}{sample[ctx.index % len(sample)]}/transitions/"


def kedb_search(ctx: RequestContext) -> str:
    """A KEDB search: a component and a failure (a few hits), every third a single word (hundreds)."""
    from urllib.parse import quote

    from bench.seeding.known_errors import query_words

    return f"/api/v1/known-errors/?q={quote(query_words(ctx.index))}"


def kedb_suggest(ctx: RequestContext) -> str:
    """An open incident's known error suggestions (computed on read)."""
    sample = ctx.seed_data["open_sample"]
    return f"{LIST}{sample[(ctx.index * 13) % len(sample)]}/known-errors/"


def dashboard(ctx: RequestContext) -> Request:
    """The console's home page (the dashboard), as the bench administrator: agent and manager widgets."""
    return Request("/admin/", headers={"Cookie": f"sessionid={ctx.seed_data['session']}"})


def _year_by_week_by_service(name: str) -> str:
    """A report over the last year (to tomorrow, exclusive), by week and service (issue 14)."""
    from datetime import date

    end = date.today() + timedelta(days=1)
    start = end - timedelta(days=365)
    return f"/api/v1/reports/{name}/?from={start}&to={end}&interval=week&group_by=service"


def report_mttr(ctx: RequestContext) -> str:
    return _year_by_week_by_service("mttr")


def report_sla_compliance(ctx: RequestContext) -> str:
    return _year_by_week_by_service("sla-compliance")


def admin_changelist(ctx: RequestContext) -> Request:
    """The console's incident list, as the bench administrator (session cookie, no token)."""
    return Request("/admin/incidents/incident/", headers={"Cookie": f"sessionid={ctx.seed_data['session']}"})


SCENARIO = register(
    Scenario(
        name="incidents",
        default_scale=20_000,
        seed=seed,
        description="Incident API (create, lists, cursor pages, detail, transitions) and the admin changelist.",
        static_files=True,
        # Reads at concurrency 2, one request per gunicorn worker: the latency is the request's
        # own, not time spent queued behind another client. Creates at 8, as issue 3 asks.
        steps=[
            Step("create", create, method="POST", requests=2000, concurrency=8, time_limit=180, expect=(201,)),
            Step("list", LIST, requests=500, concurrency=2),
            Step("list-200", f"{LIST}?page_size=200", requests=200, concurrency=2),
            Step("filtered", f"{LIST}?state=new,in_progress&priority=1,2", requests=500, concurrency=2),
            Step("by-group", by_group, requests=500, concurrency=2),
            Step("walk-50", walk, requests=500, concurrency=2),
            Step("deep-cursor", deep_cursor, requests=500, concurrency=2),
            Step("dated", dated, requests=100, concurrency=2),
            Step("dated-by-opened", dated_by_opened, requests=500, concurrency=2),
            Step("detail", detail, requests=500, concurrency=2),
            Step("by-number", detail_by_number, requests=500, concurrency=2),
            Step("transitions", transitions, requests=500, concurrency=2),
            Step("admin", admin_changelist, auth=False, requests=200, concurrency=2, time_limit=120),
            # The public status page and its feed, anonymous, from the cache (issue 12: at least
            # 20x the list's requests per second, no database query per cached request).
            Step("status-page", "/status/", auth=False, requests=2000, concurrency=2),
            Step("status-feed", "/status/feed.atom", auth=False, requests=1000, concurrency=2),
            # Issue 13: the KEDB at 10,000 published known errors (p95 beside the list's).
            Step("kedb-search", kedb_search, requests=500, concurrency=2),
            Step("kedb-suggest", kedb_suggest, requests=500, concurrency=2),
            # Issue 14: the dashboard (goal: p95 10x under the peer's staff dashboard) and two
            # reports over a year by week by service (goal: no slower than the peer's dashboard).
            Step("dashboard", dashboard, auth=False, requests=200, concurrency=2, time_limit=120),
            Step("report-mttr", report_mttr, requests=30, concurrency=2, time_limit=300),
            Step("report-sla-compliance", report_sla_compliance, requests=30, concurrency=2, time_limit=300),
        ],
    )
)
