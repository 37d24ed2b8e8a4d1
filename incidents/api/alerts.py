"""Alert and inbound email endpoints: thin views over `incidents.alerts`.

All four accept `Integration` or `ITSM Administrator` tokens only, are throttled by
`AlertRateThrottle` alone (their own per-token bucket, ALERT_THROTTLE_RATE, so an alert storm
never uses up the normal API's budget), accept an `Idempotency-Key`, and answer 202.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.alerts import adapters, mail
from incidents.alerts.services import (
    ACTIONS,
    MAX_DEDUP_KEY,
    MAX_SOURCE,
    MAX_SUMMARY,
    clean_event,
    ingest_event,
    may_ingest,
)
from incidents.models.alerts import AlertSeverity, InboundOutcome
from itsm.api.mixins import run_idempotently
from itsm.api.serializers import StrictSerializer, holds_nul, refuse_nul
from itsm.api.throttling import AlertRateThrottle

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A repeat with the same key and body replays the first answer and does nothing.",
)


class IsIntegrationOrAdministrator(permissions.BasePermission):
    """Alert and email intake: the `Integration` role or `ITSM Administrator` (403 for others)."""

    message = "Only integrations and ITSM Administrators may send alerts and inbound email."

    def has_permission(self, request, view) -> bool:
        return may_ingest(request.user)


# --- serializers (input strictness and the schema; the services validate again) -----------------
class IncidentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class AlertEventSerializer(StrictSerializer):
    """A monitoring event."""

    action = serializers.ChoiceField(choices=list(ACTIONS))
    dedup_key = serializers.CharField(
        max_length=MAX_DEDUP_KEY,
        required=False,
        allow_blank=True,
        help_text="Identifies the alert; generated and returned when a trigger has none. "
        "Required to acknowledge or resolve.",
    )
    summary = serializers.CharField(
        max_length=MAX_SUMMARY, required=False, allow_blank=True, help_text="Required on a trigger."
    )
    source = serializers.CharField(max_length=MAX_SOURCE, required=False, allow_blank=True)
    severity = serializers.ChoiceField(
        choices=AlertSeverity.choices, required=False, help_text="Required on a trigger."
    )
    service = serializers.CharField(required=False, allow_blank=True, allow_null=True, help_text="A service slug.")
    details = serializers.JSONField(
        required=False, help_text="A JSON object, at most ALERT_DETAILS_MAX_BYTES (64 KiB) as compact JSON."
    )
    timestamp = serializers.DateTimeField(required=False, help_text="When it happened (default: now).")


ALERT_EVENT_FIELDS = tuple(AlertEventSerializer().fields)


class AlertEventResultSerializer(serializers.Serializer):
    """The alert event response (API.md)."""

    incident = IncidentRefSerializer()
    dedup_key = serializers.CharField()
    created = serializers.BooleanField(help_text="True when this event opened the incident.")
    alert_count = serializers.IntegerField(help_text="Occurrences counted on the incident.")
    action = serializers.ChoiceField(choices=list(ACTIONS))
    state = serializers.CharField(help_text="The incident's state after the event.")


class AlertErrorSerializer(serializers.Serializer):
    type = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AlertBatchItemSerializer(serializers.Serializer):
    """One alert's outcome: the incident fields, or `error`."""

    dedup_key = serializers.CharField(allow_null=True)
    incident = IncidentRefSerializer(required=False)
    created = serializers.BooleanField(required=False)
    alert_count = serializers.IntegerField(required=False)
    action = serializers.CharField(required=False)
    state = serializers.CharField(required=False)
    error = AlertErrorSerializer(required=False)


class AlertBatchResultSerializer(serializers.Serializer):
    results = AlertBatchItemSerializer(many=True)


class WebhookPayloadSerializer(serializers.Serializer):
    """The tool's own webhook body (schema only: it is read leniently, alert by alert)."""

    status = serializers.CharField(required=False)
    receiver = serializers.CharField(required=False)
    alerts = serializers.ListField(child=serializers.DictField(), help_text="Each with status, labels, annotations…")


class InboundEmailResultSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    outcome = serializers.ChoiceField(choices=InboundOutcome.choices)
    reason = serializers.CharField()
    incident = IncidentRefSerializer(allow_null=True)
    created = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="Processed before (by Message-ID): nothing was done now.")


# --- parsers ------------------------------------------------------------------------------------
class RawEmailParser(BaseParser):
    """The raw bytes of an RFC 822 message."""

    media_type = "message/rfc822"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read() if stream is not None else b""


class PlainTextEmailParser(RawEmailParser):
    """Some gateways post the message as text/plain."""

    media_type = "text/plain"


# --- views --------------------------------------------------------------------------------------
class AlertView(APIView):
    """Common parts: who may call, the alert throttle, JSON parse errors reported as 400 on the body."""

    permission_classes = [IsIntegrationOrAdministrator]
    throttle_classes = [AlertRateThrottle]
    parser_classes = [JSONParser]
    # Machines call these: JSON only, which also spares each storm request the content
    # negotiation against the browsable API renderer.
    renderer_classes = [JSONRenderer]

    def body(self, request):
        try:
            data = request.data
        except exceptions.ParseError as exc:
            raise exceptions.ValidationError(
                {"non_field_errors": [f"The body is not valid JSON: {exc.detail}"]}
            ) from exc
        if isinstance(data, dict):
            refuse_nul(data)
        elif holds_nul(data):
            raise exceptions.ValidationError({"non_field_errors": ["Null characters are not allowed."]})
        return data


