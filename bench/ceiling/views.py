"""The trivial endpoint: a DRF create of one row and a DRF list of the newest 50.

Plain DRF generic views and a ModelSerializer, with the project's REST_FRAMEWORK defaults for
authentication (the cached token), permission (read: authenticated; write: administrator),
throttling and errors: only what the product adds on top of them (filters, pagination, its
serializers, services, SLA clocks, timeline, events) is left out.
"""

from rest_framework import generics, serializers

from bench.ceiling.models import Note

LIST_ROWS = 50


class NoteSerializer(serializers.ModelSerializer):
    """All four columns; the id and creation time are the server's."""

    class Meta:
        model = Note
        fields = ["id", "title", "body", "created_at"]
        read_only_fields = ["id", "created_at"]


class Notes(generics.ListCreateAPIView):
    """`POST`: validate, insert one row, answer 201 with it. `GET`: the newest 50 rows in one
    query, no pagination, filters or ordering parameters."""

    serializer_class = NoteSerializer
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        """The newest `LIST_ROWS` rows."""
        return Note.objects.order_by("-id")[:LIST_ROWS]
