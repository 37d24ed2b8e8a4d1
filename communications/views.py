"""The unsubscribe page: works without login, authorised by the signed token in the link.

GET shows a confirmation button (mail scanners follow links; a GET must not unsubscribe);
POST unsubscribes, including RFC 8058 one-click POSTs from mail clients, which carry no CSRF
token, hence csrf_exempt: the signed token is the credential and the action only removes the
subscription it names.
"""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import Subscription
from .signatures import read_unsubscribe_token


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """Confirm (GET) and remove (POST) the subscription a signed token names."""
    data = read_unsubscribe_token(token)
    if data is None:
        return render(request, "communications/unsubscribe.html", {"state": "invalid"}, status=400)
    subscription = Subscription.objects.select_related("service", "user").filter(pk=data["s"]).first()
    if subscription is None:
        return render(request, "communications/unsubscribe.html", {"state": "gone", "address": data["a"]})
    if request.method == "POST":
        subscription.delete()
        return render(
            request,
            "communications/unsubscribe.html",
            {"state": "done", "address": data["a"], "subscription": subscription},
        )
    return render(
        request,
        "communications/unsubscribe.html",
        {"state": "confirm", "address": data["a"], "subscription": subscription},
    )
