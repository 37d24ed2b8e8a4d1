"""Forms of the major incident console; each one ends in a call to an `incidents.major` service.

The forms only shape what was typed into the arguments the service takes (the same the API
passes); the service validates and decides, and its refusal comes back as field errors or a
message with the API's sentence (`refusal_text`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from unfold.widgets import (
    INPUT_CLASSES,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldAdminURLInputWidget,
    UnfoldBooleanSwitchWidget,
)

from incidents.admin.display import parse_number
from incidents.admin.forms import SERVICE_ERRORS, error_text
from incidents.choices import ResolutionCode
from incidents.major.choices import LIVE_STATES, Audience, UpdateStatus
from incidents.major.models import ActionItem, MajorIncident, PostIncidentReview, Responder
from incidents.models import Incident
from itsm.exceptions import Conflict, StaleRecord
from itsm.models import AssignmentGroup, Service

User = get_user_model()

# Every refusal a major incident service raises; the console reports each as a message.
MI_ERRORS = (*SERVICE_ERRORS, Conflict)
LINK_LIMIT = 500  # numbers accepted in one "link by number" (the bulk action's limit too)


def refusal_text(exc: Exception) -> str:
    """The sentence a service refusal carries (the API's `detail`), with what to do about a stale page."""
    if isinstance(exc, Conflict):
        extra = " ".join(f"{k}: {v}" for k, v in (exc.errors or {}).items() if str(v) not in exc.detail)
        return f"{exc.detail} {extra}".strip()
    text = error_text(exc)
    if isinstance(exc, StaleRecord):
        text += " Reload the page to see what changed, then apply your change again."
    return text


def put_refusal_on(form: forms.BaseForm, exc: Exception) -> None:
    """A ValidationError naming fields goes on those fields; anything else on the form's top."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            target = field if field in form.fields and not form.fields[field].widget.is_hidden else None
            for message in messages:
                form.add_error(target, message if target else f"{field.replace('_', ' ').capitalize()}: {message}")
        return
    form.add_error(None, refusal_text(exc))


# --- widgets ------------------------------------------------------------------------------------
class PreloadedMixin:
    """An admin autocomplete widget that renders its selected options from rows already loaded.

    Django's widget reads the selected rows again (one query per widget and row); the workbench
    hands over the users and groups it loaded with the record, so a form costs no query.
    """

    preloaded: dict[str, Any]

    def preload(self, objects: Iterable[Any]) -> None:
        self.preloaded = {str(o.pk): o for o in objects if o is not None}

    def optgroups(self, name, value, attr=None):
        selected = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        known = getattr(self, "preloaded", {})
        if not all(pk in known for pk in selected):
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        for index, pk in enumerate(selected, start=len(options)):
            label = self.choices.field.label_from_instance(known[pk])
            options.append(self.create_option(name, pk, label, True, index))
        return [(None, options, 0)]


class PreloadedAutocompleteSelect(PreloadedMixin, AutocompleteSelect):
    """Autocomplete for one row (users, groups), selected option from a loaded row."""


class PreloadedAutocompleteSelectMultiple(PreloadedMixin, AutocompleteSelectMultiple):
    """Autocomplete for several rows (affected services), selected options from loaded rows."""


def autocomplete(model, field: str, multiple: bool = False):
    """The admin's autocomplete widget for `model.field` (searches the target's admin)."""
    widget = PreloadedAutocompleteSelectMultiple if multiple else PreloadedAutocompleteSelect
    return widget(model._meta.get_field(field), admin.site)


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-time picker, read and shown in the current time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"class": " ".join(INPUT_CLASSES), **(attrs or {})}, format="%Y-%m-%dT%H:%M")


class DateInput(forms.DateInput):
    """The browser's date picker."""

    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"class": " ".join(INPUT_CLASSES), **(attrs or {})}, format="%Y-%m-%d")


def _text(label: str, rows: int = 4, required: bool = True, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, widget=UnfoldAdminTextareaWidget(attrs={"rows": rows}), **kwargs
    )


