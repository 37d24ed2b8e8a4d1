"""Forms of the problem console; each one's last step is a call to a `problems` use case.

The forms shape what was typed into the arguments the use case takes (the same the API passes):
`lifecycle.open_problem`, `lifecycle.update_problem` (with the loaded version),
`lifecycle.run_transition`, `links.link_incidents` / `link_major_incidents`,
`lifecycle.raise_problem`. The use case validates and decides; its refusal comes back as field
errors or a message with the API's sentence (`refusal_text`).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from incidents.admin.forms import add_service_errors
from incidents.major.admin.forms import MI_ERRORS, LinkNumbersForm, refusal_text
from itsm import roles
from problems import lifecycle
from problems.choices import FISHBONE_CATEGORIES, OPEN_STATES, RcaMethod
from problems.models import Problem
from problems.policy import MANAGING_ROLES

User = get_user_model()

# Every refusal a problem use case raises (Conflict included); each becomes a message.
PROBLEM_ERRORS = MI_ERRORS
WHY_STEPS = 7  # rows of the five whys editor (the use case accepts up to 10)

__all__ = ["PROBLEM_ERRORS", "refusal_text"]


def owners():
    """Who may own a problem: active Problem Managers, administrators and superusers."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=MANAGING_ROLES))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class OwnerField(forms.ModelChoiceField):
    """A problem owner, shown by name."""

    def label_from_instance(self, obj) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


def _text(label: str, rows: int = 3, required: bool = False, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, widget=UnfoldAdminTextareaWidget(attrs={"rows": rows}), **kwargs
    )


def _line(label: str, required: bool = False, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, required=required, widget=UnfoldAdminTextInputWidget, **kwargs)


class ServiceBackedForm(forms.ModelForm):
    """A ModelForm whose last validation step is the use case itself (see incidents' twin)."""

    actor = None  # set per request by ProblemAdmin.get_form

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            self.instance = self.apply()
        except PROBLEM_ERRORS as exc:
            if isinstance(exc, ValidationError):
                add_service_errors(self, exc)
            else:
                self.add_error(None, refusal_text(exc))

    def apply(self) -> Problem:
        raise NotImplementedError


