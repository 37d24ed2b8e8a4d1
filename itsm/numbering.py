"""Human record numbers (INC0000123, MIM0000012, PRB0000045): unique, increasing, never reused.

On PostgreSQL each prefix has its own SEQUENCE: `nextval` is non-transactional, so concurrent
creates never wait on one another (no hot counter row) and a rolled-back number is skipped,
never handed out twice. On SQLite, which serialises writers anyway, a counter row is bumped
with UPDATE ... RETURNING inside the caller's transaction.
"""

from django.db import connection

PREFIXES = {"incident": "INC", "major_incident": "MIM", "problem": "PRB"}
WIDTH = 7


def sequence_name(kind: str) -> str:
    return f"itsm_number_{kind}_seq"


def next_number(kind: str) -> str:
    """Allocate the next human number for `kind` (a key of PREFIXES)."""
    prefix = PREFIXES[kind]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s)", [sequence_name(kind)])
        else:
            cursor.execute("UPDATE itsm_numbercounter SET value = value + 1 WHERE kind = %s RETURNING value", [kind])
        value = cursor.fetchone()[0]
    return f"{prefix}{value:0{WIDTH}d}"


def create_sequences(apps, schema_editor) -> None:
    """Migration helper: one sequence (PostgreSQL) or counter row (elsewhere) per kind."""
    if schema_editor.connection.vendor == "postgresql":
        for kind in PREFIXES:
            schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {sequence_name(kind)} START 1")
    else:
        Counter = apps.get_model("itsm", "NumberCounter")
        for kind in PREFIXES:
            Counter.objects.get_or_create(kind=kind, defaults={"value": 0})
