"""Demo problems, made through the use cases as a problem manager would (`manage.py seed_demo`).

`make run` shows a problem in every state (new, investigating, known_error, resolved, closed,
cancelled) with linked incidents; root cause analysis (a five whys chain on one, a fishbone on
another); a published known error whose words match a new demo incident, so the incident's page
suggests it; problem tasks (rca and general, one overdue); and a proactive problem covering a
cluster of six similar incidents. Idempotent: each scenario is skipped when its problem exists
(found by title), so a second run adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident
from incidents.response import worktasks
from problems import lifecycle, links
from problems.choices import ProblemSource
from problems.models import KnownError, Problem, ProblemEvent

# The record's moments, in the order a problem reaches them (the demo spreads them over its age).
STAMPS = ("opened_at", "investigating_at", "known_error_at", "resolved_at", "closed_at", "cancelled_at")

# The new incident the published known error is suggested on (its words match the article's).
SUGGESTED_INCIDENT = "Mobile email not syncing since my password change"
KNOWN_ERROR_TITLE = "Email stops syncing on mobile after a password change"
PROACTIVE_TITLE = "Password reset emails delayed: 6 similar incidents in 7 days"
CLUSTER = [
    "Password reset email never arrived",
    "Reset link email took an hour to arrive",
    "No password reset email for new starter",
    "Password reset email delayed again",
    "Reset password mail stuck, cannot log in",
    "Password reset email arrives after the link expired",
]
FIVE_WHYS = {
    "whys": [
        {"why": "Why do the VPN tunnels drop?", "answer": "The firewall renegotiates the IPsec keys every 10 minutes."},
        {"why": "Why every 10 minutes?", "answer": "The key lifetime on the Berlin firewall is 600 s, not 8 h."},
        {"why": "Why is it 600 s?", "answer": "The last firmware upgrade reset the tunnel profile to defaults."},
        {"why": "Why was that not noticed?", "answer": "The upgrade checklist does not compare tunnel settings."},
        {"why": "Why not?", "answer": "Firewall configuration is not under configuration management yet."},
    ]
}
FISHBONE = {
    "causes": {
        "technology": ["ActiveSync keeps the device partnership with the old credential", "No re-prompt on 401"],
        "process": ["Password change guide does not mention phones"],
        "people": ["Users do not expect to re-enter the password on the phone"],
        "measurement": ["Sync failures are not alerted on"],
    }
}


def _incident(ctx, title: str, slug: str, *, category: str | None = None, impact: int = 3, urgency: int = 2):
    return incident_services.open_incident(
        actor=ctx.users["agent"],
        title=title,
        description=f"{title}. Reported by the caller on the phone.",
        impact=impact,
        urgency=urgency,
        service=ctx.services[slug],
        category=ctx.categories.get(category) if category else None,
        channel="phone",
        caller_name="Dana Caller",
        caller_email="dana@example.com",
    )


def _open(ctx, title: str, slug: str, incidents: list[str], **fields) -> Problem:
    """A problem the problem manager raises from new incidents (reactive), or opens by hand."""
    manager = ctx.users["problem"]
    fields = {"service": ctx.services[slug], "impact": 2, "urgency": 2, **fields}
    if incidents:
        found = [_incident(ctx, t, slug) for t in incidents]
        return lifecycle.raise_problem(actor=manager, incidents=found, title=title, **fields)
    return lifecycle.open_problem(actor=manager, title=title, **fields)


def _age(problem: Problem, days: float) -> None:
    """Spread the problem's stored moments over the last `days` (plain UPDATEs of timestamps only,
    as the major incident demo does), so ages and times to known error look like real work."""
    problem.refresh_from_db()
    now, age = timezone.now(), timedelta(days=days)
    reached = [name for name in STAMPS if getattr(problem, name) is not None]
    # The i-th moment reached lies at (1 - i/n) of the age: the first at the start, the last recently.
    moved = {name: now - age * (1 - i / len(reached)) for i, name in enumerate(reached)}
    Problem.objects.filter(pk=problem.pk).update(**moved)
    KnownError.objects.filter(problem=problem, published_at__isnull=False).update(
        published_at=moved.get("known_error_at", now)
    )
    rows = list(ProblemEvent.objects.filter(problem=problem).order_by("at", "id").only("id"))
    for i, row in enumerate(rows):
        ProblemEvent.objects.filter(pk=row.pk).update(at=now - age * (1 - i / len(rows)))


def _run(ctx, problem: Problem, *steps: tuple[str, dict]) -> Problem:
    for name, payload in steps:
        problem = lifecycle.run_transition(problem, name, actor=ctx.users["problem"], payload=payload)
    return problem


def seed(ctx) -> None:
    """Create each demo problem once (skipped when a problem of its title exists)."""
    if "problem" not in ctx.users or "agent" not in ctx.users:
        return
    for scenario in SCENARIOS:
        if not Problem.objects.filter(title=scenario.title).exists():
            scenario(ctx)
            _age(Problem.objects.get(title=scenario.title), scenario.days)
    if not Incident.objects.filter(title=SUGGESTED_INCIDENT).exists():
        # Filed after the known error was published: its page suggests the workaround.
        _incident(ctx, SUGGESTED_INCIDENT, "email", impact=3, urgency=2)


def _scenario(title: str, *, days: float):
    """Name a scenario by its problem's title and its age in days."""

    def mark(func):
        func.title, func.days = title, days
        return func

    return mark


