"""Configuration pages of the console: services, categories, groups, matrix, calendars, SLA policies."""

import datetime

import holidays as holidays_lib
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from itsm import roles
from itsm.models import (
    AssignmentGroup,
    BusinessCalendar,
    Category,
    Holiday,
    PriorityMatrixEntry,
    Service,
    SlaPolicy,
    WorkingPeriod,
)
from itsm.models.calendars import validate_periods


class ConfigAdmin(SimpleHistoryAdmin, ModelAdmin):
    """Configuration is changed by ITSM Administrators (model permissions from itsm.roles)."""

    list_per_page = 50
    warn_unsaved_form = True


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(ConfigAdmin):
    list_display = ["name", "email", "manager", "escalation_group", "member_count", "active"]
    list_filter = ["active"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["manager", "escalation_group"]
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .select_related("manager", "escalation_group")
            .annotate(_members=Count("members"))
        )

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj) -> int:
        return obj._members


@admin.register(Service)
class ServiceAdmin(ConfigAdmin):
    list_display = ["name", "slug", "owner_group", "criticality", "downtime_cost_per_hour", "active"]
    list_filter = ["criticality", "active", "owner_group"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["owner_group"]
    list_select_related = ["owner_group"]


@admin.register(Category)
class CategoryAdmin(ConfigAdmin):
    list_display = ["__str__", "parent", "active"]
    list_filter = ["active", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "parent__name"]
    list_select_related = ["parent"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = Category.objects.filter(parent__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(PriorityMatrixEntry)
class PriorityMatrixAdmin(ConfigAdmin):
    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]
    readonly_fields = ["impact", "urgency"]
    ordering = ["impact", "urgency"]

    def has_add_permission(self, request) -> bool:
        return False  # the nine cells exist from the first migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class WorkingPeriodForm(forms.ModelForm):
    start = forms.CharField(help_text="HH:MM", max_length=5)
    end = forms.CharField(help_text="HH:MM; 24:00 allowed", max_length=5)

    class Meta:
        model = WorkingPeriod
        fields = ["weekday", "start", "end"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from itsm.models.calendars import format_minute

        if self.instance.pk:
            self.initial["start"] = format_minute(self.instance.start_minute)
            self.initial["end"] = format_minute(self.instance.end_minute)

    def clean(self):
        from itsm.models.calendars import parse_minute

        data = super().clean()
        for name in ("start", "end"):
            if data.get(name):
                try:
                    data[f"{name}_minute"] = parse_minute(data[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        return data

    def save(self, commit=True):
        self.instance.start_minute = self.cleaned_data["start_minute"]
        self.instance.end_minute = self.cleaned_data["end_minute"]
        return super().save(commit)


class WorkingPeriodFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        periods = [
            (f.cleaned_data["weekday"], f.cleaned_data["start_minute"], f.cleaned_data["end_minute"])
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and "start_minute" in f.cleaned_data
            and "end_minute" in f.cleaned_data
        ]
        problems = validate_periods(periods)
        if problems:
            raise ValidationError(problems)


class WorkingPeriodInline(TabularInline):
    model = WorkingPeriod
    form = WorkingPeriodForm
    formset = WorkingPeriodFormSet
    extra = 0


class HolidayInline(TabularInline):
    model = Holiday
    extra = 0


class ImportHolidaysForm(forms.Form):
    country = forms.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE, US, AU")
    subdivision = forms.CharField(max_length=10, required=False, help_text="Optional state or region, e.g. BY")
    year = forms.IntegerField(min_value=2000, max_value=2100)

    def clean(self):
        data = super().clean()
        country = (data.get("country") or "").upper()
        if country and country not in holidays_lib.list_supported_countries():
            self.add_error("country", f"'{country}' is not a country the holidays package knows.")
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(ConfigAdmin):
    list_display = ["name", "timezone", "working_hours_summary"]
    search_fields = ["name"]
    inlines = [WorkingPeriodInline, HolidayInline]
    actions = ["import_holidays"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("working_periods")

    @admin.display(description="Working hours")
    def working_hours_summary(self, obj) -> str:
        return ", ".join(str(p) for p in obj.working_periods.all()[:7]) or "none"

    def get_urls(self):
        return [
            path(
                "<int:pk>/import-holidays/",
                self.admin_site.admin_view(self.import_holidays_view),
                name="itsm_businesscalendar_import_holidays",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Import public holidays for a country and year", permissions=["change"])
    def import_holidays(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one calendar to import holidays into.", messages.WARNING)
            return None
        return redirect(reverse("admin:itsm_businesscalendar_import_holidays", args=[queryset.get().pk]))

    def import_holidays_view(self, request, pk: int):
        calendar = BusinessCalendar.objects.get(pk=pk)
        if not self.has_change_permission(request, calendar):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = ImportHolidaysForm(request.POST or None, initial={"year": datetime.date.today().year})
        if request.method == "POST" and form.is_valid():
            added = import_country_holidays(
                calendar,
                form.cleaned_data["country"].upper(),
                form.cleaned_data["year"],
                form.cleaned_data.get("subdivision") or None,
            )
            self.message_user(request, f"Imported {added} holiday(s) into {calendar}.", messages.SUCCESS)
            return redirect(reverse("admin:itsm_businesscalendar_change", args=[calendar.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "calendar": calendar,
            "title": f"Import holidays into {calendar}",
            "opts": self.model._meta,
        }
        return render(request, "admin/itsm/import_holidays.html", context)


def import_country_holidays(calendar: BusinessCalendar, country: str, year: int, subdivision: str | None = None) -> int:
    """Add a country's public holidays for a year to a calendar; existing dates are kept. Returns how many."""
    found = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    existing = set(calendar.holidays.values_list("date", flat=True))
    new = [Holiday(calendar=calendar, date=d, name=str(n)[:150]) for d, n in sorted(found.items()) if d not in existing]
    Holiday.objects.bulk_create(new)
    BusinessCalendar.touch(calendar.pk)  # a bulk insert sends no signal: its SLA clocks read the new days
    calendar.save(update_fields=["updated_at"])
    return len(new)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ConfigAdmin):
    list_display = [
        "name",
        "kind",
        "priorities",
        "service",
        "category",
        "target_minutes",
        "calendar",
        "active",
    ]
    list_filter = ["kind", "active", "calendar"]
    search_fields = ["name"]
    autocomplete_fields = ["service", "category"]
    list_select_related = ["service", "category", "calendar"]


# --- Access: users, role groups and API tokens, themed like the rest ---------------------------
admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ["username", "get_full_name", "email", "role_list", "is_active"]
    list_filter = ["groups", "is_active", "is_staff"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def role_list(self, obj) -> str:
        return ", ".join(sorted(g.name for g in obj.groups.all() if g.name in roles.ALL_ROLES))


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


@admin.register(TokenProxy)
class TokenAdmin(BaseTokenAdmin, ModelAdmin):
    pass