class ProblemAddForm(ServiceBackedForm):
    """Record a problem through `lifecycle.open_problem` (priority is derived, never typed)."""

    owner = OwnerField(queryset=owners(), required=False, widget=UnfoldAdminSelectWidget)

    class Meta:
        model = Problem
        fields = ["title", "description", "service", "category", "impact", "urgency", "assignment_group", "owner"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            self.fields["owner"].queryset = owners()

    def apply(self) -> Problem:
        data = {name: self.cleaned_data.get(name) for name in self._meta.fields if name in self.cleaned_data}
        title = data.pop("title")
        fields = {k: v for k, v in data.items() if v not in (None, "")}
        return lifecycle.open_problem(actor=self.actor, title=title, **fields)


# --- the change form and its RCA editor -----------------------------------------------------------
RCA_EDITOR_FIELDS = (
    [f"why_{n}" for n in range(1, WHY_STEPS + 1)]
    + [f"answer_{n}" for n in range(1, WHY_STEPS + 1)]
    + [f"fishbone_{c}" for c in FISHBONE_CATEGORIES]
    + ["rca_text"]
)


def rca_initial(method: str, notes: dict | None) -> dict:
    """The editor's initial values for stored notes."""
    notes = notes or {}
    initial: dict[str, str] = {}
    if method == RcaMethod.FIVE_WHYS:
        for n, step in enumerate(notes.get("whys", [])[:WHY_STEPS], 1):
            initial[f"why_{n}"] = step.get("why", "")
            initial[f"answer_{n}"] = step.get("answer", "")
    elif method == RcaMethod.FISHBONE:
        for category, causes in notes.get("causes", {}).items():
            if category in FISHBONE_CATEGORIES:
                initial[f"fishbone_{category}"] = "\n".join(causes)
    elif isinstance(notes.get("text"), str):
        initial["rca_text"] = notes["text"]
    return initial


def rca_notes_from(method: str, data: dict) -> dict:
    """The notes the editor's fields describe for `method` (the use case validates their shape)."""
    if method == RcaMethod.FIVE_WHYS:
        whys = []
        for n in range(1, WHY_STEPS + 1):
            why, answer = (data.get(f"why_{n}") or "").strip(), (data.get(f"answer_{n}") or "").strip()
            if why or answer:
                whys.append({"why": why, "answer": answer})
        return {"whys": whys} if whys else {}
    if method == RcaMethod.FISHBONE:
        causes = {}
        for category in FISHBONE_CATEGORIES:
            lines = [line.strip() for line in (data.get(f"fishbone_{category}") or "").splitlines() if line.strip()]
            if lines:
                causes[category] = lines
        return {"causes": causes} if causes else {}
    if method in (RcaMethod.TIMELINE, RcaMethod.OTHER):
        text = (data.get("rca_text") or "").strip()
        return {"text": text} if text else {}
    return {}


def _rca_editor_fields() -> dict[str, forms.Field]:
    fields: dict[str, forms.Field] = {}
    for n in range(1, WHY_STEPS + 1):
        fields[f"why_{n}"] = _line(f"Why? ({n})")
        fields[f"answer_{n}"] = _line(f"Because ({n})")
    for category in FISHBONE_CATEGORIES:
        fields[f"fishbone_{category}"] = _text(category.capitalize(), rows=2, help_text="One cause per line.")
    fields["rca_text"] = _text("Notes", rows=5, help_text="Timeline analysis or another method: free text.")
    return fields


# Declared fields of the RCA editor (declared, so the admin's fieldsets may name them).
RcaEditor = type("RcaEditor", (forms.Form,), {"__module__": __name__, **_rca_editor_fields()})


class ProblemChangeForm(ServiceBackedForm, RcaEditor):
    """Change fields through `lifecycle.update_problem`, with the version the page was loaded with.

    `loaded_version` travels in a hidden input; if someone saved meanwhile, the use case answers
    StaleRecord and nothing is overwritten. The RCA notes are edited as rows (five whys), causes
    by category (fishbone, one per line) or text, and sent as the structured `rca_notes`.
    """

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    owner = OwnerField(queryset=owners(), required=False, widget=UnfoldAdminSelectWidget)
    contributing_factors = _text("Contributing factors", help_text="One statement per line.")

    class Meta:
        model = Problem
        fields = [n for n in lifecycle.EDITABLE_FIELDS if n != "rca_notes"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            self.fields["owner"].queryset = owners()
        if "rca_method" in self.fields:
            self.fields["rca_method"].label = "RCA method"
            self.fields["rca_method"].help_text = "Its notes are edited in the matching section below."
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version
            self.initial["contributing_factors"] = "\n".join(self.instance.contributing_factors or [])
            for name, value in rca_initial(self.instance.rca_method, self.instance.rca_notes).items():
                self.initial[name] = value

    def clean_contributing_factors(self) -> list[str]:
        value = self.cleaned_data.get("contributing_factors") or ""
        return [line.strip() for line in value.splitlines() if line.strip()]

    def changes(self) -> dict:
        names = set(lifecycle.EDITABLE_FIELDS) - {"rca_notes"}
        changes = {n: self.cleaned_data[n] for n in self.changed_data if n in names and n in self.cleaned_data}
        if "contributing_factors" in changes and changes["contributing_factors"] == (
            self.instance.contributing_factors or []
        ):
            del changes["contributing_factors"]
        method = self.cleaned_data.get("rca_method", self.instance.rca_method) or ""
        notes = rca_notes_from(method, self.cleaned_data)
        if notes != (self.instance.rca_notes or {}):
            changes["rca_notes"] = notes
        return changes

    def apply(self) -> Problem:
        # Read the stored row: construct_instance() already put the typed values on self.instance.
        stored = Problem.objects.get(pk=self.instance.pk)
        self.instance = stored
        return lifecycle.update_problem(
            stored,
            actor=self.actor,
            changes=self.changes(),
            expected_version=self.cleaned_data.get("loaded_version"),
        )


# --- transitions ------------------------------------------------------------------------------------
class TransitionForm(forms.Form):
    """The fields one transition takes (`lifecycle.transition_requirements`), plus the loaded version."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, name: str, problem: Problem, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.name = name
        self.fields["version"].initial = problem.version
        for field in lifecycle.transition_requirements(name):
            # The use case decides what is missing (body or record), so nothing is required here.
            self.fields[field] = self._field_for(field, problem)

    @staticmethod
    def _field_for(field: str, problem: Problem) -> forms.Field:
        if field == "owner":
            return OwnerField(
                owners(),
                required=False,
                initial=problem.owner_id,
                widget=UnfoldAdminSelectWidget,
                help_text="The Problem Manager who owns the investigation.",
            )
        if field == "resolve_linked":
            return forms.BooleanField(
                label="Resolve the linked open incidents (code: resolved by problem)",
                required=False,
                widget=UnfoldBooleanSwitchWidget,
            )
        if field == "duplicate_of":
            return _line("Duplicate of", help_text="The surviving open problem (PRB0000012); its links move there.")
        if field == "fix_reference":
            return _line("Fix reference", initial=problem.fix_reference, help_text="The change or commit.")
        if field == "reason":
            return _text("Reason", rows=3, initial=problem.cancel_reason)
        labels = {"root_cause": "Root cause", "workaround": "Workaround", "fix": "Permanent fix"}
        labels["lessons_learned"] = "Lessons learned"
        return _text(labels[field], rows=4, initial=getattr(problem, field))

    def payload(self) -> dict:
        out = {}
        for key, value in self.cleaned_data.items():
            if key == "version":
                continue
            if key == "resolve_linked":
                out[key] = bool(value)
            elif key == "owner":
                if value is not None:
                    out[key] = value.pk
            elif value not in (None, ""):
                out[key] = value
        return out


# --- links ----------------------------------------------------------------------------------------
class LinkIncidentsForm(LinkNumbersForm):
    """Incident numbers to link to the problem, and whether to move those another problem holds."""

    move = forms.BooleanField(
        label="Move incidents another open problem holds",
        required=False,
        widget=UnfoldBooleanSwitchWidget,
    )


class LinkMajorForm(forms.Form):
    """Major incident numbers to link to the problem."""

    numbers = _line("Major incident numbers", required=True, help_text="MIM0000012, separated by commas or spaces.")
    move = forms.BooleanField(label="Move those another open problem holds", required=False)

    def clean_numbers(self) -> list[str]:
        return [w for w in self.cleaned_data["numbers"].replace(",", " ").split() if w]


class ProblemNumberField(forms.CharField):
    """A problem by its number ('PRB0000012' or '12'); open or resolved problems only."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", UnfoldAdminTextInputWidget(attrs={"placeholder": "PRB0000012"}))
        super().__init__(**kwargs)

    def clean(self, value) -> Problem:
        text = (super().clean(value) or "").strip().upper()
        digits = text.removeprefix("PRB").lstrip("0")
        number = f"PRB{int(digits):07d}" if digits.isdigit() else text
        problem = Problem.objects.filter(number=number).first()
        if problem is None:
            raise ValidationError(f"No such problem: {text}.")
        return problem


class BulkLinkForm(forms.Form):
    """The problem a bulk "Link to problem" links the selected incidents to."""

    problem = ProblemNumberField(label="Problem number")
    move = forms.BooleanField(
        label="Move incidents another open problem holds", required=False, widget=UnfoldBooleanSwitchWidget
    )


class RaiseForm(forms.Form):
    """A bulk "Raise a problem": the title (the first incident's by default)."""

    title = _line("Title", help_text="Empty: the first incident's title. Service, category and description are copied.")
    move = forms.BooleanField(
        label="Move incidents another open problem holds", required=False, widget=UnfoldBooleanSwitchWidget
    )


def is_open(problem: Problem) -> bool:
    return problem.state in OPEN_STATES


def manages(user) -> bool:
    return roles.has_role(user, *MANAGING_ROLES)