def _users() -> Any:
    return User.objects.filter(is_active=True)


def person_label(user) -> str:
    """A user as the console's pickers show them: 'Maya Manager (mmanager)'."""
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()


class PersonField(forms.ModelChoiceField):
    """A user chosen by name."""

    def label_from_instance(self, obj) -> str:
        return person_label(obj)


class PeopleField(forms.ModelMultipleChoiceField):
    """Users chosen by name."""

    def label_from_instance(self, obj) -> str:
        return person_label(obj)


def _select(choices, required: bool = True, label: str | None = None) -> forms.ChoiceField:
    blank = [] if required else [("", "---------")]
    return forms.ChoiceField(label=label, choices=[*blank, *choices], required=required, widget=UnfoldAdminSelectWidget)


class VersionedForm(forms.Form):
    """A form carrying the version of the record the page was loaded with (optimistic concurrency)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def expected_version(self) -> int | None:
        return self.cleaned_data.get("version")


# --- the record: roles, bridge, cadence ------------------------------------------------------------
RECORD_FIELDS = [
    "title",
    "manager",
    "comms_lead",
    "tech_lead",
    "bridge_url",
    "chat_channel",
    "update_cadence_minutes",
    "affected_services",
    "stakeholders",
    "impact_summary",
    "customers_affected",
    "impact_started_at",
    "detected_at",
    "mitigated_at",
]
TIME_FIELDS = ("impact_started_at", "detected_at", "mitigated_at")
MANY = ("affected_services", "stakeholders")


class RecordForm(VersionedForm):
    """The response team and the bridge (`lifecycle.update_major_incident`, only the changed fields)."""

    title = forms.CharField(max_length=255, widget=UnfoldAdminTextInputWidget)
    manager = PersonField(
        _users(), required=False, label="Major incident manager", widget=autocomplete(MajorIncident, "manager")
    )
    comms_lead = PersonField(
        _users(), required=False, label="Communications lead", widget=autocomplete(MajorIncident, "comms_lead")
    )
    tech_lead = PersonField(
        _users(), required=False, label="Technical lead", widget=autocomplete(MajorIncident, "tech_lead")
    )
    bridge_url = forms.URLField(
        required=False, label="Bridge URL", assume_scheme="https", widget=UnfoldAdminURLInputWidget
    )
    chat_channel = forms.CharField(required=False, max_length=200, widget=UnfoldAdminTextInputWidget)
    update_cadence_minutes = forms.IntegerField(
        min_value=1, label="Update cadence (minutes)", widget=UnfoldAdminIntegerFieldWidget
    )
    affected_services = forms.ModelMultipleChoiceField(
        Service.objects.all(), required=False, widget=autocomplete(MajorIncident, "affected_services", multiple=True)
    )
    stakeholders = PeopleField(
        _users(),
        required=False,
        help_text="People kept informed of internal updates.",
        widget=autocomplete(MajorIncident, "stakeholders", multiple=True),
    )
    impact_summary = _text("Impact summary", rows=3, required=False)
    customers_affected = forms.IntegerField(
        min_value=0, required=False, label="Customers affected", widget=UnfoldAdminIntegerFieldWidget
    )
    impact_started_at = forms.DateTimeField(required=False, label="Impact started", widget=DateTimeLocalInput)
    detected_at = forms.DateTimeField(required=False, label="Detected", widget=DateTimeLocalInput)
    mitigated_at = forms.DateTimeField(required=False, label="Mitigated", widget=DateTimeLocalInput)

    def __init__(self, mi: MajorIncident, services: list, stakeholders: list, *args, **kwargs) -> None:
        initial = {
            "version": mi.version,
            **{name: getattr(mi, name) for name in RECORD_FIELDS if name not in MANY},
            "affected_services": [s.pk for s in services],
            "stakeholders": [u.pk for u in stakeholders],
        }
        for name in TIME_FIELDS:  # the picker has minutes: compare what it can show, not the seconds
            if initial[name] is not None:
                initial[name] = timezone.localtime(initial[name]).replace(second=0, microsecond=0)
        super().__init__(*args, initial=initial, **kwargs)
        for name in ("manager", "comms_lead", "tech_lead"):
            self.fields[name].widget.preload([mi.manager, mi.comms_lead, mi.tech_lead])
        self.fields["affected_services"].widget.preload(services)
        self.fields["stakeholders"].widget.preload(stakeholders)

    def changes(self) -> dict:
        """The fields that differ from the page as loaded (the PATCH the API would send)."""
        out = {}
        for name in self.changed_data:
            if name == "version":
                continue
            value = self.cleaned_data[name]
            out[name] = list(value) if name in MANY else value
        return out


# --- transitions --------------------------------------------------------------------------------
class ConfirmTransitionForm(VersionedForm):
    """A transition that needs nothing but the loaded version (declare, start_review, close)."""

    def payload(self) -> dict:
        return {}


class RejectForm(VersionedForm):
    """Reject a proposal: the reason is required (the service says so too)."""

    reason = _text("Reason for rejecting", rows=3)

    def payload(self) -> dict:
        return {"reason": self.cleaned_data["reason"]}


class ResolveForm(VersionedForm):
    """Resolve; optionally resolve every linked open incident with one resolution code and notes."""

    resolve_linked = forms.BooleanField(
        required=False,
        label="Also resolve every linked open incident",
        widget=UnfoldBooleanSwitchWidget,
    )
    resolution_code = _select(ResolutionCode.choices, required=False, label="Resolution code")
    resolution_notes = _text("Resolution notes", rows=3, required=False)

    def payload(self) -> dict:
        data = self.cleaned_data
        if not data.get("resolve_linked"):
            return {}
        return {
            "resolve_linked": True,
            **{k: data[k] for k in ("resolution_code", "resolution_notes") if data.get(k) not in (None, "")},
        }


TRANSITION_FORMS: dict[str, type[VersionedForm]] = {
    "declare": ConfirmTransitionForm,
    "reject": RejectForm,
    "resolve": ResolveForm,
    "start_review": ConfirmTransitionForm,
    "close": ConfirmTransitionForm,
}


# --- responders ---------------------------------------------------------------------------------
class PageForm(forms.Form):
    """Page one user, or every active member of an assignment group (`responders.page_responders`)."""

    user = PersonField(_users(), required=False, label="Person", widget=autocomplete(Responder, "user"))
    assignment_group = forms.ModelChoiceField(
        AssignmentGroup.objects.filter(active=True),
        required=False,
        label="or an assignment group (each active member)",
        widget=autocomplete(Responder, "assignment_group"),
    )
    role = forms.CharField(
        required=False,
        max_length=100,
        help_text="Free text, e.g. network, database.",
        widget=UnfoldAdminTextInputWidget,
    )

    def arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "user": data.get("user"),
            "assignment_group": data.get("assignment_group"),
            "role": data.get("role", ""),
        }


# --- stakeholder updates -------------------------------------------------------------------------
class UpdateForm(forms.Form):
    """Compose a stakeholder update (`updates.post_update`); an empty due time means the cadence."""

    audience = _select(Audience.choices)
    status = _select(UpdateStatus.choices)
    body = _text("Update", rows=5, required=False)
    next_update_due_at = forms.DateTimeField(required=False, label="Next update due", widget=DateTimeLocalInput)

    def __init__(self, mi: MajorIncident, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cadence = mi.update_cadence_minutes
        default = timezone.localtime() + timedelta(minutes=cadence)
        self.fields[
            "next_update_due_at"
        ].help_text = f"Leave empty for the cadence: {cadence} minutes after posting (about {default:%H:%M})."
        self.fields["audience"].initial = Audience.INTERNAL

    def arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "audience": data["audience"],
            "status": data["status"],
            "body": data.get("body", ""),
            "next_update_due_at": data.get("next_update_due_at"),
        }


# --- linked incidents ----------------------------------------------------------------------------
class LinkNumbersForm(forms.Form):
    """Incident numbers to link ('INC0000123, 124 INC0000125')."""

    numbers = forms.CharField(
        label="Incident numbers",
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "INC0000123, INC0000124"}),
        help_text="Separated by commas or spaces; the INC prefix and leading zeros may be left out.",
    )

    def clean_numbers(self) -> list[Incident]:
        words = [w for w in self.cleaned_data["numbers"].replace(",", " ").split() if w]
        if len(words) > LINK_LIMIT:
            raise ValidationError(f"Link at most {LINK_LIMIT} incidents at a time.")
        numbers, unreadable = [], []
        for word in words:
            parsed = parse_number(word)
            (numbers.append(parsed[0]) if parsed else unreadable.append(word))
        if unreadable:
            raise ValidationError(f"Not incident numbers: {', '.join(unreadable)}.")
        found = {i.number: i for i in Incident.objects.filter(number__in=numbers)}
        unknown = [n for n in numbers if n not in found]
        if unknown:
            raise ValidationError(f"No such incident: {', '.join(unknown)}.")
        return list(dict.fromkeys(found[n] for n in numbers))


# --- the review ----------------------------------------------------------------------------------
REVIEW_FIELDS = ["summary", "root_cause", "contributing_factors", "went_well", "went_badly", "lessons_learned"]


class ReviewForm(VersionedForm):
    """The post-incident review's text (`review.update_review`, only the changed fields)."""

    summary = _text("Summary", required=False)
    root_cause = _text("Root cause", required=False)
    contributing_factors = _text("Contributing factors", required=False)
    went_well = _text("What went well", required=False)
    went_badly = _text("What went badly", required=False)
    lessons_learned = _text("Lessons learned", required=False)

    def __init__(self, review: PostIncidentReview | None, *args, **kwargs) -> None:
        initial = {"version": review.version if review else None}
        if review is not None:
            initial.update({name: getattr(review, name) for name in REVIEW_FIELDS})
        super().__init__(*args, initial=initial, **kwargs)

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in REVIEW_FIELDS}


