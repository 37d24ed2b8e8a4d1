"""`alerts`: an alert storm, many trigger events over a few dedup keys, then a check of the result.

Seeds one service (with its owner group) that the alerts name. `scale` is the number of distinct
dedup keys (default 200). The `storm` step sends trigger events round-robin over the keys
(`storm-0` .. `storm-<scale-1>`) to `POST /api/v1/alerts/` at concurrency 16: 2,000 by default so
`make bench` stays short; the issue's full size is `--scenario alerts --requests 20000`.

The registry has no post-run hook, so the `verify` step checks the outcome through the API: it
asks for each key's incidents (`?dedup_key=`) and, from the second request of each load thread on,
checks the previous answer held exactly one incident. A key with no or several incidents turns
the next request into a GET of `/api/v1/bench-check-failed/<key>/<n>-incidents/`, a 404 that
shows up in the errors column and the error samples. `--requests` sets the storm's size only:
`verify` always checks each key once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.registry import Request, RequestContext, Scenario, Step, register

DEFAULT_KEYS = 200
SERVICE_SLUG = "bench-alerts"
SEVERITIES = ["critical", "error", "warning", "info"]


def seed(scale: int) -> dict[str, Any]:
    """One assignment group and the service the alerts name (incidents route to its owner group)."""
    from itsm.models import AssignmentGroup, Service

    group = AssignmentGroup.objects.create(name="Bench alert responders", email="bench-alerts@example.com")
    Service.objects.create(
        slug=SERVICE_SLUG,
        name="Bench alerting service",
        owner_group=group,
        criticality="high",
        downtime_cost_per_hour=5000,
    )
    return {"service": SERVICE_SLUG, "keys": scale}


def _key(ctx: RequestContext, index: int) -> str:
    return f"storm-{index % ctx.seed_data['keys']}"


def trigger(ctx: RequestContext) -> Request:
    """One trigger event; the same key comes back every `keys` requests."""
    key = _key(ctx, ctx.index)
    return Request(
        "/api/v1/alerts/",
        json={
            "action": "trigger",
            "dedup_key": key,
            "summary": f"Bench storm: {key} is failing",
            "source": f"bench-load-{ctx.worker}",
            "severity": SEVERITIES[ctx.index % ctx.seed_data["keys"] % len(SEVERITIES)],
            "service": ctx.seed_data["service"],
            "details": {"request": ctx.index, "worker": ctx.worker},
        },
    )


def verify(ctx: RequestContext) -> str:
    """List one key's incidents; fail loudly (a 404 path) if the previous key had not exactly one."""
    last = ctx.last_response
    if last is not None and last.status_code == 200:
        checked = parse_qs(urlsplit(str(last.request.url)).query).get("dedup_key", ["?"])[0]
        found = len(last.json().get("results", []))
        if found != 1:
            return f"/api/v1/bench-check-failed/{checked}/{found}-incidents/"
    return f"/api/v1/incidents/?dedup_key={_key(ctx, ctx.index)}&page_size=5"


register(
    Scenario(
        name="alerts",
        default_scale=DEFAULT_KEYS,
        seed=seed,
        description="Alert storm: trigger events over `scale` dedup keys (default 200), then one incident per key.",
        steps=[
            Step("storm", trigger, method="POST", requests=2_000, concurrency=16, time_limit=300, expect=(202,)),
            # One request per key plus one, so the last key's answer is checked too.
            Step(
                "verify",
                verify,
                requests=DEFAULT_KEYS + 1,
                concurrency=1,
                time_limit=120,
                expect=(200,),
                scalable=False,
            ),
        ],
    )
)
