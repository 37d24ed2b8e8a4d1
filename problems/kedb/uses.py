"""Uses of known errors: a workaround applied to an incident, a caller's self-service fix, and
the deflections they end in.

A deflection is an incident resolved with the workaround it had applied (resolution code
`workaround`), or a caller's issue fixed by a known error without filing anything. The incident
side is watched through django-fsm's `post_transition` signal (`track_deflections`, connected
in `ProblemsConfig.ready()`), so the incident practice knows nothing of known errors: a resolve
with `workaround` marks the use deflected, a reopen takes it back; the counter moves with it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from incidents import events as incident_events
from incidents import policy as incident_policy
from incidents import services as incident_services
from incidents.choices import OPEN_STATES as OPEN_INCIDENT_STATES
from incidents.choices import ResolutionCode, Visibility
from incidents.models import Incident
from itsm.exceptions import Conflict, InvalidTransition
from problems import common, events
from problems.choices import OPEN_STATES, KnownErrorState, KnownErrorUseKind
from problems.models import KnownError, KnownErrorUse


def _published(known_error: KnownError | int) -> KnownError:
    article = KnownError.objects.select_for_update().select_related("problem").get(pk=common.pk_of(known_error))
    if article.state != KnownErrorState.PUBLISHED:
        raise Conflict(f"Known error {article.pk} is retired; its workaround is no longer offered.")
    return article


@transaction.atomic
def apply_workaround(
    known_error: KnownError | int, incident: Incident | int, *, actor, resolve: bool = False
) -> KnownErrorUse:
    """Apply a known error's workaround to an open incident.

    Records `workaround_applied` on the incident's and the problem's timelines, an internal work
    note with the workaround, counts a use, and links the incident to the problem when it has
    none. With `resolve`, the incident is resolved with code `workaround` at once (a deflection).
    409 when the incident is not open, already had this workaround, or the article is retired.
    """
    incident = Incident.objects.select_for_update().get(pk=common.pk_of(incident))
    common.require(incident_policy.can_change(actor, incident))
    if incident.state not in OPEN_INCIDENT_STATES:
        raise InvalidTransition(
            incident.number, "apply_workaround", incident.state, [], reason=f"{incident.number} is {incident.state}."
        )
    article = _published(known_error)
    try:
        with transaction.atomic():
            use = KnownErrorUse.objects.create(
                known_error=article, incident=incident, kind=KnownErrorUseKind.APPLIED, actor=_person(actor)
            )
    except IntegrityError:
        raise Conflict(
            f"The workaround of known error {article.pk} was already applied to {incident.number}.",
            errors={"incident": [f"{incident.number} already has this workaround."]},
        ) from None
    KnownError.objects.filter(pk=article.pk).update(uses=F("uses") + 1)
    problem = article.problem
    incident_events.workaround_applied(incident, actor, article.pk)
    events.workaround_applied(problem, actor, article.pk, incident.pk)
    if incident.problem_id is None and problem.state in OPEN_STATES:
        Incident.objects.filter(pk=incident.pk).update(problem=problem, version=F("version") + 1)
        incident_events.linked(incident, actor, "problem", problem.pk)
        events.linked(problem, actor, "incident", incident.pk, incident.number, via="workaround")
    incident_services.add_comment(
        incident,
        actor=actor,
        body=f"Workaround of {problem.number} (known error {article.pk}) applied:\n{article.workaround}",
        visibility=Visibility.INTERNAL,
    )
    if resolve:
        incident_services.run_transition(
            incident,
            "resolve",
            actor=actor,
            payload={"resolution_code": ResolutionCode.WORKAROUND, "resolution_notes": article.workaround},
        )
    use.refresh_from_db()
    return use


@transaction.atomic
def record_self_service_fix(known_error: KnownError | int, *, actor) -> KnownErrorUse:
    """A caller's issue was fixed by the known error without filing an incident (a deflection)."""
    article = _published(known_error)
    use = KnownErrorUse.objects.create(
        known_error=article, kind=KnownErrorUseKind.SELF_SERVICE, actor=_person(actor), deflected=True
    )
    KnownError.objects.filter(pk=article.pk).update(uses=F("uses") + 1, deflections=F("deflections") + 1)
    events.workaround_applied(article.problem_id, actor, article.pk, None)
    return use


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def track_deflections(sender, instance, name, source, target, **kwargs) -> None:
    """django-fsm `post_transition` receiver for incidents: a resolve with the workaround counts
    a deflection for the known errors applied to the incident; a reopen takes it back."""
    if sender is not Incident:
        return
    if name == "resolve" and instance.resolution_code == ResolutionCode.WORKAROUND:
        _mark(instance.pk, deflected=True)
    elif name == "reopen":
        _mark(instance.pk, deflected=False)


def _mark(incident_id: int, *, deflected: bool) -> None:
    uses = KnownErrorUse.objects.filter(incident_id=incident_id, deflected=not deflected)
    ids = list(uses.values_list("known_error_id", flat=True))
    if not ids:
        return
    uses.update(deflected=deflected)
    KnownError.objects.filter(pk__in=ids).update(deflections=F("deflections") + (1 if deflected else -1))


__all__ = ["apply_workaround", "record_self_service_fix", "track_deflections"]
