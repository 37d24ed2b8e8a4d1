"""One error shape for every API error: {"type", "detail", "errors"}.

`errors` is always present: {} when no field is at fault, `non_field_errors` for the body as a
whole, otherwise every offending field with its messages (nested fields joined with dots).
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from itsm import exceptions as domain

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """409: the request is valid but not allowed in the record's current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the record."
    default_code = "conflict"

    def __init__(self, detail=None, code=None, errors: dict | None = None, extra: dict | None = None):
        super().__init__(detail, code)
        self.errors = errors or {}
        self.extra = extra or {}


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since you read it (If-Match does not match the current ETag)."
    default_code = "precondition_failed"


TYPE_BY_CLASS = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into {"field.sub": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list):
        if all(not isinstance(item, dict | list) for item in data):
            out[prefix or "non_field_errors"] = [str(item) for item in data]
        else:
            for index, item in enumerate(data):
                name = f"{prefix}.{index}" if prefix else str(index)
                for k, v in flatten_errors(item, name).items():
                    out.setdefault(k, []).extend(v)
    elif data is not None:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


def error_body(type_: str, detail: str, errors: dict | None = None, **extra) -> dict:
    return {"type": type_, "detail": detail, "errors": errors or {}, **extra}


def exception_handler(exc, context):
    """DRF exception handler producing the single error shape (and never hiding a 500)."""
    if isinstance(exc, domain.InvalidTransition):
        exc = Conflict(
            exc.detail,
            code="invalid_transition",
            extra={"current_state": exc.current_state, "available_transitions": exc.available},
        )
    elif isinstance(exc, domain.StaleRecord):
        exc = PreconditionFailed(exc.detail)
    elif isinstance(exc, domain.Conflict):
        exc = Conflict(exc.detail, errors=exc.errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        fields = ", ".join(sorted(k for k in errors if k != "non_field_errors"))
        detail = f"Invalid input: {fields}." if fields else "Invalid input."
        if not fields and errors.get("non_field_errors"):
            detail = errors["non_field_errors"][0]
        body = error_body("validation_error", detail, errors)
    else:
        codes = exc.get_codes()
        type_ = codes if isinstance(codes, str) else (getattr(exc, "default_code", None) or "error")
        for cls, name in TYPE_BY_CLASS.items():
            if isinstance(exc, cls):
                type_ = name
                break
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = error_body(type_, str(detail), getattr(exc, "errors", None), **getattr(exc, "extra", {}))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def json_error(status_code: int, type_: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(type_, detail), status=status_code)


def api_404(request, exception=None):
    """404 outside DRF views: JSON under /api/, the normal page elsewhere."""
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", "No such resource.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def api_500(request):
    if request.path.startswith("/api/"):
        return json_error(500, "server_error", "An unexpected error happened; it has been logged.")
    from django.views.defaults import server_error

    return server_error(request)
