"""Database expressions the reports share, written once per database vendor."""

from __future__ import annotations

from django.db.models import F, FloatField, Func


class Seconds(Func):
    """`end - start` in seconds, as a float, computed by the database (NULL when either is NULL)."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end, start, **extra):
        end = F(end) if isinstance(end, str) else end
        start = F(start) if isinstance(start, str) else start
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))", arg_joiner=" - ")

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s)) * 86400.0)", arg_joiner=") - julianday("
        )
