"""Senders, one per channel. Each returns a `SendResult` and never raises.

Classification (webhook, Slack, Teams): 2xx delivered; 410 disables the endpoint; 408, 425,
429, 5xx, timeouts and connection errors are retried; redirects (never followed: they could
lead to a private address) and other 4xx are permanent. Email: SMTP 5xx is permanent,
everything else (4xx, connection trouble) is retried.
"""

import json
import os
import smtplib
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from . import conf, netguard
from .choices import Channel
from .models import Notification
from .signatures import unsubscribe_url, webhook_signature

USER_AGENT = "ITSM-Notifications/1.0"
RETRYABLE_HTTP = {408, 425, 429}

_clients: dict[tuple[int, str], httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(host: str) -> httpx.Client:
    """A pooled client per process and receiver host: keep-alive to a busy receiver instead of
    a TCP/TLS handshake per delivery. Per host, because pinned connections go to an IP address
    and a TLS connection verified for one name must not carry requests for another."""
    key = (os.getpid(), host)  # prefork children must not share their parent's sockets
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = httpx.Client(
                    follow_redirects=False,
                    trust_env=False,
                    limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                )
                _clients[key] = client
    return client


@dataclass
class SendResult:
    """How one attempt ended."""

    ok: bool
    retry: bool = False
    status_code: int | None = None
    error: str = ""
    response_excerpt: str = ""
    disable_endpoint: bool = False
    retry_after: float | None = None
    local: bool = False  # refused before sending (endpoint disabled or deleted): not the receiver's fault


def send(notification: Notification) -> SendResult:
    """Deliver one notification on its channel."""
    try:
        if notification.channel == Channel.EMAIL:
            return send_email(notification)
        return send_http(notification)
    except Exception as exc:  # a sender bug must not leave the row stuck in `sending`
        return SendResult(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}"[:2000])


# --- email -------------------------------------------------------------------------------------


def _message_id(notification: Notification) -> str:
    domain = (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "itsm").strip(">")
    return f"<{notification.delivery_id}@{domain}>"


def build_email(notification: Notification) -> EmailMultiAlternatives:
    """The email of a notification; the Message-ID is the delivery id (stable across retries)."""
    domain = (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "itsm").strip(">")
    headers = {
        "Message-ID": _message_id(notification),
        "X-ITSM-Delivery": str(notification.delivery_id),
        "X-ITSM-Event": notification.event,
        "Auto-Submitted": "auto-generated",
    }
    if notification.subject_kind and notification.subject_id is not None:
        # Mail clients thread every message about one record together.
        thread = f"<{notification.subject_kind}-{notification.subject_id}@{domain}>"
        headers["References"] = thread
        headers["In-Reply-To"] = thread
    if notification.subscription_id:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(notification.subscription_id, notification.recipient)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=notification.message_subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        headers=headers,
    )
    if notification.body_html:
        message.attach_alternative(notification.body_html, "text/html")
    return message


def send_email(notification: Notification) -> SendResult:
    message = build_email(notification)
    try:
        connection = get_connection(fail_silently=False, timeout=conf.email_timeout_seconds())
        sent = connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return SendResult(ok=False, retry=not permanent, status_code=codes[0] if codes else None, error=str(exc))
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(ok=False, retry=True, status_code=exc.smtp_code, error=f"SMTP authentication: {exc}")
    except smtplib.SMTPResponseException as exc:
        return SendResult(ok=False, retry=exc.smtp_code < 500, status_code=exc.smtp_code, error=str(exc))
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return SendResult(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}")
    if not sent:
        return SendResult(ok=False, retry=True, error="The email backend accepted no message.")
    return SendResult(ok=True)


# --- HTTP: signed webhooks, Slack, Teams ---------------------------------------------------------


def webhook_headers(notification: Notification, secret: str, body: bytes, now: float | None = None) -> dict:
    """Headers of a signed webhook delivery (timestamp fresh per attempt, delivery id stable)."""
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ITSM-Event": notification.event,
        "X-ITSM-Delivery": str(notification.delivery_id),
        "X-ITSM-Timestamp": timestamp,
        "X-ITSM-Signature": webhook_signature(secret, timestamp, body),
    }


def slack_body(notification: Notification) -> bytes:
    """Slack incoming webhook: `text` is the notification fallback, the block carries mrkdwn."""
    payload = {
        "text": notification.message_subject,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": notification.body_text.strip()[:2900] or " "}}
        ],
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def teams_body(notification: Notification) -> bytes:
    """Microsoft Teams incoming webhook (Workflows): a message with one Adaptive Card."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": notification.message_subject,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": notification.body_text.strip() or " ", "wrap": True},
        ],
    }
    payload = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def _pinned(url: str, addresses: list[str]) -> tuple[str, dict, dict]:
    """Connect to the address that passed the SSRF check, keeping Host and TLS name of the URL."""
    if not addresses:
        return url, {}, {}
    parts = urlsplit(url)
    address = addresses[0]
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), headers, extensions


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def classify(response: httpx.Response) -> SendResult:
    """The outcome of one HTTP answer."""
    code = response.status_code
    excerpt = response.text[:1000] if response.content else ""
    if 200 <= code < 300:
        return SendResult(ok=True, status_code=code, response_excerpt=excerpt)
    if code == 410:
        return SendResult(
            ok=False,
            status_code=code,
            error="410 Gone: the receiver asked to stop; endpoint disabled.",
            response_excerpt=excerpt,
            disable_endpoint=True,
        )
    if code in RETRYABLE_HTTP or code >= 500:
        return SendResult(
            ok=False,
            retry=True,
            status_code=code,
            error=f"HTTP {code}",
            response_excerpt=excerpt,
            retry_after=_retry_after(response),
        )
    if 300 <= code < 400:
        return SendResult(
            ok=False, status_code=code, error=f"HTTP {code}: redirects are not followed.", response_excerpt=excerpt
        )
    return SendResult(ok=False, status_code=code, error=f"HTTP {code}", response_excerpt=excerpt)


def send_http(notification: Notification) -> SendResult:
    endpoint = notification.endpoint
    if endpoint is None:
        return SendResult(ok=False, error="The endpoint was deleted.", local=True)
    if not endpoint.active:
        return SendResult(ok=False, error=f"The endpoint is disabled. {endpoint.disabled_reason}".strip(), local=True)
    try:
        addresses = netguard.safe_addresses(endpoint.url)
    except netguard.UnsafeURL as exc:
        return SendResult(ok=False, error=f"Refused (SSRF protection): {exc}")
    if notification.channel == Channel.WEBHOOK:
        body = notification.body_text.encode()
        headers = webhook_headers(notification, endpoint.secret, body)
    elif notification.channel == Channel.SLACK:
        body, headers = slack_body(notification), {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    else:
        body, headers = teams_body(notification), {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    url, host_header, extensions = _pinned(endpoint.url, addresses)
    headers.update(host_header)
    try:
        client = _client(urlsplit(endpoint.url).netloc)
        response = client.post(
            url, content=body, headers=headers, extensions=extensions, timeout=conf.webhook_timeout_seconds()
        )
    except httpx.TimeoutException as exc:
        return SendResult(ok=False, retry=True, error=f"Timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return SendResult(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}"[:2000])
    return classify(response)
