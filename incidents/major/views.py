"""The acknowledge page of a page: works without login, authorised by the signed token in the link.

GET shows a confirmation button (mail scanners and chat previews follow links; a GET must not
acknowledge); POST acknowledges. csrf_exempt: the signed token is the credential, and the only
thing the POST can do is acknowledge the one page it names.
"""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from incidents.major import responders as service
from incidents.major.choices import LIVE_STATES
from incidents.major.models import Responder

TEMPLATE = "incidents/major/acknowledge.html"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def acknowledge(request, token: str):
    """Confirm (GET) and record (POST) the acknowledgement of the page a signed token names."""
    data = service.read_acknowledge_token(token)
    if data is None:
        return render(request, TEMPLATE, {"state": "invalid"}, status=400)
    responder = (
        Responder.objects.select_related("major_incident", "user")
        .filter(pk=data["r"], user_id=data["u"], major_incident_id=data["m"])
        .first()
    )
    if responder is None:
        return render(request, TEMPLATE, {"state": "gone"}, status=404)
    context = {"responder": responder, "mi": responder.major_incident}
    if responder.acknowledged_at is not None:
        return render(request, TEMPLATE, {**context, "state": "already"})
    if responder.major_incident.state not in LIVE_STATES:
        return render(request, TEMPLATE, {**context, "state": "over"}, status=409 if request.method == "POST" else 200)
    if request.method == "POST":
        responder = service.acknowledge(responder, actor=None)
        return render(request, TEMPLATE, {**context, "responder": responder, "state": "done"})
    return render(request, TEMPLATE, {**context, "state": "confirm"})
