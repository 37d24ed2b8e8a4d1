"""The public status page's views (no login): page, feed, subscribe, confirm, unsubscribe.

The page and the feed come from `status.page.cache`: a fresh hit runs no database query, and
these views never touch `request.user` or the session (nothing per visitor is rendered, so one
cached copy serves everyone). Pages are rendered without the request (no context processors).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from status.page import build, cache, feed, subscriptions

BROWSER_MAX_AGE = 30  # seconds browsers and proxies may keep a copy


def _cached(rendered: cache.Rendered) -> HttpResponse:
    response = HttpResponse(rendered.body, content_type=rendered.content_type)
    response["Cache-Control"] = f"public, max-age={BROWSER_MAX_AGE}"
    return response


def render_page() -> tuple[bytes, str, object]:
    """Build and render the page: (HTML bytes, content type, next maintenance change)."""
    data = build.build()
    html = render_to_string(
        "status/page.html",
        {"page": data, "subscribe_url": reverse("status:subscribe"), "feed_url": reverse("status:feed")},
    )
    return html.encode("utf-8"), "text/html; charset=utf-8", data.next_change_at


def render_feed() -> tuple[bytes, str, object]:
    body, next_change = feed.render()
    return body, "application/atom+xml; charset=utf-8", next_change


@require_safe
def page(request: HttpRequest) -> HttpResponse:
    """The status page (HTML), from the cache."""
    return _cached(cache.get_or_build("html", render_page))


@require_safe
def atom(request: HttpRequest) -> HttpResponse:
    """The Atom feed of external updates and maintenance, from the cache."""
    return _cached(cache.get_or_build("atom", render_feed))


def _message(
    title: str, message: str, *, status: int = 200, errors=None, form: dict | None = None, link: dict | None = None
) -> HttpResponse:
    """A plain public page with a sentence (and errors, a one-button form or a link)."""
    context = {"title": title, "message": message, "errors": errors or [], "form": form, "link": link}
    html = render_to_string("status/message.html", {**context, "page_url": reverse("status:page")})
    return HttpResponse(html, status=status)


# csrf_exempt: the page is one cached copy for every visitor, so its form cannot carry a
# per-visitor CSRF token. Safe here: the form is anonymous and double opt-in, so a forged POST
# can do no more than the visitor could by submitting the form (one confirmation email to an
# address, which nothing follows until its owner clicks the signed link), and it changes no
# confirmed subscription (a confirmed address keeps its services until it confirms the new ones).
@csrf_exempt
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """Record a subscription request and send the confirmation link; 400 naming what is wrong."""
    email = request.POST.get("email", "")
    try:
        choice = subscriptions.parse_choice(email, request.POST.get("scope", "all"), request.POST.getlist("services"))
    except ValidationError as exc:
        errors = [f"{message}" for messages in exc.message_dict.values() for message in messages]
        return _message("Subscription not recorded", "Please go back and correct this:", status=400, errors=errors)
    subscriptions.subscribe(choice)
    return _message(
        "Check your email",
        f"We sent a confirmation link to {choice.email}. Nothing else is sent until you confirm; "
        f"the link works for {subscriptions.CONFIRM_MAX_AGE // 86400} days.",
    )


# csrf_exempt: the signed token in the URL is the credential (the link arrives by email, and
# one-click clients post without a token); GET only shows the button (mail scanners follow links).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms; a tampered or expired link is a plain 400 page."""
    choice = subscriptions.read_confirm_token(token)
    if choice is None:
        return _message(
            "Link not valid", "This confirmation link is damaged or has expired. Subscribe again.", status=400
        )
    if request.method == "GET":
        return _message(
            "Confirm your subscription",
            f"Send status emails to {choice.email}?",
            form={"action": request.path, "button": "Confirm subscription"},
        )
    subscriber = subscriptions.confirm(token)
    if subscriber is None:
        return _message("Link not valid", "This confirmation link no longer matches a subscription.", status=400)
    return _message(
        "Subscription confirmed",
        f"{subscriber.email} will receive status updates. Every email carries an unsubscribe link.",
        link={
            "url": reverse("status:unsubscribe", args=[subscriptions.unsubscribe_token(subscriber)]),
            "text": "Unsubscribe from everything",
        },
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST ends the subscriber's whole subscription; 400 when tampered with."""
    data = subscriptions.read_unsubscribe_token(token)
    if data is None:
        return _message("Link not valid", "This unsubscribe link is damaged.", status=400)
    if request.method == "GET":
        return _message(
            "Unsubscribe",
            f"Stop every status email to {data.get('e')}?",
            form={"action": request.path, "button": "Unsubscribe"},
        )
    if subscriptions.unsubscribe(token) is None:
        return _message("Already unsubscribed", "This address is not subscribed any more.")
    return _message("Unsubscribed", f"{data.get('e')} will receive no more status emails.")
