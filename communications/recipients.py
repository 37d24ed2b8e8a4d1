"""Who receives one event: rules, endpoints that listen to it, and subscribers.

Audience of internal events (`public=False`, e.g. work notes): only console users
(`is_staff`), the assignment group's mailbox and endpoints with `include_internal`. The caller,
external stakeholder addresses, subscribers and other endpoints never receive them.
The person who caused the event is not notified unless a rule says `notify_actor`.
"""

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from itsm.models import AssignmentGroup

from . import registry, snapshot
from .choices import Channel, RecipientKind
from .models import NotificationRule, Subscription, WebhookEndpoint
from .subject import Subject

logger = logging.getLogger(__name__)


@dataclass
class Target:
    """One recipient on one channel, and why."""

    channel: str
    address: str
    reason: str
    user_id: int | None = None
    endpoint: WebhookEndpoint | None = None
    subscription_id: int | None = None
    rule_id: int | None = None
    internal_ok: bool = False
    notify_actor: bool = False

    @property
    def key(self) -> tuple:
        if self.endpoint is not None:
            return ("endpoint", self.endpoint.pk)
        return (self.channel, self.address.lower())


class Directory:
    """Users, groups, group members and role holders loaded once and shared by several events.

    One `emit()` uses its own; `emit_many()` shares one across its events (one transaction, so
    the people cannot change in between) and preloads the users and groups they name.
    """

    def __init__(self) -> None:
        self._users: dict[int, object | None] = {}
        self._groups: dict[int, AssignmentGroup | None] = {}
        self._members: dict[int, list] = {}
        self._roles: dict[tuple, list] = {}

    def users(self, ids) -> list:
        missing = {i for i in ids if i is not None and i not in self._users}
        if missing:
            found = {user.pk: user for user in get_user_model().objects.filter(pk__in=missing)}
            for user_id in missing:
                self._users[user_id] = found.get(user_id)  # None: no such user (not asked again)
        return [user for user in (self._users.get(i) for i in ids) if user is not None]

    def group(self, group_id: int | None) -> AssignmentGroup | None:
        if not group_id:
            return None
        if group_id not in self._groups:
            self.load_groups([group_id])
        return self._groups[group_id]

    def load_groups(self, ids) -> None:
        """Load the groups (with their managers) not loaded yet, in one query."""
        missing = {i for i in ids if i and i not in self._groups}
        if missing:
            found = {g.pk: g for g in AssignmentGroup.objects.select_related("manager").filter(pk__in=missing)}
            for group_id in missing:
                self._groups[group_id] = found.get(group_id)

    def members(self, group: AssignmentGroup | None) -> list:
        if group is None:
            return []
        if group.pk not in self._members:
            self._members[group.pk] = list(group.members.filter(is_active=True).order_by("id"))
        return self._members[group.pk]

    def with_roles(self, names: list[str]) -> list:
        key = tuple(sorted(names))
        if key not in self._roles:
            self._roles[key] = list(
                get_user_model().objects.filter(groups__name__in=names, is_active=True).distinct().order_by("id")
            )
        return self._roles[key]


class _People:
    """The people around one record, loaded lazily through a (possibly shared) `Directory`."""

    def __init__(self, subject: Subject, directory: Directory | None = None):
        self.subject = subject
        self.directory = directory or Directory()

    def users(self, ids) -> list:
        return self.directory.users(ids)

    def group(self) -> AssignmentGroup | None:
        return self.directory.group(self.subject.group_id)

    def members(self) -> list:
        return self.directory.members(self.group())

    def with_roles(self, names: list[str]) -> list:
        return self.directory.with_roles(names)


def _user_target(user, reason: str, **extra) -> Target | None:
    if user is None or not user.is_active or not user.email:
        return None
    return Target(Channel.EMAIL, user.email, reason, user_id=user.pk, internal_ok=user.is_staff, **extra)


def _kind_targets(kind: str, subject: Subject, people: _People, via: str, extra: dict) -> list[Target | None]:
    """The people one recipient kind names for this record."""
    if kind == RecipientKind.ASSIGNEE_OR_GROUP:
        kind = RecipientKind.ASSIGNEE if subject.assignee_id else RecipientKind.GROUP
    if kind == RecipientKind.ASSIGNEE:
        return [_user_target(u, "assignee" + via, **extra) for u in people.users([subject.assignee_id])]
    if kind == RecipientKind.GROUP:
        group = people.group()
        if group is not None and group.email:
            return [Target(Channel.EMAIL, group.email, f"group mailbox of {group}" + via, internal_ok=True, **extra)]
        if group is not None:
            return [_user_target(u, f"member of {group}" + via, **extra) for u in people.members()]
        return []
    if kind == RecipientKind.GROUP_MEMBERS:
        return [_user_target(u, f"member of {people.group()}" + via, **extra) for u in people.members()]
    if kind == RecipientKind.GROUP_MANAGER:
        group = people.group()
        if group is not None and group.manager_id:
            return [_user_target(group.manager, f"manager of {group}" + via, **extra)]
        return []
    if kind == RecipientKind.CALLER:
        callers = people.users([subject.caller_id]) if subject.caller_id else []
        if callers:
            target = _user_target(callers[0], "caller" + via, **extra)
            if target is not None:
                target.internal_ok = False  # the caller never reads internal notes
            return [target]
        if subject.caller_email:
            return [Target(Channel.EMAIL, subject.caller_email, "caller" + via, **extra)]
        return []
    if kind == RecipientKind.WATCHERS:
        return [_user_target(u, "watcher" + via, **extra) for u in people.users(list(subject.watcher_ids))]
    if kind == RecipientKind.STAKEHOLDERS:
        return [Target(Channel.EMAIL, e, "stakeholder" + via, **extra) for e in subject.stakeholder_emails]
    return []


