"""What every problem endpoint shares: the record lookup (id or number), its ETag, path parameters,
and the reference fields of request bodies (problems, incidents, major incidents by id or number)."""

import re

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from itsm.api.filters import ID_MAX
from itsm.api.mixins import compute_etag
from problems.models import Problem

LOOKUP_REGEX = "[A-Za-z0-9]+"


def get_problem(value: str, queryset=None) -> Problem:
    """The problem an URL names by id or by number (`PRB0000012`); 404 otherwise."""
    queryset = Problem.objects.all() if queryset is None else queryset
    if value.isdigit():
        if int(value) > ID_MAX:  # larger than any id (and than the database's integers)
            raise Http404("No such problem.")
        return get_object_or_404(queryset, pk=int(value))
    return get_object_or_404(queryset, number=value.upper())


def with_etag(response: Response, record) -> Response:
    """`response` with the record's ETag (`"v<version>"`)."""
    response["ETag"] = compute_etag(record)
    return response


def path_parameter(name: str, description: str) -> OpenApiParameter:
    """A path parameter naming a record by id or number."""
    return OpenApiParameter(name, str, OpenApiParameter.PATH, pattern=f"^{LOOKUP_REGEX}$", description=description)


PROBLEM_PARAMETER = path_parameter("id", "Problem id or number (PRB0000012).")


class RecordRefField(serializers.Field):
    """A record named by id or by number (`prefix` + digits); resolved (and refused when unknown)
    by the use case. The shape is checked here, so no look-up sees an id beyond the database's."""

    prefix = ""
    default_error_messages = {"invalid": "An id or a number."}

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= ID_MAX:
            return data
        if isinstance(data, str) and re.fullmatch(rf"({self.prefix})?[0-9]{{1,12}}", data, re.IGNORECASE):
            return int(data) if data.isdigit() else data.upper()
        self.fail("invalid")

    def to_representation(self, value):
        return value


def _ref_schema(prefix: str, example: str) -> dict:
    return {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": ID_MAX},
            {"type": "string", "pattern": f"^({prefix})?[0-9]{{1,12}}$"},
        ],
        "description": f"An id or a number ({example}).",
    }


@extend_schema_field(_ref_schema("PRB", "PRB0000012"))
class ProblemRefField(RecordRefField):
    """A problem by id or number."""

    prefix = "PRB"

    default_error_messages = {"invalid": "A problem id or number (PRB0000012)."}


@extend_schema_field(_ref_schema("INC", "INC0000123"))
class IncidentRefField(RecordRefField):
    """An incident by id or number."""

    prefix = "INC"
    default_error_messages = {"invalid": "An incident id or number (INC0000123)."}


@extend_schema_field(_ref_schema("MIM", "MIM0000012"))
class MajorIncidentRefField(RecordRefField):
    """A major incident by id or number."""

    prefix = "MIM"

    default_error_messages = {"invalid": "A major incident id or number (MIM0000012)."}
