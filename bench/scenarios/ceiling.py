"""`ceiling`: what Django and DRF allow on this machine, beside the product's create and list.

The same gunicorn (`gunicorn.conf.py`, `--workers`), settings (`bench.ceiling.settings`: the
product's plus a bench-only app and URLconf), token authentication, permission, throttling and
middleware (the query counter included) as the `incidents` scenario, serving the least a DRF
endpoint can do (`bench.ceiling.views.Notes`): `ceiling-create` POSTs one row of a trivial
table through a ModelSerializer, `ceiling-list` GETs the newest 50 rows. Their load (requests,
concurrency, time limit, expected status) is copied from the incidents scenario's `create` and
`list` steps, so `create / ceiling-create` and `list / ceiling-list` say how close the product
comes to the framework's ceiling. The seed writes `scale` rows (default 1,000) with COPY.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.registry import Request, RequestContext, Scenario, Step, register
from bench.scenarios import incidents

PATH = "/api/v1/bench-ceiling/notes/"  # bench.ceiling.urls.CEILING_PATH
SETTINGS = "bench.ceiling.settings"


def seed(scale: int) -> dict[str, Any]:
    """`scale` rows in the ceiling's table (the list reads the newest 50)."""
    from bench.bulk import copy_rows
    from bench.ceiling.models import Note

    rows = copy_rows(Note, ({"title": f"Note {i}", "body": f"Seeded note number {i}."} for i in range(scale)))
    return {"rows": rows}


def create(ctx: RequestContext) -> Request:
    """A unique row per request, about the size of an incident's title and description."""
    n = ctx.index
    return Request(
        PATH,
        json={
            "title": f"Bench create {ctx.worker}-{n}: cannot reach the portal",
            "body": f"Created by the benchmark, request {n}. Users report errors since this morning.",
        },
    )


def like(step_name: str, name: str, path: Any) -> Step:
    """A step with the load of the incidents scenario's `step_name` (same requests, concurrency,
    time limit, method and expected statuses), on another path."""
    return dataclasses.replace(incidents.SCENARIO.step(step_name), name=name, path=path)


register(
    Scenario(
        name="ceiling",
        default_scale=1_000,
        seed=seed,
        description="Framework ceiling: a trivial DRF create and 50-row list on the product's stack.",
        settings=SETTINGS,
        steps=[like("create", "ceiling-create", create), like("list", "ceiling-list", PATH)],
    )
)
