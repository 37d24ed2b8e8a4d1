"""A GIN expression index on the known error search document (PostgreSQL only).

The indexed expression is exactly what `problems.kedb.search.document()` renders (weights A:
title, B: symptoms, C: root cause and workaround; configuration `english`), restricted to
published articles as every search is: the planner matches `document @@ query` to it, so a search
reads the index instead of computing every article's tsvector. Change `document()` and this
expression together (tests/integration/test_problems_pg.py checks the plan). SQLite (the
embedded default) has no full-text index here and ranks by word matches instead.
"""

from django.db import migrations

INDEX = "knownerror_document_gin"
DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(symptoms, '')), 'B')"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(root_cause, '')), 'C')"
    " || setweight(to_tsvector('english'::regconfig, COALESCE(workaround, '')), 'C'))"
)
CREATE = f"CREATE INDEX IF NOT EXISTS {INDEX} ON problems_knownerror USING gin ({DOCUMENT}) WHERE state = 'published'"
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("problems", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