@_scenario("Intermittent 502 errors on the public website after each deploy", days=2)
def new_problem(ctx) -> None:
    """New: raised from two incidents, not picked up yet."""
    _open(
        ctx,
        new_problem.title,
        "website",
        ["Checkout page shows 502 Bad Gateway", "Website returns 502 for a minute after the release"],
        description="Every deploy is followed by one to two minutes of 502 responses from the load balancer.",
        impact=2,
        urgency=2,
    )


@_scenario("VPN tunnels drop every 10 minutes in the Berlin office", days=6)
def investigating_problem(ctx) -> None:
    """Investigating: a five whys chain under way, an rca task and an overdue general task."""
    manager, now = ctx.users["problem"], timezone.now()
    problem = _open(
        ctx,
        investigating_problem.title,
        "vpn",
        ["VPN disconnects during video calls", "Berlin staff lose VPN every few minutes"],
        description="Since the firewall upgrade, site-to-site and client VPN sessions in Berlin drop every 10 minutes.",
        rca_method="five_whys",
        rca_notes=FIVE_WHYS,
        contributing_factors=["Firmware upgrade reset the tunnel profile", "No configuration drift check"],
        impact=2,
        urgency=1,
    )
    problem = _run(ctx, problem, ("investigate", {"owner": manager.pk}))
    worktasks.create_task(
        actor=manager,
        record=problem,
        kind="rca",
        title="Confirm the key lifetime change with the firewall vendor",
        description="Open a vendor case with the firmware versions before and after the upgrade.",
        assignee=ctx.users.get("resolver"),
        due_at=now + timedelta(days=1),
    )
    worktasks.create_task(
        actor=manager,
        record=problem,
        kind="general",
        title="Export the firewall tunnel logs for the last seven days",
        assignment_group=ctx.groups.get("Network Team"),
        due_at=now - timedelta(hours=3),
        allow_past_due=True,  # the demo's overdue task: "My tasks" and the reminders show it
    )


@_scenario(KNOWN_ERROR_TITLE, days=12)
def known_error_problem(ctx) -> None:
    """Known error: a fishbone, a published article with a workaround (suggested on a new incident)."""
    manager = ctx.users["problem"]
    problem = _open(
        ctx,
        known_error_problem.title,
        "email",
        ["Phone mail stopped syncing after password change", "Mobile mail app shows only old messages"],
        description="After a password change, email on mobile phones stops syncing without asking for it.",
        rca_method="fishbone",
        rca_notes=FISHBONE,
        impact=3,
        urgency=2,
    )
    problem = _run(
        ctx,
        problem,
        ("investigate", {"owner": manager.pk}),
        (
            "mark_known_error",
            {
                "root_cause": "The mobile mail client keeps its device partnership with the old credential and "
                "never re-prompts after the password change.",
                "workaround": "Remove the email account on the phone and add it again with the new password.",
            },
        ),
    )
    task = worktasks.create_task(
        actor=manager,
        record=problem,
        kind="general",
        title="Tell the service desk about the workaround",
        assignment_group=ctx.groups.get("Service Desk"),
    )
    worktasks.complete(task, actor=manager)
    worktasks.create_task(
        actor=manager,
        record=problem,
        kind="rca",
        title="Check whether modern authentication removes the stale partnership",
        assignee=ctx.users.get("resolver2"),
        due_at=timezone.now() + timedelta(days=3),
    )


