"""Webhook signatures, unsubscribe tokens and links."""

import hashlib
import hmac

from django.core import signing
from django.urls import reverse

from . import conf

UNSUBSCRIBE_SALT = "communications.unsubscribe"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` (API.md, the webhook row)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def unsubscribe_token(subscription_id: int, address: str) -> str:
    """A signed, URL-safe token naming one subscription (no expiry: old emails keep working)."""
    return signing.dumps({"s": subscription_id, "a": address.lower()}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> dict | None:
    """{"s": subscription id, "a": address} or None when the token is forged or damaged."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("s"), int) else None


def unsubscribe_url(subscription_id: int, address: str) -> str:
    """The absolute one-click unsubscribe link of one subscriber address."""
    path = reverse("communications:unsubscribe", args=[unsubscribe_token(subscription_id, address)])
    return conf.site_url() + path
