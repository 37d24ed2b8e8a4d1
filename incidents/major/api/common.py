"""What every major incident endpoint shares: the record lookup (id or number) and its ETag."""

from django.shortcuts import get_object_or_404
from rest_framework.response import Response

from incidents.major.models import MajorIncident
from itsm.api.mixins import compute_etag

LOOKUP_REGEX = "[A-Za-z0-9]+"


def get_major_incident(value: str, queryset=None) -> MajorIncident:
    """The major incident an URL names by id or by number (`MIM0000012`); 404 otherwise."""
    queryset = MajorIncident.objects.all() if queryset is None else queryset
    if value.isdigit():
        return get_object_or_404(queryset, pk=int(value))
    return get_object_or_404(queryset, number=value.upper())


def with_etag(response: Response, record) -> Response:
    """`response` with the record's ETag (`"v<version>"`)."""
    response["ETag"] = compute_etag(record)
    return response
