"""SLA compliance per policy kind: clocks decided in the period, met / (met + breached).

A clock is decided once: met when it stopped in time (`stopped_at`, stage `met`), breached when
its target was reached (`breached_at`, stage `breached`, whether it still runs or has stopped
since). A cancelled clock (the incident cancelled, or the clock replaced by another policy) is
never counted, and a running or paused one is not decided yet. A resolution clock met and then
resumed by a reopen counts where it is decided in the end. Rows group by the clock's incident
dimensions (the incident's current priority, service, ...).
"""

from __future__ import annotations

from django.db.models import Case, Count, DateTimeField, F, Q, When

from incidents.models import ClockStage, SlaClock
from itsm.choices import SlaKind
from reporting.params import ReportParams
from reporting.registry import Column, Report, register
from reporting.rows import assemble, ratio

from .grouping import grouped

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

# When a clock was decided: the moment each of the partial indexes on SlaClock serves.
DECIDED_AT = Case(
    When(stage=ClockStage.MET, then=F("stopped_at")),
    When(stage=ClockStage.BREACHED, then=F("breached_at")),
    output_field=DateTimeField(),
)


def decided_between(start, end) -> Q:
    """Clocks met or breached in [start, end) (each branch one index range)."""
    return Q(stage=ClockStage.MET, stopped_at__gte=start, stopped_at__lt=end) | Q(
        stage=ClockStage.BREACHED, breached_at__gte=start, breached_at__lt=end
    )


def sla_compliance(params: ReportParams) -> list[dict]:
    """The SLA compliance rows of `params` (see the module docstring)."""
    qs = SlaClock.objects.filter(decided_between(params.start_at, params.end_at))
    counts = {
        f"{kind}_{stage}": Count("id", filter=Q(kind=kind, stage=stage))
        for kind in KINDS
        for stage in (ClockStage.MET, ClockStage.BREACHED)
    }
    aggregates = grouped(qs, DECIDED_AT, params, "incident__", **counts)

    def metrics(agg) -> dict:
        out = {}
        for kind in KINDS:
            met = agg[f"{kind}_met"] if agg else 0
            breached = agg[f"{kind}_breached"] if agg else 0
            out.update(
                {f"{kind}_met": met, f"{kind}_breached": breached, f"{kind}_compliance": ratio(met, met + breached)}
            )
        return out

    return assemble(params, aggregates, metrics)


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
