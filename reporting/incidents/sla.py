"""SLA compliance per policy kind: clocks decided in the period, met / (met + breached).

A clock is decided once: met when it stopped in time (`stopped_at`, stage `met`), breached when
its target was reached (`breached_at`, stage `breached`, whether it still runs or has stopped
since). A cancelled clock (the incident cancelled, or the clock replaced by another policy) is
never counted, and a running or paused one is not decided yet. A resolution clock met and then
resumed by a reopen counts where it is decided in the end. Rows group by the clock's incident
dimensions (the incident's current priority, service, ...).
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q

from incidents.models import ClockStage, SlaClock
from itsm.choices import SlaKind
from reporting.params import ReportParams
from reporting.periods import bucket_day, bucket_start
from reporting.registry import Column, Report, register
from reporting.rows import assemble, grouped, ratio

KINDS = (SlaKind.RESPONSE, SlaKind.RESOLUTION)
COLUMNS = tuple(
    column
    for kind in KINDS
    for column in (
        Column(f"{kind}_met", f"{kind.label} met"),
        Column(f"{kind}_breached", f"{kind.label} breached"),
        Column(f"{kind}_compliance", f"{kind.label} compliance", "ratio"),
    )
)

# When a clock was decided, per outcome: one query each, on the partial index of that outcome, which
# holds every column the query reads without grouping (an index-only scan; grouped, the join to incidents).
DECIDED = ((ClockStage.MET, "stopped_at"), (ClockStage.BREACHED, "breached_at"))
COUNTED = tuple(f"{kind}_{stage}" for kind in KINDS for stage, _ in DECIDED)


def sla_compliance(params: ReportParams) -> list[dict]:
    """The SLA compliance rows of `params` (see the module docstring)."""
    merged: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    for stage, moment in DECIDED:
        qs = SlaClock.objects.filter(stage=stage, **{f"{moment}__gte": params.start_at, f"{moment}__lt": params.end_at})
        counts = {f"{kind}_{stage}": Count("incident_id", filter=Q(kind=kind)) for kind in KINDS}
        for agg in grouped(qs, moment, params, "incident__", **counts):
            slot = merged[(bucket_start(bucket_day(agg["bucket"]), params.interval), agg.get("key"))]
            for name in counts:
                slot[name] += agg[name]

    def metrics(agg) -> dict:
        out = {}
        for kind in KINDS:
            met = agg[f"{kind}_met"] if agg else 0
            breached = agg[f"{kind}_breached"] if agg else 0
            out.update(
                {f"{kind}_met": met, f"{kind}_breached": breached, f"{kind}_compliance": ratio(met, met + breached)}
            )
        return out

    return assemble(params, ({"bucket": day, "key": key, **values} for (day, key), values in merged.items()), metrics)


REPORT = register(
    Report(
        name="sla-compliance",
        title="SLA compliance",
        description="Response and resolution SLA clocks decided per period: met, breached, and the compliance "
        "met / (met + breached). Cancelled clocks never count; running ones count when decided.",
        columns=COLUMNS,
        compute=sla_compliance,
        chart=("response_compliance", "resolution_compliance"),
        order=40,
    )
)
