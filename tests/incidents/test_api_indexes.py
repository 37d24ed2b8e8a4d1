"""The indexes the incident lists rely on exist and are the ones the planner picks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_opened_at_id_index_replaces_the_plain_one():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Incident._meta.db_table)
    assert constraints["incident_opened_at_id"]["columns"] == ["opened_at", "id"]
    assert "incident_opened_at" not in constraints


def test_date_bounded_list_ordered_by_opened_at_walks_the_index_without_a_sort():
    now = timezone.now()
    queryset = Incident.objects.filter(opened_at__gte=now - timedelta(days=30), opened_at__lt=now).order_by(
        "-opened_at", "-id"
    )[:51]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "incident_opened_at_id" in plan, plan
    assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan
