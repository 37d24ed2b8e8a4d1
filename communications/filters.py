"""Explicit FilterSets of the communications API."""

import django_filters
from django.db.models import Q

from itsm.api.filters import CommaSeparatedFilter

from .choices import Channel, EndpointChannel, Status
from .models import Notification, NotificationRule, NotificationTemplate, Subscription, WebhookEndpoint


class NotificationFilterSet(django_filters.FilterSet):
    status = CommaSeparatedFilter(choices=Status.choices)
    channel = CommaSeparatedFilter(choices=Channel.choices)
    event = CommaSeparatedFilter(label="Comma-separated event types")
    recipient = django_filters.CharFilter(method="by_recipient", label="Email address (any case) or endpoint URL")
    endpoint = django_filters.NumberFilter(field_name="endpoint_id")
    subject_kind = django_filters.CharFilter()
    subject_id = django_filters.NumberFilter()
    subject_number = django_filters.CharFilter(lookup_expr="iexact")
    delivery_id = django_filters.UUIDFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", label="Text search on recipient, number and subject line")

    class Meta:
        model = Notification
        fields = []

    def by_recipient(self, queryset, name, value):
        # Email addresses are stored in lower case: an exact match keeps the index usable.
        value = value.strip()
        return queryset.filter(recipient=value.lower() if "://" not in value else value)

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(recipient__icontains=value) | Q(subject_number__iexact=value) | Q(message_subject__icontains=value)
        )


class WebhookEndpointFilterSet(django_filters.FilterSet):
    channel = CommaSeparatedFilter(choices=EndpointChannel.choices)
    active = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="search", label="Text search on URL and description")

    class Meta:
        model = WebhookEndpoint
        fields = ["active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(url__icontains=value) | Q(description__icontains=value))


class SubscriptionFilterSet(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")
    email = django_filters.CharFilter(lookup_expr="iexact")
    service = django_filters.CharFilter(field_name="service__slug")
    subject_kind = django_filters.CharFilter()
    subject_id = django_filters.NumberFilter()

    class Meta:
        model = Subscription
        fields = []


class NotificationRuleFilterSet(django_filters.FilterSet):
    channel = CommaSeparatedFilter(choices=Channel.choices)
    active = django_filters.BooleanFilter()
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = NotificationRule
        fields = ["active"]


class NotificationTemplateFilterSet(django_filters.FilterSet):
    event = CommaSeparatedFilter(label="Comma-separated event types")
    channel = CommaSeparatedFilter(choices=NotificationTemplate._meta.get_field("channel").choices)
    active = django_filters.BooleanFilter()

    class Meta:
        model = NotificationTemplate
        fields = ["active"]
