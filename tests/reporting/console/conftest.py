"""Fixtures of the console tests: agents and managers, a small service desk, stand-in reports.

Reports other helpers deliver (`mttr`, `sla-compliance`, `major-incidents`) and the backlog's
`ageing_at` get stand-ins while they are not registered, so the dashboard's charts are exercised
either way; a test that needs the real one asks for it by name.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from itsm import roles
from reporting import dashboard, registry
from reporting.registry import Column, Report
from tests.factories import AssignmentGroupFactory, ServiceFactory, SlaPolicyFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory


def _rows(params, values):
    return [{"period": p.day.isoformat(), "group": None, "group_key": None, **values} for p in params.periods]


STAND_INS = {
    "mttr": Report(
        name="mttr",
        title="MTTR (stand-in)",
        description="Stand-in.",
        columns=(Column("resolved", "Resolved"), Column("mttr_seconds", "MTTR", "seconds")),
        compute=lambda params: _rows(params, {"resolved": 1, "mttr_seconds": 7200}),
        chart=("mttr_seconds",),
    ),
    "sla-compliance": Report(
        name="sla-compliance",
        title="SLA compliance (stand-in)",
        description="Stand-in.",
        columns=(
            Column("response_compliance", "Response", "ratio"),
            Column("resolution_compliance", "Resolution", "ratio"),
        ),
        compute=lambda params: _rows(params, {"response_compliance": 0.9, "resolution_compliance": 0.75}),
        chart=("response_compliance", "resolution_compliance"),
    ),
    "major-incidents": Report(
        name="major-incidents",
        title="Major incidents (stand-in)",
        description="Stand-in.",
        columns=(Column("declared", "Declared"), Column("estimated_cost", "Cost", "money")),
        compute=lambda params: _rows(params, {"declared": 1, "estimated_cost": "1250.50"}),
        chart=("declared",),
        chart_type="bar",
    ),
}
STAND_IN_AGEING = [
    {"group": None, "group_key": None, "backlog": 7, "age_under_1d": 3, "age_1_3d": 2, "age_3_7d": 1}
    | {"age_7_30d": 0, "age_over_30d": 1}
]


@pytest.fixture
def stand_ins(monkeypatch):
    """Register the stand-in reports and ageing that are not delivered yet; returns the names stood in."""
    stood_in = set()
    for name, report in STAND_INS.items():
        if registry.get(name) is None:
            monkeypatch.setitem(registry.REPORTS, name, report)
            stood_in.add(name)
    if dashboard._ageing_function() is None:
        monkeypatch.setattr(dashboard, "_ageing_function", lambda: lambda moment, group_by=None: STAND_IN_AGEING)
        stood_in.add("ageing")
    return stood_in


@pytest.fixture
def desk(db, make_user):
    """Two groups, an agent in the first, a manager of it, open and resolved incidents, an MI."""
    SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60)
    SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480)
    network = AssignmentGroupFactory(name="Network")
    other = AssignmentGroupFactory(name="Other team")
    email = ServiceFactory(name="Email", owner_group=network)
    payroll = ServiceFactory(name="Payroll", owner_group=other)
    agent = make_user(roles.SERVICE_DESK_AGENT, groups=[network], username="alice")
    lead = make_user(roles.SERVICE_DESK_AGENT, groups=[network], username="lead")
    network.manager = lead
    network.save(update_fields=["manager"])
    mine = IncidentFactory(title="Mail is down", service=email, assignee=agent, impact=1, urgency=1)
    mine_too = IncidentFactory(title="Calendar slow", service=email, assignee=agent)
    unassigned = IncidentFactory(title="Printer offline", service=email)
    elsewhere = IncidentFactory(title="Payslips missing", service=payroll)
    resolved = IncidentFactory(title="Password reset", service=email, state="resolved")
    major = MajorIncidentFactory(
        incident=mine, title="Mail outage", next_update_due_at=timezone.now() + dt.timedelta(minutes=20)
    )
    return {
        "network": network,
        "other": other,
        "email": email,
        "payroll": payroll,
        "agent": agent,
        "lead": lead,
        "mine": mine,
        "mine_too": mine_too,
        "unassigned": unassigned,
        "elsewhere": elsewhere,
        "resolved": resolved,
        "major": major,
    }
