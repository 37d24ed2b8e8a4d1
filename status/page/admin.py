"""Console pages of the status page: its groups and entries (the layout) and public subscribers
(read-only; an administrator may delete one). Saving any of them invalidates the cached page
(the signal handlers in `status.page.registrations`)."""

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from status.models import StatusPageEntry, StatusPageGroup, StatusSubscriber


class StatusPageEntryInline(TabularInline):
    model = StatusPageEntry
    extra = 0
    fields = ["service", "position", "public_name", "public_description", "hidden"]
    autocomplete_fields = ["service"]
    ordering = ["position", "id"]


@admin.register(StatusPageGroup)
class StatusPageGroupAdmin(ModelAdmin):
    list_display = ["name", "position", "description"]
    list_editable = ["position"]
    search_fields = ["name"]
    inlines = [StatusPageEntryInline]


@admin.register(StatusPageEntry)
class StatusPageEntryAdmin(ModelAdmin):
    list_display = ["service", "public_name", "group", "position", "hidden"]
    list_filter = ["group", "hidden"]
    list_editable = ["position", "hidden"]
    list_select_related = ["service", "group"]
    search_fields = ["service__name", "public_name"]
    autocomplete_fields = ["service"]


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(ModelAdmin):
    """Read-only: visitors manage their own subscription through the signed links."""

    list_display = ["email", "all_services", "confirmed_at", "confirmation_sent_at", "unsubscribed_at", "created_at"]
    list_filter = ["all_services", ("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    readonly_fields = [
        "email",
        "all_services",
        "services",
        "confirmed_at",
        "confirmation_sent_at",
        "unsubscribed_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        from status.page.subscriptions import delete_subscriber

        delete_subscriber(obj)

    def delete_queryset(self, request, queryset) -> None:
        from status.page.subscriptions import delete_subscriber

        for obj in queryset:
            delete_subscriber(obj)
