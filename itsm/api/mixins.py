"""Behaviour any viewset can opt into: Idempotency-Key on create, ETag/If-Match on detail."""

import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from itsm.models import IdempotencyRecord

from .errors import Conflict, PreconditionFailed

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADERS = ("Location", "ETag")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    description="A repeat with the same key and body replays the first answer and creates nothing.",
)
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, description="The ETag read before; 412 when the record changed since."
)


def _request_fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except TypeError:
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def run_idempotently(request, handler) -> Response:
    """Run `handler()` once per (user, Idempotency-Key); repeats replay the first response.

    The key row is inserted before the work, in the same transaction: a concurrent repeat waits
    on the unique index and then replays, so two identical POSTs never create two records.
    A repeat with another body is a 409; errors are not stored (the client may fix and retry).
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        return handler()
    if len(key) > 255:
        raise ValidationError({IDEMPOTENCY_HEADER: ["At most 255 characters."]})
    fingerprint = _request_fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path,
                    request_hash=fingerprint,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(user=request.user, key=key)
            if existing.request_hash != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was used with a different request.", code="idempotency_key_reused"
                ) from None
            if existing.status_code is None:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress.", code="in_progress"
                ) from None
            headers = dict(existing.response_headers)
            headers["Idempotent-Replayed"] = "true"
            return Response(existing.response_body, status=existing.status_code, headers=headers)
        response = handler()
        if 200 <= response.status_code < 300:
            record.status_code = response.status_code
            record.response_body = json.loads(json.dumps(response.data, default=str))
            record.response_headers = {h: response[h] for h in REPLAY_HEADERS if response.has_header(h)}
            record.save(update_fields=["status_code", "response_body", "response_headers"])
        else:
            transaction.set_rollback(True)
        return response


class IdempotentCreateMixin:
    """`POST` with an `Idempotency-Key` header creates at most once."""

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER])
    def create(self, request, *args, **kwargs):
        return run_idempotently(request, lambda: super(IdempotentCreateMixin, self).create(request, *args, **kwargs))


def compute_etag(obj) -> str:
    """A strong ETag: `"v<version>"` for versioned records, else a hash of the last change time."""
    version = getattr(obj, "version", None)
    if version is not None:
        return f'"v{version}"'
    updated = getattr(obj, "updated_at", None)
    stamp = updated.isoformat() if updated else ""
    return '"' + hashlib.sha1(f"{type(obj).__name__}:{obj.pk}:{stamp}".encode()).hexdigest()[:20] + '"'


def expected_version(request) -> int | None:
    """The version an `If-Match: "v<n>"` header names (None without the header); 412 if unparseable."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    value = header.split(",")[0].strip().removeprefix("W/").strip('"')
    if not value.startswith("v") or not value[1:].isdigit():
        raise PreconditionFailed('If-Match does not name a version of this record (expected an ETag like "v3").')
    return int(value[1:])


def check_if_match(request, obj) -> None:
    """412 when `If-Match` is present and does not name the record's current ETag."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    current = compute_etag(obj)
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    if current not in candidates:
        raise PreconditionFailed()


class ETagMixin:
    """`ETag` on detail responses; `If-Match` on PATCH/PUT/DELETE answered with 412 when stale.

    The row is locked while the precondition is checked and the change saved, so a concurrent
    writer cannot slip in between.
    """

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = compute_etag(instance)
        return response

    def get_locked_object(self):
        instance = self.get_object()
        return type(instance).objects.select_for_update().get(pk=instance.pk)

    @extend_schema(parameters=[IF_MATCH_PARAMETER])
    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    @extend_schema(parameters=[IF_MATCH_PARAMETER])
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            instance = self.get_locked_object()
            check_if_match(request, instance)
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data, status=status.HTTP_200_OK)
        response["ETag"] = compute_etag(instance)
        return response

    @extend_schema(parameters=[IF_MATCH_PARAMETER])
    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            instance = self.get_locked_object()
            check_if_match(request, instance)
            self.perform_destroy(instance)
        return Response(status=status.HTTP_204_NO_CONTENT)
