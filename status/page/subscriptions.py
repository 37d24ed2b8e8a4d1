"""Public subscribers of the status page: subscribe, confirm (double opt-in), unsubscribe.

`subscribe()` records the address and queues ONE confirmation email through the outbox; the
signed link in it (salted, expiring after `CONFIRM_MAX_AGE`) carries the visitor's choice, so a
confirmed subscriber's services change only when the owner of the address confirms the new
choice. Nothing else reaches the address until `confirm()` writes the communications
subscriptions (one per service, `events` = `PUBLIC_EVENTS`) through which external updates and
maintenance notices are delivered; every such email carries communications' own unsubscribe
link (per service), and `/status/unsubscribe/<token>/` ends the whole subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from communications import conf
from communications.models import Subscription
from communications.services import Emission, Subject, emit_many
from itsm.models import Service
from status.models import StatusPageEntry, StatusSubscriber
from status.page import build

CONFIRM_EVENT = "status.subscription_confirm"
CONFIRM_SALT = "status.subscription.confirm"
UNSUBSCRIBE_SALT = "status.subscriber.unsubscribe"
CONFIRM_MAX_AGE = 3 * 24 * 3600  # seconds a confirmation link works
# A repeat of the same request within this time sends no second email (the form is anonymous:
# it must not become a way to flood an address).
RESEND_AFTER = timedelta(minutes=2)
# The events a confirmed public subscriber receives (external and public ones only: internal
# updates are emitted with public=False and never reach subscriptions).
PUBLIC_EVENTS = [
    "major_incident.declared",
    "major_incident.update_posted",
    "major_incident.resolved",
    "maintenance.*",
]


@dataclass(frozen=True)
class Choice:
    """What a visitor asked for: an address and the whole page or some services (ids)."""

    email: str
    all_services: bool
    service_ids: tuple[int, ...]
    subscriber_id: int | None = None  # set when read back from a confirmation token


def public_services() -> dict[str, Service]:
    """The services a visitor may choose, by slug (active and not hidden)."""
    services, _ = build.visible_services()
    return {s.slug: s for s in services}


def parse_choice(email: str, scope: str, slugs: list[str]) -> Choice:
    """Validate the form: 400 (ValidationError naming each bad field) for an invalid email, an
    unknown scope, an unknown or hidden service, or no service chosen."""
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [f"{email or 'An empty address'} is not a valid email address."]
    if scope not in ("all", "services"):
        errors["scope"] = ["Choose the whole page or some services."]
    ids: list[int] = []
    if scope == "services":
        known = public_services()
        unknown = [s for s in slugs if s not in known]
        if unknown:
            errors["services"] = [f"Unknown service: {', '.join(unknown)}."]
        elif not slugs:
            errors["services"] = ["Choose at least one service, or the whole page."]
        else:
            ids = sorted({known[s].pk for s in slugs})
    if errors:
        raise ValidationError(errors)
    return Choice(email=email, all_services=scope == "all", service_ids=tuple(ids))


def confirm_token(subscriber: StatusSubscriber, choice: Choice) -> str:
    """The signed confirmation token: the subscriber and the choice to apply."""
    payload = {"id": subscriber.pk, "e": choice.email, "a": choice.all_services, "s": list(choice.service_ids)}
    return signing.dumps(payload, salt=CONFIRM_SALT, compress=True)


def unsubscribe_token(subscriber: StatusSubscriber) -> str:
    """The signed token that ends a subscriber's whole subscription (no expiry)."""
    return signing.dumps({"id": subscriber.pk, "e": subscriber.email}, salt=UNSUBSCRIBE_SALT, compress=True)


def _absolute(name: str, token: str) -> str:
    return conf.site_url() + reverse(name, args=[token])


def confirm_url(subscriber: StatusSubscriber, choice: Choice) -> str:
    return _absolute("status:confirm", confirm_token(subscriber, choice))


def unsubscribe_url(subscriber: StatusSubscriber) -> str:
    return _absolute("status:unsubscribe", unsubscribe_token(subscriber))


def _subject(subscriber: StatusSubscriber, url: str) -> Subject:
    return Subject(
        kind="status_subscriber",
        id=subscriber.pk,
        number="Status page",
        title="Confirm your subscription",
        url=url,
    )


