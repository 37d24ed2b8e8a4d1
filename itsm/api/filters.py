"""Shared filtering: strict ordering, comma-separated filters, ids, and the FilterSet-skipping backend.

Every filter documents itself in the OpenAPI schema as it is parsed (comma-separated lists as
`style: form, explode: false` arrays, ids as bounded integers, `ordering` as an enum), so a
schema-driven client or fuzzer and the server agree on what a valid query is.
"""

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters
from rest_framework.exceptions import ValidationError

ID_MAX = 2**63 - 1  # the largest id a bigint primary key holds (larger ones overflow the database)
NUL = "\x00"


def parse_id(text: str) -> int | None:
    """A record id from ASCII digits (no sign, space or decimal point), 1 to ID_MAX; None otherwise."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= ID_MAX else None


def service_ids(slugs) -> list[int]:
    """The ids of the services named by `slugs` (a `?service=` filter); 400 naming the unknown ones."""
    from itsm.models import Service

    slugs = list(slugs)
    found = dict(Service.objects.filter(slug__in=slugs).values_list("slug", "id"))
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise ValidationError({"service": [f"Unknown service(s): {', '.join(unknown)}."]})
    return list(found.values())


def refuse_nul_in_query(params) -> None:
    """400 naming each query parameter whose name or value holds a NUL byte (PostgreSQL refuses them)."""
    bad = sorted({name for name, values in params.lists() if NUL in name or any(NUL in v for v in values)})
    if bad:
        raise ValidationError({name.replace(NUL, "\\0"): ["Null characters are not allowed."] for name in bad})


class StrictOrderingFilter(filters.OrderingFilter):
    """`?ordering=` that answers 400 for an unknown field instead of silently ignoring it.

    A stable tie-breaker (`-id` or `id`) is always appended, so pagination never repeats rows.
    """

    def get_schema_operation_parameters(self, view):
        """`ordering`: comma-separated field names, each optionally prefixed with `-` (an enum)."""
        fields = [name for name, _ in self.get_valid_fields(getattr(view, "queryset", None), view, {})]
        values = sorted({prefix + name for name in fields for prefix in ("", "-")})
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Comma-separated fields to order by; `-` for descending.",
                "schema": {"type": "array", "items": {"type": "string", "enum": values}},
                "style": "form",
                "explode": False,
            }
        ]

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

    def _coerce(self, item: str):
        if self.coerce is int:
            value = parse_id(item)
            if value is None:
                raise ValueError(item)
            return value
        return self.coerce(item)

    def to_python(self, value):
        if value in (None, "", []):
            return []
        raw = value if isinstance(value, list | tuple) else [value]
        items = [part for v in raw for part in str(v).split(",")]
        if "" in items:
            raise forms.ValidationError("An empty value in the list (a stray comma?).")
        if self.valid_choices is not None:
            bad = [i for i in items if i not in self.valid_choices]
            if bad:
                raise forms.ValidationError(  # values through params: a "%" in them is not a format
                    "Unknown value(s): %(bad)s. Allowed: %(allowed)s.",
                    params={"bad": ", ".join(bad), "allowed": ", ".join(self.valid_choices)},
                )
        try:
            return [self._coerce(i) for i in items]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError("Invalid value(s): %(items)s.", params={"items": ", ".join(items)}) from exc


class CommaSeparatedFilter(django_filters.Filter):
    """`?field=a,b` -> `field__in=[a, b]`, each value validated; 400 naming the filter otherwise."""

    field_class = CommaSeparatedField

    def __init__(self, *args, choices=None, coerce=str, item_schema=None, **kwargs):
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
        if item_schema is None:
            if allowed:
                kind = "integer" if all(isinstance(a, int) for a in allowed) else "string"
                item_schema = {"type": kind, "enum": allowed if kind == "integer" else [str(a) for a in allowed]}
            elif coerce is int:
                item_schema = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
            else:
                item_schema = {"type": "string", "minLength": 1}
        self.item_schema = item_schema

    def filter(self, qs, value):
        if not value:
            return qs
        return (
            qs.filter(**{f"{self.field_name}__in": value}).distinct()
            if self.distinct
            else qs.filter(**{f"{self.field_name}__in": value})
        )


class IdField(forms.CharField):
    """A record id: digits only, 1 to ID_MAX (no signs, spaces or decimals, which the schema forbids)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        parsed = parse_id(value)
        if parsed is None:
            raise forms.ValidationError("Enter a record id (a positive integer).")
        return parsed


