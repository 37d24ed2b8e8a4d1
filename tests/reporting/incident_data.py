"""Hand-built incident data sets whose every report figure was computed on paper (see each docstring).

Made through the services (open, start, hold, resume, resolve, reopen, cancel, assign) at frozen
moments, so SLA clocks, reopens and pauses are what production would store. The reporting
timezone is UTC; the SLA calendar is Europe/Berlin (CET, UTC+1 in these weeks).
"""

from __future__ import annotations

from dataclasses import dataclass

from freezegun import freeze_time

from incidents import services
from incidents.models import Incident
from itsm import roles
from itsm.models import AssignmentGroup, Holiday, Service, SlaPolicy
from tests.factories import (
    AssignmentGroupFactory,
    BusinessCalendarFactory,
    CategoryFactory,
    ServiceFactory,
    UserFactory,
)

RESOLVE = {"resolution_code": "fixed", "resolution_notes": "Fixed."}


@dataclass
class Desk:
    agent: object
    group: AssignmentGroup
    other_group: AssignmentGroup
    payroll: Service
    mail: Service
    incidents: dict[str, Incident]


def _agent():
    from django.contrib.auth.models import Group

    user = UserFactory(username="report-agent", is_superuser=True)
    user.groups.add(Group.objects.get(name=roles.SERVICE_DESK_AGENT))
    return user


def _at(moment: str, fn, *args, **kwargs):
    with freeze_time(moment):
        return fn(*args, **kwargs)


def sla_desk() -> Desk:
    """Six incidents on a Mon-Fri 09:00-18:00 Berlin calendar with Monday 2026-11-30 a holiday.

    The agent who starts an incident takes it (report-agent), except B (second-agent).
    Policies for every priority: respond within 60 business minutes, resolve within 16 business hours.
    Times below are UTC (Berlin = UTC+1); "business" is Berlin working time.

    A (payroll): opened Fri 11-27 16:30; started Tue 12-01 08:10 (response: Fri 17:30-18:00 + Tue
      09:00-09:10 = 40 min, met; wall 3 d 15 h 40 min = 315,600 s); held Tue 10:00, resumed Wed 12-02
      09:00 (paused Tue 11:00-18:00 + Wed 09:00-10:00 = 8 h = 28,800 s); resolved Wed 12:00 (business
      30 min + Tue 09:00-11:00 + Wed 10:00-13:00 = 5 h 30 min = 19,800 s; wall 415,800 s). The weekend
      and the holiday count nothing.
    B (mail, started for second-agent): opened Mon 12-07 08:00, started 08:30 (1,800 s both), resolved 10:00,
      reopened 14:00,
      resolved Tue 12-08 09:00 (business 2 h + Mon 15:00-18:00 + Tue 09:00-10:00 = 6 h = 21,600 s;
      the resolved hours before the reopen excluded; wall 25 h = 90,000 s).
    C (mail, P1 by impact 1 x urgency 1, by email): opened Tue 12-08 10:00, started 10:50 (3,000 s: the
      target reached exactly would be a breach), resolved 13:00 (10,800 s both).
    D (payroll): opened Fri 12-04 16:30, started Mon 12-07 09:00 (business 90 min = 5,400 s, wall
      232,200 s): the response breached at Mon 09:30 Berlin = 08:30 UTC. Resolution still running.
    E (mail): opened Mon 12-07 08:00, cancelled 08:10: both clocks cancelled, counted nowhere.
    F (mail, category Network): opened and started Tue 12-08 08:00 (response 0 s); resolution breached Wed 12-09 15:00
      (Tue 9 h + Wed 7 h); resolved Thu 12-10 09:00 (business 19 h = 68,400 s, wall 49 h = 176,400 s).
    """
    agent = _agent()
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    second = UserFactory(username="second-agent")
    other = AssignmentGroupFactory(name="Apps", members=[agent, second])
    payroll = ServiceFactory(slug="payroll", name="Payroll", owner_group=group)
    mail = ServiceFactory(slug="mail", name="Mail", owner_group=other)
    calendar = BusinessCalendarFactory(name="Berlin 9-18", timezone="Europe/Berlin")
    Holiday.objects.create(calendar=calendar, date="2026-11-30", name="Local holiday")
    for kind, minutes in (("response", 60), ("resolution", 16 * 60)):
        SlaPolicy.objects.create(
            name=f"{kind} {minutes}", kind=kind, priorities=[1, 2, 3, 4, 5], target_minutes=minutes, calendar=calendar
        )

    network = CategoryFactory(name="Network")

    def open_(moment: str, title: str, service: Service, **fields) -> Incident:
        return _at(moment, services.open_incident, actor=agent, title=title, service=service, **fields)

    inc: dict[str, Incident] = {}
    inc["A"] = open_("2026-11-27 16:30", "A", payroll)
    inc["D"] = open_("2026-12-04 16:30", "D", payroll)
    inc["B"] = open_("2026-12-07 08:00", "B", mail)
    inc["E"] = open_("2026-12-07 08:00", "E", mail)
    inc["F"] = open_("2026-12-08 08:00", "F", mail, category=network)
    inc["C"] = open_("2026-12-08 10:00", "C", mail, impact=1, urgency=1, channel="email")
    steps = [
        ("2026-12-01 08:10", "A", services.start, {}),
        ("2026-12-01 10:00", "A", services.hold, {"hold_reason": "awaiting_vendor"}),
        ("2026-12-02 09:00", "A", services.resume, {}),
        ("2026-12-02 12:00", "A", services.resolve, RESOLVE),
        ("2026-12-07 08:10", "E", services.cancel, {"reason": "Duplicate."}),
        ("2026-12-07 08:30", "B", services.start, {"assignee": second}),
        ("2026-12-07 09:00", "D", services.start, {}),
        ("2026-12-07 10:00", "B", services.resolve, RESOLVE),
        ("2026-12-07 14:00", "B", services.reopen, {"reason": "Broke again."}),
        ("2026-12-08 08:00", "F", services.start, {}),
        ("2026-12-08 09:00", "B", services.resolve, RESOLVE),
        ("2026-12-08 10:50", "C", services.start, {}),
        ("2026-12-08 13:00", "C", services.resolve, RESOLVE),
        ("2026-12-10 09:00", "F", services.resolve, RESOLVE),
    ]
    for moment, name, use_case, payload in steps:
        inc[name] = _at(moment, use_case, inc[name], actor=agent, **payload)
    return Desk(agent, group, other, payroll, mail, {k: Incident.objects.get(pk=v.pk) for k, v in inc.items()})