def _people_targets(
    rule: NotificationRule, subject: Subject, people: _People, user_ids: list[int]
) -> list[Target | None]:
    out: list[Target | None] = []
    extra = {"rule_id": rule.pk, "notify_actor": rule.notify_actor}
    via = f" (rule: {rule.name})"
    for kind in rule.recipients:
        out += _kind_targets(kind, subject, people, via, extra)
    if rule.roles:
        out += [_user_target(u, f"role {', '.join(rule.roles)}" + via, **extra) for u in people.with_roles(rule.roles)]
    out += [_user_target(u, "named in rule" + via, **extra) for u in people.users(user_ids)]
    out += [Target(Channel.EMAIL, e, "stakeholder list" + via, **extra) for e in rule.emails]
    return out


def _explicit_targets(words: list[str], subject: Subject, people: _People) -> list[Target | None]:
    """Recipients the caller of emit() names (e.g. a policy's "notify the group manager").

    A recipient kind ("assignee", "group", "group_manager", ...), "user:<id>" or
    "email:<address>". Unknown words are logged and skipped: a typo in configuration must not
    fail the caller's transaction.
    """
    out: list[Target | None] = []
    via = " (named by the event)"
    kinds = set(RecipientKind.values)
    for word in words:
        if word in kinds:
            out += _kind_targets(word, subject, people, via, {})
        elif word.startswith("user:") and word[5:].isdigit():
            out += [_user_target(u, "named by the event", **{}) for u in people.users([int(word[5:])])]
        elif word.startswith("email:") and "@" in word:
            out.append(Target(Channel.EMAIL, word[6:].strip(), "named by the event"))
        else:
            logger.warning("emit(): unknown recipient %r ignored", word)
    return out


def endpoint_target(endpoint: WebhookEndpoint, reason: str, rule_id: int | None = None) -> Target:
    return Target(
        endpoint.channel,
        endpoint.url,
        reason,
        endpoint=endpoint,
        rule_id=rule_id,
        internal_ok=endpoint.include_internal,
    )


def resolve(
    event_type: str,
    subject: Subject,
    data: dict,
    *,
    actor_id: int | None,
    public: bool,
    explicit: list[str] | None = None,
    config: "snapshot.Snapshot | None" = None,
    directory: Directory | None = None,
    subscriptions: list[Subscription] | None = None,
) -> list[Target]:
    """Every distinct (recipient, channel) for one event, first reason wins.

    `directory` shares loaded people between events; `subscriptions` are the subscriptions that
    may concern this subject (see `subscriptions_for`), read here when not given.
    """
    people = _People(subject, directory)
    candidates: list[Target | None] = _explicit_targets(explicit, subject, people) if explicit else []

    config = config or snapshot.current()  # active rules and endpoints (cached per configuration version)
    for rule in config.rules:
        if not registry.matches(rule.events, event_type) or not rule.matches(subject, data):
            continue
        if rule.channel == Channel.EMAIL:
            candidates += _people_targets(rule, subject, people, config.user_ids.get(rule.pk, []))
        else:
            candidates += [
                endpoint_target(e, f"rule: {rule.name}", rule.pk)
                for e in config.rule_endpoints(rule)
                if e.channel == rule.channel
            ]

    for endpoint in config.endpoints.values():
        if registry.matches(endpoint.events, event_type):
            target = endpoint_target(endpoint, "endpoint listens to this event")
            target.internal_ok = target.internal_ok or registry.is_for_listeners(event_type)
            candidates.append(target)

    if public:
        if subscriptions is None:
            (subscriptions,) = subscriptions_for([subject])
        for sub in subscriptions:
            if sub.events and not registry.matches(sub.events, event_type):
                continue
            what = f"service {sub.service}" if sub.service_id else subject.number
            reason = f"subscribed to {what}"
            if sub.user_id:
                target = _user_target(sub.user, reason, subscription_id=sub.pk)
            else:
                target = Target(Channel.EMAIL, sub.email, reason, subscription_id=sub.pk)
            candidates.append(target)

    seen: set[tuple] = set()
    targets: list[Target] = []
    for target in candidates:
        if target is None or not target.address:
            continue
        if not public and not target.internal_ok:
            continue
        if actor_id is not None and target.user_id == actor_id and not target.notify_actor:
            continue
        if target.key in seen:
            continue
        seen.add(target.key)
        targets.append(target)
    return targets


def subscriptions_for(subjects: list[Subject]) -> list[list[Subscription]]:
    """The subscriptions to each subject or to its service (id order), with one query for all."""
    if not subjects:
        return []
    condition = Q()
    by_kind: dict[str, set[int]] = {}
    for subject in subjects:
        by_kind.setdefault(subject.kind, set()).add(subject.id)
    for kind, ids in by_kind.items():
        condition |= Q(subject_kind=kind, subject_id__in=sorted(ids))
    service_ids = sorted({pk for s in subjects for pk in s.all_service_ids()})
    if service_ids:
        condition |= Q(service_id__in=service_ids)
    rows = list(Subscription.objects.filter(condition).select_related("user", "service").order_by("id"))
    return [
        [
            sub
            for sub in rows
            if (sub.subject_kind == subject.kind and sub.subject_id == subject.id)
            or (sub.service_id is not None and sub.service_id in subject.all_service_ids())
        ]
        for subject in subjects
    ]
