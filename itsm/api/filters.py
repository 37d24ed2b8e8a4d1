import django_filters
from django import forms
from rest_framework import filters
from rest_framework.exceptions import ValidationError


class StrictOrderingFilter(filters.OrderingFilter):
    """`?ordering=` that answers 400 for an unknown field instead of silently ignoring it.

    A stable tie-breaker (`-id` or `id`) is always appended, so pagination never repeats rows.
    """

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [p.strip() for p in params.split(",") if p.strip()]
            valid = {f for f, _ in self.get_valid_fields(queryset, view, {"request": request})}
            bad = [f for f in fields if f.lstrip("-") not in valid]
            if bad:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Unknown ordering field(s): {', '.join(bad)}. Allowed: {', '.join(sorted(valid))}."
                        ]
                    }
                )
            if not any(f.lstrip("-") in ("id", "pk") for f in fields):
                fields.append("-id" if fields[0].startswith("-") else "id")
            return fields
        return self.get_default_ordering(view)


class CommaSeparatedField(forms.Field):
    """Accepts `a,b,c` (or repeated parameters) and validates each value against `choices`."""

    def __init__(self, *args, allowed_values=None, coerce=str, **kwargs):
        self.valid_choices = [str(c) for c in allowed_values] if allowed_values is not None else None
        self.coerce = coerce
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value in (None, "", []):
            return []
        raw = value if isinstance(value, list | tuple) else [value]
        items = [part.strip() for v in raw for part in str(v).split(",") if part.strip()]
        if self.valid_choices is not None:
            bad = [i for i in items if i not in self.valid_choices]
            if bad:
                raise forms.ValidationError(
                    f"Unknown value(s): {', '.join(bad)}. Allowed: {', '.join(self.valid_choices)}."
                )
        try:
            return [self.coerce(i) for i in items]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(f"Invalid value(s): {', '.join(items)}.") from exc


class CommaSeparatedFilter(django_filters.Filter):
    """`?field=a,b` -> `field__in=[a, b]`, each value validated; 400 naming the filter otherwise."""

    field_class = CommaSeparatedField

    def __init__(self, *args, choices=None, coerce=str, **kwargs):
        if callable(choices):
            choices = choices()
        allowed = [c[0] if isinstance(c, tuple | list) else c for c in choices] if choices else None
        if allowed and "label" not in kwargs:
            kwargs["label"] = "Comma-separated, any of: " + ", ".join(str(a) for a in allowed)
        elif "label" not in kwargs:
            kwargs["label"] = "Comma-separated list"
        super().__init__(*args, **kwargs)
        self.extra["allowed_values"] = allowed
        self.extra["coerce"] = coerce

    def filter(self, qs, value):
        if not value:
            return qs
        return (
            qs.filter(**{f"{self.field_name}__in": value}).distinct()
            if self.distinct
            else qs.filter(**{f"{self.field_name}__in": value})
        )