def backlog_desk() -> Desk:
    """Nine incidents around 2026-12-01 (UTC), no SLA policies. Open at each midnight, by age:

    P (Desk) opened 10-15 10:00, open. Q (Desk) opened 11-20 12:00, resolved 12-02 15:00.
    R (Desk) opened 12-01 06:00, open. S (Apps) opened 11-29 00:00 sharp, cancelled 12-03 00:00 sharp.
    T (Apps) opened 12-02 10:00, reassigned twice (Apps -> Desk -> Apps), resolved 11:00.
    U (Apps) opened 11-25 09:00, resolved 11-28 09:00. V (Apps) opened 11-10 08:00, resolved 11-12,
    reopened 11-13, resolved 12-03 12:00. W (Desk) opened 09-01, resolved 09-02, closed 09-05.
    X (Apps) opened 11-02 12:00, open.

    12-01 00:00: P >30d, Q 7-30d, S 1-3d, V 7-30d, X 7-30d: 5.
    12-02 00:00: P >30d, Q 7-30d, R <1d, S 1-3d (exactly 3 days old: opened at M - 3 days), V 7-30d,
      X 7-30d (29.5 days): 6.
    12-03 00:00: P >30d, R 1-3d, S 3-7d (finished at M sharp: still open at M), V 7-30d, X >30d: 5.
    12-04 00:00: P >30d, R 1-3d, X >30d: 3.   2027-01-01 00:00: P, R, X, all >30d: 3.
    """
    agent = _agent()
    desk = AssignmentGroupFactory(name="Desk", members=[agent])
    apps = AssignmentGroupFactory(name="Apps", members=[agent])
    service = ServiceFactory(slug="erp", name="ERP", owner_group=desk)
    groups = {"Desk": desk, "Apps": apps}
    plan = {
        "P": ("2026-10-15 10:00", "Desk"),
        "Q": ("2026-11-20 12:00", "Desk"),
        "R": ("2026-12-01 06:00", "Desk"),
        "S": ("2026-11-29 00:00", "Apps"),
        "T": ("2026-12-02 10:00", "Apps"),
        "U": ("2026-11-25 09:00", "Apps"),
        "V": ("2026-11-10 08:00", "Apps"),
        "W": ("2026-09-01 08:00", "Desk"),
        "X": ("2026-11-02 12:00", "Apps"),
    }
    inc = {
        name: _at(
            moment, services.open_incident, actor=agent, title=name, service=service, assignment_group=groups[group]
        )
        for name, (moment, group) in plan.items()
    }
    steps = [
        ("2026-09-02 08:00", "W", services.resolve, RESOLVE),
        ("2026-09-05 08:00", "W", services.close, {}),
        ("2026-11-12 08:00", "V", services.resolve, RESOLVE),
        ("2026-11-13 08:00", "V", services.reopen, {"reason": "Broke again."}),
        ("2026-11-28 09:00", "U", services.resolve, RESOLVE),
        ("2026-12-02 10:10", "T", services.assign, {"group": desk}),
        ("2026-12-02 10:20", "T", services.assign, {"group": apps}),
        ("2026-12-02 11:00", "T", services.resolve, RESOLVE),
        ("2026-12-02 15:00", "Q", services.resolve, RESOLVE),
        ("2026-12-03 00:00", "S", services.cancel, {"reason": "Duplicate."}),
        ("2026-12-03 12:00", "V", services.resolve, RESOLVE),
    ]
    for moment, name, use_case, payload in steps:
        inc[name] = _at(moment, use_case, inc[name], actor=agent, **payload)
    return Desk(agent, desk, apps, service, service, {k: Incident.objects.get(pk=v.pk) for k, v in inc.items()})
