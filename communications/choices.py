"""Choices of the communications app."""

from django.db import models


class Channel(models.TextChoices):
    """How a notification travels."""

    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


# Channels that an endpoint (an outbound URL) can have; email goes through Django's backend.
ENDPOINT_CHANNELS = [Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS]
# Channels whose messages are rendered from templates (webhooks carry JSON data instead).
TEMPLATED_CHANNELS = [Channel.EMAIL, Channel.SLACK, Channel.TEAMS]


class EndpointChannel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"


class TemplateChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class Status(models.TextChoices):
    """Life of an outbox row: pending -> sending -> sent | failed (retrying) | dead.

    Storm control adds three resting states that are never sent on their own: `suppressed` (a
    duplicate within the window), `held` (waiting to be collected into a digest) and `digested`
    (sent as part of the digest it points at).
    """

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (retrying)"
    DEAD = "dead", "Dead"
    SUPPRESSED = "suppressed", "Suppressed (duplicate)"
    HELD = "held", "Held for digest"
    DIGESTED = "digested", "Sent in a digest"


# States a delivery task may pick up.
DELIVERABLE = [Status.PENDING, Status.FAILED]
# States that count as "this recipient got (or will get) a message" for storm control.
COUNTED = [Status.PENDING, Status.SENDING, Status.SENT, Status.FAILED, Status.DEAD]
# States an operator may send again with "retry now".
RETRYABLE = [Status.PENDING, Status.FAILED, Status.DEAD, Status.SUPPRESSED, Status.HELD]


class RecipientKind(models.TextChoices):
    """Who a rule notifies, relative to the record the event is about."""

    ASSIGNEE = "assignee", "Assignee"
    ASSIGNEE_OR_GROUP = "assignee_or_group", "Assignee, or the group when unassigned"
    GROUP = "group", "Assignment group (its mailbox, else its members)"
    GROUP_MEMBERS = "group_members", "Assignment group members"
    GROUP_MANAGER = "group_manager", "Assignment group manager"
    CALLER = "caller", "Caller"
    WATCHERS = "watchers", "Watchers"
    STAKEHOLDERS = "stakeholders", "Stakeholders of the record (external emails)"


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", "Delivered"
    RETRY = "retry", "Failed, will retry"
    FAILURE = "failure", "Failed permanently"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"