@_scenario("CRM search returns no results after the nightly index rebuild", days=20)
def resolved_problem(ctx) -> None:
    """Resolved with a permanent fix; the linked incidents resolved by the problem."""
    manager = ctx.users["problem"]
    problem = _open(
        ctx,
        resolved_problem.title,
        "crm",
        ["CRM account search finds nothing", "Sales cannot find customers in the CRM this morning"],
        description="Until mid-morning, CRM searches return no results; the nightly index rebuild is still running.",
        rca_method="timeline",
        rca_notes={"text": "02:00 rebuild starts; 06:00 still at 40%; 09:30 done, search works again."},
    )
    _run(
        ctx,
        problem,
        ("investigate", {"owner": manager.pk}),
        (
            "mark_known_error",
            {
                "root_cause": "The rebuild drops the index first and takes seven hours on the grown data set.",
                "workaround": "Search by account number until 10:00; the number lookup does not use the index.",
            },
        ),
        (
            "resolve",
            {
                "fix": "The index is rebuilt into a new alias and swapped in when complete.",
                "fix_reference": "CHG0004711",
                "resolve_linked": True,
            },
        ),
    )


@_scenario("Payroll bank export rejected: wrong file encoding", days=45)
def closed_problem(ctx) -> None:
    """Closed: fixed, lessons learned, the known error retired."""
    manager = ctx.users["problem"]
    problem = _open(
        ctx,
        closed_problem.title,
        "payroll",
        ["Bank rejects the payroll transfer file", "Payroll export: umlauts garbled in payee names"],
        description="The bank rejects payroll export files with non-ASCII payee names.",
        impact=1,
        urgency=2,
    )
    _run(
        ctx,
        problem,
        ("investigate", {"owner": manager.pk}),
        (
            "mark_known_error",
            {
                "root_cause": "The export writes Latin-1; the bank's SEPA gateway expects UTF-8.",
                "workaround": "Transliterate the payee names in the export preview before sending.",
            },
        ),
        ("resolve", {"fix": "Export encoding set to UTF-8 and covered by a test file.", "resolve_linked": True}),
        ("close", {"lessons_learned": "Validate export files against the bank's schema before each release."}),
    )


@_scenario("Printers on floor 3 jam repeatedly", days=9)
def cancelled_problem(ctx) -> None:
    """Cancelled: not a problem (end-of-life hardware replaced by the asset refresh)."""
    problem = _open(
        ctx,
        cancelled_problem.title,
        "email",  # the demo has no printing service; the ticket came through the mail-to-print queue
        [],
        description="Several jams a day on the two floor-3 printers.",
        impact=3,
        urgency=3,
    )
    _run(ctx, problem, ("cancel", {"reason": "Not a problem: the printers are replaced by the asset refresh."}))


@_scenario(PROACTIVE_TITLE, days=0.5)
def proactive_problem(ctx) -> None:
    """Proactive: what trend detection opens for a cluster (same service and category, 6 in 7 days)."""
    service, category = ctx.services["email"], ctx.categories["Access/Password reset"]
    cluster = [_incident(ctx, title, "email", category="Access/Password reset") for title in CLUSTER]
    problem = lifecycle.open_problem(
        actor=ctx.users["problem"],
        title=PROACTIVE_TITLE,
        source=ProblemSource.PROACTIVE,
        cluster_key=f"{service.pk}:{category.pk}",
        description="Trend detection: six incidents about delayed password reset emails within seven days.",
        service=service,
        category=category,
        impact=3,
        urgency=2,
    )
    links.link_incidents(problem, actor=ctx.users["problem"], incidents=cluster)


SCENARIOS = [
    new_problem,
    investigating_problem,
    known_error_problem,
    resolved_problem,
    closed_problem,
    cancelled_problem,
    proactive_problem,
]
