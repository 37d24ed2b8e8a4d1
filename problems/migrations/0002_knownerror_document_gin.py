"""A GIN expression index on the known error search document, and the document stored for
ranking (PostgreSQL only).

The indexed expression is exactly what `problems.kedb.search.document()` renders (weights A:
title, B: symptoms, C: root cause and workaround; configuration `english`), restricted to
published articles as every search is: the planner matches `document @@ query` to it, so a search
reads the index instead of computing every article's tsvector. Change `document()` and this
expression together (tests/integration/test_problems_pg.py checks the plan). SQLite (the
embedded default) has no full-text index here and ranks by word matches instead.

The index finds the matches; ranking them (`ts_rank`) needs each match's vector, and computing it
again from four text columns costs ~30 us a row, a third of a second for a suggestion whose words
match every article. `search_document`, the same expression as a stored generated column (kept
up to date by PostgreSQL, unknown to the model, never written by Django), is read instead.
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
COLUMN = "search_document"
ADD_COLUMN = (
    f"ALTER TABLE problems_knownerror ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
)
DROP_COLUMN = f"ALTER TABLE problems_knownerror DROP COLUMN IF EXISTS {COLUMN}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
        schema_editor.execute(ADD_COLUMN)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_COLUMN)
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("problems", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