class ActionItemForm(forms.Form):
    """An action item of the review: add (`review.add_action_item`) or change (`review.update_action_item`)."""

    title = forms.CharField(max_length=255, widget=UnfoldAdminTextInputWidget)
    owner = PersonField(_users(), required=False, widget=autocomplete(ActionItem, "owner"))
    due_date = forms.DateField(required=False, label="Due date", widget=DateInput)
    done = forms.BooleanField(required=False, widget=UnfoldBooleanSwitchWidget)

    def __init__(self, *args, item: ActionItem | None = None, **kwargs) -> None:
        if item is not None:
            kwargs.setdefault("prefix", f"item-{item.pk}")
            kwargs["initial"] = {
                "title": item.title,
                "owner": item.owner_id,
                "due_date": item.due_date,
                "done": item.done,
            }
        super().__init__(*args, **kwargs)
        self.item = item
        self.fields["owner"].widget.preload([item.owner] if item is not None else [])

    def arguments(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in ("title", "owner", "due_date", "done")}

    def changes(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.changed_data}


# --- from the incident side ----------------------------------------------------------------------
class ProposeForm(forms.Form):
    """Propose (or, for a MIM, declare) a major incident from an incident (`lifecycle.propose`)."""

    reason = _text("Why is this a major incident?", rows=4)
    title = forms.CharField(
        required=False,
        max_length=255,
        widget=UnfoldAdminTextInputWidget,
        help_text="Leave empty to use the incident's title.",
    )

    def arguments(self) -> dict:
        data = self.cleaned_data
        return {"reason": data["reason"], **({"title": data["title"]} if data.get("title") else {})}


class LinkToMajorForm(forms.Form):
    """The live major incident a bulk "Link to major incident" links the selected incidents to."""

    major_incident = forms.ModelChoiceField(
        MajorIncident.objects.filter(state__in=LIVE_STATES).order_by("-id"),
        label="Major incident",
        widget=UnfoldAdminSelectWidget,
        help_text="Proposed and active major incidents.",
    )
