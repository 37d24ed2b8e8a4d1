import time

from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Per-token (per user) rate for the API, `API_THROTTLE_RATE`; per IP for anonymous calls."""

    scope = "token"

    def timer(self) -> float:
        # A method rather than DRF's `timer = time.time` class attribute, so that clock-faking
        # tools (freezegun in tests) patch it cleanly.
        return time.time()

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AlertRateThrottle(TokenRateThrottle):
    """A separate bucket for alert ingestion (`ALERT_THROTTLE_RATE`): a storm never blocks the API."""

    scope = "alerts"