class AlertEventView(AlertView):
    @extend_schema(
        operation_id="alerts_create",
        summary="Send a monitoring event (trigger, acknowledge, resolve)",
        description="A trigger whose dedup key matches an open incident counts an occurrence on it; "
        "otherwise it opens an incident (channel monitoring), linked to the key's previous incident if any. "
        "Acknowledge starts the incident; resolve resolves it with code auto_resolved (or only annotates, "
        "per the service's alert route). Acknowledge/resolve of a dedup key never seen: 404.",
        request=AlertEventSerializer,
        responses={202: AlertEventResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        extensions={"x-errors": ["404"]},  # acknowledge/resolve of a dedup key never seen
        examples=[
            OpenApiExample(
                "Trigger",
                request_only=True,
                value={
                    "action": "trigger",
                    "dedup_key": "db-1/disk-full",
                    "summary": "Disk full on db-1",
                    "source": "db-1",
                    "severity": "critical",
                    "service": "payroll",
                    "details": {"mount": "/var", "used_percent": 99},
                },
            )
        ],
        tags=["alerts"],
    )
    def post(self, request):
        data = self.body(request)

        def handler():
            # The service validates every field (clean_event) and names each bad one; the
            # serializer above only documents the body. Running both cost a third of this hot
            # path's time, so here only the fields the serializer does not know are refused.
            if not isinstance(data, dict):
                raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
            fields = {name: data.get(name) for name in ALERT_EVENT_FIELDS}
            unknown = {name: ["Unknown field."] for name in data if name not in ALERT_EVENT_FIELDS}
            if unknown:  # refused before anything is written, naming the other bad fields too
                try:
                    clean_event(**fields)
                except DjangoValidationError as exc:
                    raise DjangoValidationError({**exc.message_dict, **unknown}) from exc
                raise exceptions.ValidationError(unknown)
            result = ingest_event(request.user, **fields)
            return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)

        return run_idempotently(request, handler)


class WebhookView(AlertView):
    ingest = None  # adapters.ingest_alertmanager or adapters.ingest_grafana

    def post(self, request):
        payload = self.body(request)

        def handler():
            batch = type(self).ingest(request.user, payload)
            if not batch.usable:
                raise exceptions.ValidationError(batch.errors or {"alerts": ["No alert in the payload is usable."]})
            return Response({"results": batch.results}, status=status.HTTP_202_ACCEPTED)

        return run_idempotently(request, handler)


WEBHOOK_SCHEMA = {
    "request": WebhookPayloadSerializer,
    "responses": {
        202: OpenApiResponse(
            AlertBatchResultSerializer, description="One result per alert, in order (partial results possible)."
        )
    },
    "parameters": [IDEMPOTENCY_PARAMETER],
    "tags": ["alerts"],
}


class AlertmanagerView(WebhookView):
    ingest = staticmethod(adapters.ingest_alertmanager)

    @extend_schema(
        operation_id="alerts_alertmanager_create",
        summary="Prometheus Alertmanager webhook (payload version 4)",
        description="Each alert is handled on its own: fingerprint -> dedup key, firing/resolved -> "
        "trigger/resolve, service from the ALERT_SERVICE_LABEL label, summary from annotations.summary or "
        "labels.alertname. 400 only if no alert in the payload is usable.",
        **WEBHOOK_SCHEMA,
    )
    def post(self, request):
        return super().post(request)


class GrafanaView(WebhookView):
    ingest = staticmethod(adapters.ingest_grafana)

    @extend_schema(
        operation_id="alerts_grafana_create",
        summary="Grafana alerting webhook",
        description="Grafana's webhook contact point payload; handled like the Alertmanager one, alert by alert.",
        **WEBHOOK_SCHEMA,
    )
    def post(self, request):
        return super().post(request)


class InboundEmailView(APIView):
    """A raw RFC 822 message from a mail gateway."""

    permission_classes = [IsIntegrationOrAdministrator]
    throttle_classes = [AlertRateThrottle]
    parser_classes = [RawEmailParser, PlainTextEmailParser]

    @extend_schema(
        operation_id="inbound_email_create",
        summary="Submit an inbound email (raw RFC 822)",
        description="A new message opens an incident (channel email); a reply whose subject carries an "
        "incident number comments on it and resumes it if it waits for the caller. Auto-replies, bulk mail "
        "and our own notifications are ignored. Each Message-ID is processed once: a repeat answers "
        "`duplicate: true` with the first outcome.",
        request={"message/rfc822": OpenApiTypes.BINARY, "text/plain": OpenApiTypes.STR},
        responses={202: InboundEmailResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["inbound-email"],
    )
    def post(self, request):
        raw = request.data
        if isinstance(raw, str):
            raw = raw.encode()
        if not isinstance(raw, bytes) or not raw.strip():
            raise exceptions.ValidationError({"message": ["The body must be a raw RFC 822 message."]})

        def handler():
            try:
                result = mail.process_message(raw, actor=request.user, channel="api")
            except mail.MalformedMessage as exc:
                raise exceptions.ValidationError({"message": [str(exc)]}) from exc
            except DjangoValidationError:
                raise
            return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)

        return run_idempotently(request, handler)