class IdFilter(django_filters.Filter):
    """`?field=<id>`: one record id."""

    field_class = IdField
    item_schema = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, without building the FilterSet when no parameter names a filter.

    A FilterSet deep-copies every declared filter and builds and validates a form on each request:
    on an incident list page with no filter (the commonest request: first pages, `next` links)
    that was about a tenth of the request. When no query parameter starts with a filter's name,
    every filter sees an empty value and returns the queryset unchanged, so skipping is exact.
    The prefix test covers filters whose form takes suffixed parameters (`<name>_after`,
    `<name>_min`); a FilterSet with a required filter or its own form is always built.
    """

    def filter_queryset(self, request, queryset, view):
        refuse_nul_in_query(request.query_params)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            check_single_values(request.query_params, filterset_class)
        if filterset_class is not None and not _names_a_filter(request.query_params, filterset_class):
            return queryset
        return super().filter_queryset(request, queryset, view)


SINGLE_VALUED = ("ordering", "page", "page_size", "cursor")
BOOLEANS = ("true", "false")


def check_single_values(params, filterset_class) -> None:
    """What the schema says of each filter, before django-filter's lenient forms read it.

    Each parameter comes once (a repeat is an array the schema does not allow; django-filter
    would silently keep the last one), booleans are `true` or `false` (not `null` or `2`, which
    django-filter reads as "no filter"), numbers are record ids (see `parse_id`), and only text and
    comma-separated lists (an empty list) may be empty.
    """
    filters = filterset_class.base_filters
    errors = {}
    for name, values in params.lists():
        if name not in filters and name not in SINGLE_VALUED:
            continue
        if len(values) > 1:
            errors[name] = ["Give this parameter once (several values: comma-separated)."]
            continue
        field = filters.get(name)
        if values[0] == "" and not isinstance(field, CommaSeparatedFilter | django_filters.CharFilter | None):
            errors[name] = ["Empty; leave the parameter out for no filter."]  # "" is no date, id or boolean
            continue
        if isinstance(field, django_filters.BooleanFilter) and values[0] not in BOOLEANS:
            errors[name] = ["Either true or false."]
        elif isinstance(field, django_filters.NumberFilter) and parse_id(values[0]) is None:
            errors[name] = ["A record id (a positive integer)."]
    if errors:
        raise ValidationError(errors)


def _names_a_filter(params, filterset_class) -> bool:
    if filterset_class._meta.form is not forms.Form:
        return True
    filters = filterset_class.base_filters
    if any(f.extra.get("required") for f in filters.values()):
        return True
    return any(param.startswith(name) for param in params for name in filters)


try:  # the schema of the filters above (drf-spectacular is a dependency; guarded for clarity only)
    from drf_spectacular.contrib.django_filters import DjangoFilterExtension
except ImportError:  # pragma: no cover
    DjangoFilterExtension = None

if DjangoFilterExtension is not None:

    class FilterBackendExtension(DjangoFilterExtension):
        """django-filter's schema, with our comma-separated filters as form arrays and ids as integers."""

        target_class = "itsm.api.filters.FilterBackend"
        priority = 1

        def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
            if isinstance(filter_field, CommaSeparatedFilter):
                return [
                    {
                        "name": field_name,
                        "required": False,
                        "in": "query",
                        "description": str(filter_field.label or ""),
                        "schema": {"type": "array", "items": dict(filter_field.item_schema)},
                        "style": "form",
                        "explode": False,
                    }
                ]
            if isinstance(filter_field, IdFilter | django_filters.NumberFilter):
                return [
                    {
                        "name": field_name,
                        "required": False,
                        "in": "query",
                        "description": str(filter_field.label or "A record id."),
                        "schema": dict(IdFilter.item_schema),
                    }
                ]
            return super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
