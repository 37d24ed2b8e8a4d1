"""Demo major incidents, made through the use cases as a service desk would, then backdated.

`make run` shows an active major incident (responders, one of whom acknowledged; two updates, one
of them late; linked incidents) and a closed one with a complete review. The use cases stamp
"now"; the demo then moves the stored moments into the past (plain UPDATEs of timestamps only)
so durations, costs and cadence compliance look like a real outage.
"""

from __future__ import annotations

from datetime import date, timedelta

from incidents import services as incident_services
from incidents.major import lifecycle, links, responders, review, updates
from incidents.major.models import MajorIncident, MajorIncidentEvent, Responder, StakeholderUpdate
from incidents.models import Incident


def _incident(ctx, title: str, slug: str, impact: int = 1, urgency: int = 1) -> Incident:
    return incident_services.open_incident(
        actor=ctx.users["agent"],
        title=title,
        description=f"{title}. Reported by several callers.",
        impact=impact,
        urgency=urgency,
        service=ctx.services[slug],
        channel="phone",
        caller_name="Dana Caller",
        caller_email="dana@example.com",
    )


def _shift(mi: MajorIncident, delta: timedelta) -> None:
    """Move every stored moment of `mi` and its rows `delta` into the past."""
    fields = [
        "proposed_at",
        "impact_started_at",
        "detected_at",
        "declared_at",
        "mitigated_at",
        "resolved_at",
        "review_started_at",
        "closed_at",
        "next_update_due_at",
    ]
    mi.refresh_from_db()
    MajorIncident.objects.filter(pk=mi.pk).update(
        **{name: getattr(mi, name) - delta for name in fields if getattr(mi, name) is not None}
    )
    for row in Responder.objects.filter(major_incident=mi):
        Responder.objects.filter(pk=row.pk).update(
            **{
                name: getattr(row, name) - delta
                for name in ("paged_at", "last_paged_at", "acknowledged_at", "next_page_at", "created_at")
                if getattr(row, name) is not None
            }
        )
    for row in StakeholderUpdate.objects.filter(major_incident=mi):
        StakeholderUpdate.objects.filter(pk=row.pk).update(
            **{
                name: getattr(row, name) - delta
                for name in ("posted_at", "next_update_due_at", "due_at")
                if getattr(row, name) is not None
            }
        )
    for row in MajorIncidentEvent.objects.filter(major_incident=mi).only("id", "at"):
        MajorIncidentEvent.objects.filter(pk=row.pk).update(at=row.at - delta)


def seed(ctx) -> None:
    """Create the demo major incidents once (skipped when any exists)."""
    if MajorIncident.objects.exists() or "mim" not in ctx.users:
        return
    seed_active(ctx)
    seed_closed(ctx)


def seed_active(ctx) -> MajorIncident:
    """Payroll is down: declared 95 minutes ago, responders paged, two updates (the second late)."""
    mim, agent = ctx.users["mim"], ctx.users["agent"]
    primary = _incident(ctx, "Payroll application unavailable for all users", "payroll")
    mi = lifecycle.propose(
        actor=agent,
        incident=primary,
        reason="Nobody can run payroll; the monthly run is due today.",
        impact_summary="Payroll runs cannot be submitted or approved; 1,200 employees may be paid late.",
        customers_affected=1200,
    )
    mi = lifecycle.run_transition(
        mi,
        "declare",
        actor=mim,
        payload={
            "manager": mim,
            "comms_lead": agent,
            "tech_lead": ctx.users["resolver2"],
            "bridge_url": "https://meet.example.com/payroll-bridge",
            "chat_channel": "#inc-payroll",
        },
    )
    first = responders.page_responders(mi, actor=mim, user=ctx.users["resolver2"], role="application")[0]
    responders.page_responders(mi, actor=mim, user=ctx.users["resolver"], role="network")
    responders.acknowledge(first, actor=ctx.users["resolver2"])
    reports = [
        _incident(ctx, "Cannot open payroll run for November", "payroll", 2, 1),
        _incident(ctx, "Payroll approval page times out", "payroll", 2, 2),
        _incident(ctx, "HR cannot export payslips", "payroll", 3, 2),
    ]
    links.link_incidents(mi, actor=agent, incidents=reports)
    updates.post_update(
        mi,
        actor=agent,
        audience="external",
        status="investigating",
        body="Payroll is unavailable. We are investigating and will update within 30 minutes.",
    )
    # The second update came 40 minutes after it was due: move the first 70 minutes back.
    _shift(mi, timedelta(minutes=70))
    mi.refresh_from_db()
    updates.post_update(
        mi,
        actor=agent,
        audience="internal",
        status="identified",
        body="The payroll database failed over and the connection pool did not follow. Restarting the pool.",
    )
    _shift(mi, timedelta(minutes=25))
    return mi


def seed_closed(ctx) -> MajorIncident:
    """Last week's email outage: resolved with its linked incidents, reviewed and closed."""
    mim = ctx.users["mim"]
    primary = _incident(ctx, "Email delivery stopped company-wide", "email")
    mi = lifecycle.propose(
        actor=mim,
        incident=primary,
        reason="No email in or out for the whole company.",
        declare=True,
        impact_summary="No inbound or outbound email for 2 hours.",
        customers_affected=3000,
    )
    reports = [_incident(ctx, "Outlook says disconnected", "email", 2, 2)]
    links.link_incidents(mi, actor=mim, incidents=reports)
    updates.post_update(
        mi, actor=mim, audience="external", status="identified", body="A certificate expired on the mail relay."
    )
    mi = lifecycle.run_transition(
        mi,
        "resolve",
        actor=mim,
        payload={
            "resolve_linked": True,
            "resolution_code": "fixed",
            "resolution_notes": "Renewed the relay certificate and restarted the relays.",
        },
    )
    mi = lifecycle.run_transition(mi, "start_review", actor=mim, payload={})
    review.update_review(
        mi,
        actor=mim,
        fields={
            "summary": "An expired TLS certificate on the mail relays stopped all email for two hours.",
            "root_cause": "The relay certificate was renewed manually and its expiry was not monitored.",
            "contributing_factors": "The expiry warning went to a former employee's mailbox.",
            "went_well": "Detection within 5 minutes; the bridge was up in 10.",
            "went_badly": "The first external update was 15 minutes late.",
            "lessons_learned": "Automate certificate renewal and alert on expiry 30 days ahead.",
        },
    )
    review.add_action_item(
        mi,
        actor=mim,
        title="Automate relay certificate renewal",
        owner=ctx.users["resolver"],
        due_date=date.today() + timedelta(days=14),
    )
    mi = lifecycle.run_transition(mi, "close", actor=mim, payload={})
    _shift(mi, timedelta(days=6))
    return mi
