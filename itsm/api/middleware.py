from django.conf import settings

from .errors import json_error


class ApiBodySizeLimitMiddleware:
    """413 for API requests whose body is over API_MAX_BODY_BYTES, before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "parse_error", "Content-Length is not a number.")
            if length > settings.API_MAX_BODY_BYTES:
                return json_error(
                    413, "payload_too_large", f"The request body is over {settings.API_MAX_BODY_BYTES} bytes."
                )
        return self.get_response(request)
