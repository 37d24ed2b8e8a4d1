"""The Communications pages of the console: delivery log, rules, templates, endpoints,
subscriptions. Rendering, retries and test events call `services`; nothing is decided here."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from itsm.admin_large import LargeTableAdminMixin

from . import rendering, services
from .choices import Status
from .forms import NotificationRuleForm, NotificationTemplateForm, SubscriptionForm, WebhookEndpointForm
from .models import DeliveryAttempt, Notification, NotificationRule, NotificationTemplate, Subscription, WebhookEndpoint

STATUS_LABELS = {
    Status.SENT: "success",
    Status.DEAD: "danger",
    Status.FAILED: "warning",
    Status.PENDING: "info",
    Status.SENDING: "info",
}


class DeliveryAttemptInline(TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "duration_ms", "outcome", "status_code", "error", "response_excerpt", "worker"]
    readonly_fields = fields
    ordering = ["number", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(LargeTableAdminMixin, ModelAdmin):
    """The delivery log. Read-only; "retry now" needs the change permission."""

    list_display = [
        "id",
        "created_at",
        "event",
        "channel",
        "recipient",
        "subject_number",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "event", "public"]
    search_fields = ["recipient", "subject_number", "message_subject", "=delivery_id"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # the log grows large: no COUNT(*) on every page
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected"]
    actions_detail = ["retry_detail"]
    fieldsets = [
        (None, {"fields": ["status", "event", "occurred_at", "channel", "recipient", "reason", "public"]}),
        ("Record", {"fields": ["subject_kind", "subject_id", "subject_number", "record_link"]}),
        (
            "Delivery",
            {
                "fields": [
                    "delivery_id",
                    "attempts",
                    "max_attempts",
                    "last_error",
                    "next_attempt_at",
                    "created_at",
                    "sent_at",
                    "endpoint",
                    "rule",
                    "subscription",
                    "digest",
                    "duplicate_of",
                ]
            },
        ),
        ("Message", {"fields": ["message_subject", "body_text", "html_preview"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Notification._meta.fields] + ["record_link", "html_preview"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint", "rule")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    @admin.display(description="Record")
    def record_link(self, obj) -> str:
        if not obj.subject_url:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.subject_url, obj.subject_number or obj.subject_url)

    @admin.display(description="HTML part")
    def html_preview(self, obj) -> str:
        if not obj.body_html:
            return "-"
        return format_html(
            '<iframe sandbox srcdoc="{}" style="width:100%;height:420px;border:1px solid #e5e7eb;'
            'border-radius:6px;background:#fff"></iframe>',
            obj.body_html,
        )

    def _retry(self, request, ids) -> None:
        done, refused = 0, []
        for pk in ids:
            try:
                services.retry_notification(pk)
                done += 1
            except services.NotRetryable as exc:
                refused.append(f"#{pk}: {exc}")
        if done:
            self.message_user(request, f"{done} notification(s) queued to be sent again.", messages.SUCCESS)
        for message in refused[:10]:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._retry(request, list(queryset.values_list("pk", flat=True)))

    @action(description="Retry now", permissions=["change"], url_path="retry", icon="replay")
    def retry_detail(self, request, object_id):
        self._retry(request, [int(object_id)])
        return HttpResponseRedirect(reverse("admin:communications_notification_change", args=[object_id]))


@admin.register(NotificationRule)
class NotificationRuleAdmin(ModelAdmin):
    form = NotificationRuleForm
    list_display = ["name", "event_list", "channel", "recipient_list", "active"]
    list_filter = ["active", "channel"]
    search_fields = ["name", "description"]
    filter_horizontal = ["users", "endpoints", "services", "groups"]
    fieldsets = [
        (None, {"fields": ["name", "description", "active", "events", "channel"]}),
        ("Who (email rules)", {"fields": ["recipients", "roles", "users", "emails", "notify_actor"]}),
        ("Where (webhook, Slack and Teams rules)", {"fields": ["endpoints"]}),
        ("Only when", {"fields": ["priorities", "services", "groups", "conditions"]}),
    ]

    @admin.display(description="Events")
    def event_list(self, obj) -> str:
        return ", ".join(obj.events)

    @admin.display(description="Recipients")
    def recipient_list(self, obj) -> str:
        return ", ".join([*obj.recipients, *obj.roles, *obj.emails]) or "-"


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(ModelAdmin):
    """Templates are checked on save (compiled and rendered against a sample record); the
    change page previews the saved version next to the shipped default."""

    form = NotificationTemplateForm
    list_display = ["event", "channel", "subject", "active", "updated_at"]
    list_filter = ["channel", "active", "event"]
    search_fields = ["event", "subject", "body_text"]
    readonly_fields = ["preview", "shipped_default"]
    fieldsets = [
        (None, {"fields": ["event", "channel", "active"]}),
        ("Template (Django template syntax)", {"fields": ["subject", "body_text", "body_html"]}),
        ("Preview against a sample record", {"fields": ["preview", "shipped_default"]}),
    ]

    @admin.display(description="This template")
    def preview(self, obj) -> str:
        if not obj or not obj.pk:
            return "Save to see the preview."
        try:
            message = rendering.preview(obj.event, obj.channel, obj)
        except Exception as exc:  # a template saved before a sample changed: show why
            return format_html('<span style="color:#b91c1c">{}</span>', f"{type(exc).__name__}: {exc}")
        return _render_preview(message)

    @admin.display(description="Shipped default")
    def shipped_default(self, obj) -> str:
        if not obj or not obj.pk:
            return "-"
        return _render_preview(rendering.preview(obj.event, obj.channel))


def _render_preview(message: rendering.Message) -> str:
    html = ""
    if message.html:
        html = format_html(
            '<iframe sandbox srcdoc="{}" style="width:100%;height:420px;border:1px solid #e5e7eb;'
            'border-radius:6px;background:#fff;margin-top:8px"></iframe>',
            message.html,
        )
    return format_html(
        '<div><strong>{}</strong><pre style="white-space:pre-wrap;margin-top:8px">{}</pre>{}</div>',
        message.subject,
        message.text,
        html,
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["__str__", "channel", "url", "active", "consecutive_failures", "last_success_at", "disabled_reason"]
    list_filter = ["active", "channel"]
    search_fields = ["url", "description"]
    actions = ["send_test"]
    actions_detail = ["send_test_detail"]
    readonly_fields = [
        "consecutive_failures",
        "total_failures",
        "last_success_at",
        "last_failure_at",
        "disabled_at",
        "disabled_reason",
        "created_by",
    ]
    fieldsets = [
        (None, {"fields": ["url", "channel", "description", "events", "secret", "include_internal", "active"]}),
        ("Health", {"fields": readonly_fields}),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        elif "active" in form.changed_data and obj.active:
            services.activate_endpoint(obj)
        super().save_model(request, obj, form, change)

    def _test(self, request, endpoints) -> None:
        for endpoint in endpoints:
            if not endpoint.active:
                self.message_user(request, f"{endpoint} is disabled; activate it first.", messages.WARNING)
                continue
            notification = services.send_test_event(endpoint, actor=request.user)
            link = reverse("admin:communications_notification_change", args=[notification.pk])
            self.message_user(
                request, format_html('Test event queued for {}: <a href="{}">delivery log</a>.', endpoint, link)
            )

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test(self, request, queryset):
        self._test(request, queryset)

    @action(description="Send a test event", permissions=["change"], url_path="send-test", icon="send")
    def send_test_detail(self, request, object_id):
        self._test(request, WebhookEndpoint.objects.filter(pk=object_id))
        return HttpResponseRedirect(reverse("admin:communications_webhookendpoint_change", args=[object_id]))


@admin.register(Subscription)
class SubscriptionAdmin(ModelAdmin):
    form = SubscriptionForm
    list_display = ["__str__", "user", "email", "service", "subject_kind", "subject_id", "created_at"]
    list_filter = ["service", "subject_kind"]
    search_fields = ["email", "user__username", "user__email"]
    autocomplete_fields = ["user", "service"]
    list_select_related = ["user", "service"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
