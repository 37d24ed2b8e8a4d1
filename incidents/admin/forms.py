"""Forms of the incident console; each one's last step is a call to `incidents.services`.

A service refusal (ValidationError, PermissionDenied, InvalidTransition, StaleRecord) becomes
form errors or a message with the same sentence the API returns.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from incidents import services
from incidents.choices import Channel, HoldReason, ResolutionCode, Visibility
from incidents.models import Incident
from itsm.exceptions import InvalidTransition, StaleRecord
from itsm.models import AssignmentGroup

User = get_user_model()

SERVICE_ERRORS = (ValidationError, PermissionDenied, InvalidTransition, StaleRecord)


def error_text(exc: Exception) -> str:
    """The sentence a service refusal carries (the API's `detail`)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(
                f"{field.replace('_', ' ').capitalize()}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    if isinstance(exc, InvalidTransition | StaleRecord):
        return exc.detail
    return str(exc) or "You may not do that."


def add_service_errors(form: forms.BaseForm, exc: Exception) -> None:
    """Put a service refusal on the form: field errors where the field is on the form, the rest on top."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            target = field if field in form.fields and not form.fields[field].widget.is_hidden else None
            for msg in msgs:
                form.add_error(target, msg if target else f"{field.replace('_', ' ').capitalize()}: {msg}")
        return
    text = error_text(exc)
    if isinstance(exc, StaleRecord):
        text += " Reload the page to see what changed, then apply your change again."
    form.add_error(None, text)


class TagsField(forms.CharField):
    """Tags typed as 'vpn, emea' and stored as ['vpn', 'emea']."""

    widget = UnfoldAdminTextInputWidget

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        tags: list[str] = []
        for part in (value or "").split(","):
            tag = part.strip()
            if tag and tag not in tags:
                tags.append(tag)
        return tags

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class ServiceBackedForm(forms.ModelForm):
    """A ModelForm whose last validation step is the service call itself.

    After Django's own validation (`_post_clean`), `apply()` calls the service inside the
    admin's transaction; its refusal becomes form errors, so the page re-renders with what the
    agent typed. The admin's `save_model` has nothing left to do.
    """

    actor = None  # set per request by IncidentAdmin.get_form

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            self.instance = self.apply()
        except SERVICE_ERRORS as exc:
            add_service_errors(self, exc)

    def apply(self) -> Incident:
        """Call the service; return the incident it saved."""
        raise NotImplementedError


class IncidentAddForm(ServiceBackedForm):
    """Log an incident through `services.open_incident` (priority is derived, never typed)."""

    class Meta:
        model = Incident
        fields = [
            "title",
            "description",
            "service",
            "category",
            "impact",
            "urgency",
            "caller",
            "caller_name",
            "caller_email",
            "channel",
            "assignment_group",
            "assignee",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "channel" in self.fields:
            self.fields["channel"].initial = Channel.PHONE

    def apply(self) -> Incident:
        data = {name: self.cleaned_data.get(name) for name in self._meta.fields if name in self.cleaned_data}
        title = data.pop("title")
        impact = data.pop("impact")
        urgency = data.pop("urgency")
        fields = {k: v for k, v in data.items() if v not in (None, "")}
        return services.open_incident(actor=self.actor, title=title, impact=impact, urgency=urgency, **fields)


# The change form edits exactly what update_incident() accepts.
UPDATE_FIELDS = services.EDITABLE_FIELDS


class IncidentChangeForm(ServiceBackedForm):
    """Change fields through `services.update_incident`, with the version the page was loaded with.

    `loaded_version` travels in a hidden input; if another agent saved meanwhile, the service
    answers StaleRecord and nothing is overwritten.
    """

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    tags = TagsField(required=False, help_text="Comma-separated, e.g. vpn, emea.")

    class Meta:
        model = Incident
        fields = UPDATE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version
        if "parent" in self.fields and self.instance.pk:
            self.fields["parent"].queryset = Incident.objects.exclude(pk=self.instance.pk)

    def apply(self) -> Incident:
        changes = {name: self.cleaned_data[name] for name in self.changed_data if name in UPDATE_FIELDS}
        return services.update_incident(
            self.instance.pk,
            actor=self.actor,
            changes=changes,
            expected_version=self.cleaned_data.get("loaded_version"),
        )


def _select(choices) -> forms.ChoiceField:
    return forms.ChoiceField(choices=[("", "---------"), *choices], widget=UnfoldAdminSelectWidget)


def _text(label: str) -> forms.CharField:
    return forms.CharField(label=label, widget=UnfoldAdminTextareaWidget(attrs={"rows": 4}))


class TransitionForm(forms.Form):
    """The fields one transition needs (`services.transition_requirements`), plus the loaded version."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, name: str, incident: Incident, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.name = name
        self.fields["version"].initial = incident.version
        for field, required in services.transition_requirements(name).items():
            self.fields[field] = self._field_for(field, incident)
            self.fields[field].required = required

    @staticmethod
    def _field_for(field: str, incident: Incident) -> forms.Field:
        if field == "hold_reason":
            return _select(HoldReason.choices)
        if field == "resolution_code":
            return _select(ResolutionCode.choices)
        if field == "resolution_notes":
            return _text("Resolution notes")
        if field == "reason":
            return _text("Reason")
        if field == "assignment_group":
            return forms.ModelChoiceField(
                AssignmentGroup.objects.filter(active=True).order_by("name"),
                initial=incident.assignment_group_id,
                widget=UnfoldAdminSelectWidget,
                help_text="Needed to start work; the incident's group when empty.",
            )
        if field == "assignee":
            return forms.ModelChoiceField(
                User.objects.filter(is_active=True, assignment_groups__active=True).distinct().order_by("username"),
                initial=incident.assignee_id,
                widget=UnfoldAdminSelectWidget,
                help_text="Defaults to you when you are a member of the group.",
            )
        raise KeyError(field)  # a new transition field: add its widget here

    def payload(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version" and v not in (None, "")}


class CommentForm(forms.Form):
    """A public comment (the caller sees it) or an internal work note."""

    body = forms.CharField(label="Comment", widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}))
    visibility = forms.ChoiceField(
        choices=Visibility.choices, initial=Visibility.INTERNAL, widget=UnfoldAdminSelectWidget
    )


class AssignGroupForm(forms.Form):
    """The group a bulk "Assign to a group" moves the selected incidents to."""

    group = forms.ModelChoiceField(
        AssignmentGroup.objects.filter(active=True).order_by("name"),
        label="Assignment group",
        widget=UnfoldAdminSelectWidget,
        help_text="Assignees who are not members of the new group are unassigned.",
    )


class BulkResolveForm(forms.Form):
    """The resolution code and notes a bulk "Resolve" applies to every selected incident."""

    resolution_code = _select(ResolutionCode.choices)
    resolution_notes = _text("Resolution notes")
