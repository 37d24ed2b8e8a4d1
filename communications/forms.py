"""Admin forms: lists as checkboxes and lines, secrets write-only, templates checked on save."""

from django import forms
from django.core.exceptions import ValidationError

from itsm import roles

from . import registry
from .choices import Channel, RecipientKind
from .models import NotificationRule, NotificationTemplate, Subscription, WebhookEndpoint


class LinesField(forms.CharField):
    """A list edited as one value per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _pattern_choices() -> list[tuple[str, str]]:
    out = []
    for pattern in registry.pattern_choices():
        if pattern == "*":
            out.append((pattern, "* (every event)"))
        elif pattern.endswith(".*"):
            out.append((pattern, f"{pattern} (every {pattern[:-2].replace('_', ' ')} event)"))
        else:
            out.append((pattern, f"{pattern} — {registry.label(pattern)}"))
    return out


class EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", _pattern_choices)
        super().__init__(*args, **kwargs)


class NotificationRuleForm(forms.ModelForm):
    events = EventsField()
    recipients = forms.MultipleChoiceField(
        choices=RecipientKind.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    roles = forms.MultipleChoiceField(
        choices=[(r, r) for r in roles.ALL_ROLES], widget=forms.CheckboxSelectMultiple, required=False
    )
    emails = LinesField(required=False, help_text="External stakeholder addresses, one per line.")
    priorities = forms.TypedMultipleChoiceField(
        choices=[(p, f"P{p}") for p in range(1, 6)],
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Only these priorities; none ticked: any priority.",
    )

    class Meta:
        model = NotificationRule
        fields = [
            "name",
            "description",
            "active",
            "events",
            "channel",
            "recipients",
            "roles",
            "users",
            "emails",
            "notify_actor",
            "endpoints",
            "priorities",
            "services",
            "groups",
            "conditions",
        ]

    def clean(self):
        data = super().clean()
        channel = data.get("channel")
        endpoints = list(data.get("endpoints") or [])
        people = data.get("recipients") or data.get("roles") or data.get("users") or data.get("emails")
        if channel == Channel.EMAIL:
            if endpoints:
                self.add_error("endpoints", "An email rule notifies people; use a webhook, Slack or Teams rule.")
            elif not people:
                self.add_error("recipients", "Name at least one recipient (kinds, roles, users or emails).")
        elif channel:
            if not endpoints:
                self.add_error("endpoints", f"A {channel} rule needs at least one {channel} endpoint.")
            elif any(e.channel != channel for e in endpoints):
                self.add_error("endpoints", f"Choose {channel} endpoints only.")
        return data


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", help_text="http(s) only; private addresses refused.")
    events = EventsField(required=False, help_text="Delivered without any rule.")
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        min_length=16,
        max_length=200,
        strip=False,
        help_text="At least 16 characters. Leave empty to keep the current secret.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "channel", "description", "events", "secret", "include_internal", "active"]

    def clean_secret(self):
        secret = self.cleaned_data.get("secret")
        return secret or (self.instance.secret if self.instance.pk else "")


class NotificationTemplateForm(forms.ModelForm):
    event = forms.ChoiceField()

    class Meta:
        model = NotificationTemplate
        fields = ["event", "channel", "active", "subject", "body_text", "body_html"]
        widgets = {
            "subject": forms.TextInput(attrs={"style": "font-family:monospace"}),
            "body_text": forms.Textarea(attrs={"rows": 14, "style": "font-family:monospace"}),
            "body_html": forms.Textarea(attrs={"rows": 14, "style": "font-family:monospace"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = [*registry.event_types(), *registry.INTERNAL_EVENT_TYPES]
        self.fields["event"].choices = [(n, f"{n} — {registry.label(n)}") for n in names]


class SubscriptionForm(forms.ModelForm):
    events = EventsField(required=False, help_text="None ticked: every public event.")

    class Meta:
        model = Subscription
        fields = ["user", "email", "service", "subject_kind", "subject_id", "events"]

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("email")):
            raise ValidationError("Choose a user or enter an email address (one of them).")
        has_record = bool(data.get("subject_kind")) and bool(data.get("subject_id"))
        if bool(data.get("service")) == has_record:
            raise ValidationError("Choose a service, or give a record kind and id (one of them).")
        if data.get("subject_kind") and data["subject_kind"] not in registry.subject_kinds():
            self.add_error("subject_kind", f"One of: {', '.join(registry.subject_kinds())}.")
        return data
