"""Serializers of the communications API (API.md: the `webhook` and `notification` rows)."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from itsm import roles
from itsm.api.serializers import StrictModelSerializer
from itsm.models import AssignmentGroup, Service

from .. import registry
from ..choices import ENDPOINT_CHANNELS, TEMPLATED_CHANNELS, Channel, RecipientKind
from ..models import (
    DeliveryAttempt,
    Notification,
    NotificationRule,
    NotificationTemplate,
    Subscription,
    WebhookEndpoint,
)
from ..netguard import UnsafeURL, validate_target_url
from ..rendering import template_errors
from ..services import activate_endpoint

User = get_user_model()


class EventPatternsField(serializers.ListField):
    """A list of event types, `prefix.*` or `*`; unknown names are a 400 naming them."""

    child = serializers.CharField(max_length=100)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        bad = registry.invalid_patterns(value)
        if bad:
            raise serializers.ValidationError(f"Unknown event type(s): {', '.join(bad)}.")
        return list(dict.fromkeys(value))


# --- webhooks ---------------------------------------------------------------------------------


def _channel_field(**kwargs) -> serializers.ChoiceField:
    """One `channel` enum in the schema for every resource (its values checked per resource)."""
    return serializers.ChoiceField(choices=Channel.choices, **kwargs)


def _check_channel(value: str, allowed: list) -> str:
    if value not in allowed:
        raise serializers.ValidationError(f"One of: {', '.join(str(a) for a in allowed)}.")
    return value


class WebhookEndpointSerializer(StrictModelSerializer):
    channel = _channel_field(required=False, help_text="webhook, slack or teams.")
    url = serializers.URLField(max_length=2000, help_text="http(s); private and loopback addresses are refused.")
    events = EventPatternsField(required=False, help_text="Events this endpoint receives without any rule.")
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=200,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="HMAC-SHA256 key (write-only), at least 16 characters; required for `webhook` endpoints.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "channel",
            "description",
            "events",
            "secret",
            "include_internal",
            "active",
            "consecutive_failures",
            "total_failures",
            "last_success_at",
            "last_failure_at",
            "disabled_at",
            "disabled_reason",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "consecutive_failures",
            "total_failures",
            "last_success_at",
            "last_failure_at",
            "disabled_at",
            "disabled_reason",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def validate_channel(self, value: str) -> str:
        return _check_channel(value, ENDPOINT_CHANNELS)

    def validate_url(self, value: str) -> str:
        try:
            validate_target_url(value)
        except UnsafeURL as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate(self, attrs):
        channel = attrs.get("channel", self.instance.channel if self.instance else Channel.WEBHOOK)
        has_secret = bool(attrs.get("secret") or (self.instance and self.instance.secret))
        if channel == Channel.WEBHOOK and not has_secret:
            raise serializers.ValidationError({"secret": ["A webhook endpoint needs a secret (16+ characters)."]})
        return attrs

    def create(self, validated_data):
        request = self.context.get("request")
        validated_data["created_by"] = getattr(request, "user", None)
        return super().create(validated_data)

    def update(self, instance, validated_data):
        if validated_data.get("active") and not instance.active:
            activate_endpoint(instance)
        return super().update(instance, validated_data)


# --- the delivery log -----------------------------------------------------------------------------


class SubjectRefSerializer(serializers.Serializer):
    """The record a notification is about."""

    kind = serializers.CharField(source="subject_kind")
    id = serializers.IntegerField(source="subject_id", allow_null=True)
    number = serializers.CharField(source="subject_number")
    url = serializers.CharField(source="subject_url")


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "finished_at",
            "duration_ms",
            "outcome",
            "status_code",
            "error",
            "response_excerpt",
        ]


class NotificationSerializer(serializers.ModelSerializer):
    subject = SubjectRefSerializer(source="*", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "delivery_id",
            "event",
            "occurred_at",
            "channel",
            "recipient",
            "status",
            "attempts",
            "max_attempts",
            "last_error",
            "next_attempt_at",
            "created_at",
            "sent_at",
            "subject",
            "message_subject",
            "reason",
            "public",
            "endpoint",
            "rule",
            "digest",
            "duplicate_of",
        ]
        read_only_fields = fields


class NotificationDetailSerializer(NotificationSerializer):
    history = DeliveryAttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "body_text", "body_html", "history"]
        read_only_fields = fields


# --- subscriptions ---------------------------------------------------------------------------------


class SubscriptionSerializer(StrictModelSerializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Defaults to you. Administrators may subscribe anyone.",
    )
    email = serializers.EmailField(
        required=False, allow_blank=True, help_text="An external stakeholder (administrators only)."
    )
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    subject_kind = serializers.CharField(required=False, allow_blank=True, max_length=50)
    subject_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    events = EventPatternsField(required=False, help_text="Only these events; empty: every public event.")

    class Meta:
        model = Subscription
        fields = ["id", "user", "email", "service", "subject_kind", "subject_id", "events", "created_at"]
        read_only_fields = ["created_at"]
        validators = []  # duplicates are a 409 (see the view), not a 400

    def validate_subject_kind(self, value: str) -> str:
        if value and value not in registry.subject_kinds():
            raise serializers.ValidationError(f"Unknown kind; one of: {', '.join(registry.subject_kinds())}.")
        return value

    def validate(self, attrs):
        request = self.context["request"]
        is_admin = roles.has_role(request.user, roles.ADMINISTRATOR)
        user, email = attrs.get("user"), (attrs.get("email") or "").strip().lower()
        errors: dict[str, list[str]] = {}
        if user and email:
            errors["email"] = ["Give a user or an email, not both."]
        if not user and not email:
            user = request.user
        if not is_admin and email:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("Only ITSM Administrators subscribe external email addresses.")
        if not is_admin and user is not None and user.pk != request.user.pk:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("You may only manage your own subscriptions.")
        if user is not None and not email and not user.email:
            errors["user"] = ["This user has no email address."]
        service, kind, record = attrs.get("service"), attrs.get("subject_kind") or "", attrs.get("subject_id")
        if service and (kind or record):
            errors["service"] = ["Subscribe to a service or to a record, not both."]
        elif not service and not (kind and record):
            if kind and not record:
                errors["subject_id"] = ["Required with subject_kind."]
            elif record and not kind:
                errors["subject_kind"] = ["Required with subject_id."]
            else:
                errors["service"] = ["Give a service, or subject_kind and subject_id."]
        if errors:
            raise serializers.ValidationError(errors)
        attrs.update(user=None if email else user, email=email, subject_kind=kind, subject_id=record)
        return attrs


# --- rules and templates --------------------------------------------------------------------------


class NotificationRuleSerializer(StrictModelSerializer):
    events = EventPatternsField(allow_empty=False)
    recipients = serializers.ListField(child=serializers.ChoiceField(choices=RecipientKind.choices), required=False)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ALL_ROLES), required=False)
    users = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    emails = serializers.ListField(child=serializers.EmailField(), required=False)
    endpoints = serializers.PrimaryKeyRelatedField(many=True, queryset=WebhookEndpoint.objects.all(), required=False)
    priorities = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=5), required=False)
    services = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.all(), required=False
    )
    groups = serializers.PrimaryKeyRelatedField(many=True, queryset=AssignmentGroup.objects.all(), required=False)
    conditions = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(), allow_empty=False),
        required=False,
        help_text='Values from the event context, e.g. {"record.state": ["resolved"]}.',
    )

    class Meta:
        model = NotificationRule
        fields = [
            "id",
            "name",
            "description",
            "active",
            "events",
            "channel",
            "recipients",
            "roles",
            "users",
            "emails",
            "endpoints",
            "priorities",
            "services",
            "groups",
            "conditions",
            "notify_actor",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        def current(name, default):
            if name in attrs:
                return attrs[name]
            if self.instance is None:
                return default
            value = getattr(self.instance, name)
            return list(value.all()) if hasattr(value, "all") else value

        channel = current("channel", Channel.EMAIL)
        errors: dict[str, list[str]] = {}
        people = current("recipients", []) or current("roles", []) or current("users", []) or current("emails", [])
        endpoints = current("endpoints", [])
        if channel == Channel.EMAIL:
            if endpoints:
                errors["endpoints"] = [
                    "An email rule notifies people; use a webhook, Slack or Teams rule for endpoints."
                ]
            elif not people:
                errors["recipients"] = ["Name at least one recipient (kinds, roles, users or emails)."]
        else:
            if people:
                errors["channel"] = ["Only email rules notify people; this rule posts to endpoints."]
            if not endpoints:
                errors["endpoints"] = [f"A {channel} rule needs at least one {channel} endpoint."]
            wrong = [str(e.pk) for e in endpoints if e.channel != channel]
            if wrong:
                errors["endpoints"] = [f"Not {channel} endpoints: {', '.join(wrong)}."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class NotificationTemplateSerializer(StrictModelSerializer):
    channel = _channel_field(required=False, help_text="email, slack or teams.")

    class Meta:
        model = NotificationTemplate
        fields = ["id", "event", "channel", "subject", "body_text", "body_html", "active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # a second template for the same event and channel is a 409 (see the view)

    def validate_channel(self, value: str) -> str:
        return _check_channel(value, TEMPLATED_CHANNELS)

    def validate_event(self, value: str) -> str:
        if not registry.is_registered(value, internal=True):
            raise serializers.ValidationError(f"Unknown event type: {value}.")
        return value

    def validate(self, attrs):
        def current(name):
            return attrs.get(name, getattr(self.instance, name, "") if self.instance else "")

        errors = template_errors(
            current("event"),
            current("channel") or "email",
            current("subject"),
            current("body_text"),
            current("body_html"),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