@transaction.atomic
def subscribe(choice: Choice) -> StatusSubscriber:
    """Record the address and queue its confirmation email (nothing else is sent until confirmed).

    An unconfirmed (or unsubscribed) address takes the new choice at once; a confirmed one keeps
    its services until the new link is confirmed. Sent through the outbox after commit.
    """
    subscriber, created = StatusSubscriber.objects.select_for_update().get_or_create(
        email=choice.email, defaults={"all_services": choice.all_services}
    )
    now = timezone.now()
    active = subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None
    if not created and _same_request_sent_recently(subscriber, choice, now):
        return subscriber
    if not active:
        subscriber.all_services = choice.all_services
        subscriber.confirmed_at = None
        subscriber.services.set(choice.service_ids)
    subscriber.confirmation_sent_at = now
    subscriber.save()
    url = confirm_url(subscriber, choice)
    names = [] if choice.all_services else list(Service.objects.filter(pk__in=choice.service_ids).order_by("name"))
    context = {
        "confirm_url": url,
        "valid_days": CONFIRM_MAX_AGE // 86400,
        "all_services": choice.all_services,
        "services": [build.public_name(s, _entries(names)) for s in names],
        "status_url": conf.site_url() + reverse("status:page"),
    }
    emit_many(
        [
            Emission(
                event_type=CONFIRM_EVENT,
                subject=_subject(subscriber, url),
                context=context,
                public=True,
                recipients=[f"email:{choice.email}"],
            )
        ]
    )
    return subscriber


def _same_request_sent_recently(subscriber: StatusSubscriber, choice: Choice, now) -> bool:
    """An unconfirmed address asked for the same thing less than RESEND_AFTER ago."""
    if subscriber.confirmed_at is not None or subscriber.confirmation_sent_at is None:
        return False
    if now - subscriber.confirmation_sent_at >= RESEND_AFTER or subscriber.unsubscribed_at is not None:
        return False
    same_services = set(subscriber.services.values_list("id", flat=True)) == set(choice.service_ids)
    return subscriber.all_services == choice.all_services and (choice.all_services or same_services)


def _entries(services: list[Service]) -> dict:
    return {e.service_id: e for e in StatusPageEntry.objects.filter(service__in=services)}


def read_confirm_token(token: str) -> Choice | None:
    """The choice a confirmation token carries, or None when tampered with or expired."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int) or not isinstance(data.get("e"), str):
        return None
    ids = tuple(i for i in data.get("s") or () if isinstance(i, int))
    return Choice(email=data["e"], all_services=bool(data.get("a")), service_ids=ids, subscriber_id=data["id"])


def read_unsubscribe_token(token: str) -> dict | None:
    """{"id", "e"} of an unsubscribe token, or None when tampered with."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), int) else None


def _ours(email: str):
    """The communications subscriptions the status page wrote for `email`."""
    return Subscription.objects.filter(email=email, user__isnull=True, service__isnull=False, events=PUBLIC_EVENTS)


@transaction.atomic
def confirm(token: str) -> StatusSubscriber | None:
    """Apply a confirmation link: mark the subscriber confirmed and write one communications
    subscription per chosen service (every public service for the whole page). None (nothing
    written) when the token is tampered with, expired, or names an address no longer on file."""
    choice = read_confirm_token(token)
    if choice is None:
        return None
    subscriber = (
        StatusSubscriber.objects.select_for_update().filter(pk=choice.subscriber_id, email=choice.email).first()
    )
    if subscriber is None:
        return None
    services = public_services()
    if choice.all_services:
        ids = {s.pk for s in services.values()}
    else:
        ids = {s.pk for s in services.values() if s.pk in set(choice.service_ids)}
    subscriber.all_services = choice.all_services
    subscriber.confirmed_at = subscriber.confirmed_at or timezone.now()
    subscriber.unsubscribed_at = None
    subscriber.save()
    subscriber.services.set([] if choice.all_services else sorted(ids))
    _ours(subscriber.email).exclude(service_id__in=ids).delete()
    existing = set(
        Subscription.objects.filter(email=subscriber.email, service_id__in=ids).values_list("service_id", flat=True)
    )
    Subscription.objects.bulk_create(
        [Subscription(email=subscriber.email, service_id=pk, events=PUBLIC_EVENTS) for pk in sorted(ids - existing)]
    )
    return subscriber


@transaction.atomic
def unsubscribe(token: str) -> StatusSubscriber | None:
    """End a subscriber's whole subscription (its communications subscriptions deleted). None
    when the token is tampered with or the subscriber is gone."""
    data = read_unsubscribe_token(token)
    if data is None:
        return None
    subscriber = StatusSubscriber.objects.select_for_update().filter(pk=data["id"], email=data.get("e")).first()
    if subscriber is None:
        return None
    _ours(subscriber.email).delete()
    subscriber.unsubscribed_at = timezone.now()
    subscriber.save(update_fields=["unsubscribed_at", "updated_at"])
    return subscriber


@transaction.atomic
def delete_subscriber(subscriber: StatusSubscriber) -> None:
    """Remove a subscriber and the communications subscriptions the status page wrote for it (admin)."""
    _ours(subscriber.email).delete()
    subscriber.delete()
