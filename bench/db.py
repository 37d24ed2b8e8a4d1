"""The bench's PostgreSQL databases: names, creation, dropping, the kept secret and seed records.

Every tool of the harness (the runner, `bench.sla_sweep`, `bench.webhooks`) makes a database of
its own on 127.0.0.1 and may drop it, so a name must say it belongs to the bench
(`DB_NAME_PATTERN`). These helpers talk to PostgreSQL with psycopg directly: they run before
Django is configured (or in a process that never configures it). `record_seed` and
`SEED_TABLE_SQL` run inside Django, on its connection.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import psycopg
from psycopg import sql

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# A tool drops its database: the name must say it belongs to the bench.
DB_NAME_PATTERN = re.compile(r"^itsm_bench[a-z0-9_]{0,53}$")

SEED_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_seed (
    scenario text PRIMARY KEY,
    scale integer NOT NULL,
    seconds double precision NOT NULL,
    data jsonb NOT NULL,
    seeded_at timestamptz NOT NULL DEFAULT now()
)
"""
UPSERT_SEED_SQL = (
    "INSERT INTO bench_seed (scenario, scale, seconds, data) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (scenario) DO UPDATE SET scale = EXCLUDED.scale, seconds = EXCLUDED.seconds, "
    "data = EXCLUDED.data, seeded_at = now()"
)


class BenchError(RuntimeError):
    """A run cannot go on (database, migrate, seed, server or worker failure); the message says why."""


def database_url(db_name: str) -> str:
    """The DATABASE_URL of a bench database."""
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name}"


def connect(db_name: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
    """A psycopg connection to `db_name` on the bench's server (BenchError if it is not there)."""
    try:
        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db_name, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise BenchError(f"cannot reach PostgreSQL at {PG_HOST}:{PG_PORT} ({db_name}): {exc}") from exc


def check_name(db_name: str) -> None:
    """Refuse a database name that does not say it belongs to the bench."""
    if not DB_NAME_PATTERN.match(db_name):
        raise BenchError(f"refusing database name {db_name!r}: it must match {DB_NAME_PATTERN.pattern}")


def prepare_database(db_name: str, keep: bool) -> bool:
    """Create the bench database afresh (DROP + CREATE); with `keep`, reuse it if it exists.

    Returns True when an existing database was kept.
    """
    check_name(db_name)
    with connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone() is not None
        if keep and exists:
            return True
        name = sql.Identifier(db_name)
        # FORCE: a previous run killed mid-way may have left connections behind.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return False


def drop_database(db_name: str) -> None:
    """Drop a bench database (and the sessions still connected to it)."""
    check_name(db_name)
    with connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))


def close_django_and_drop(db_name: str) -> None:
    """`--drop` at the end of a tool: close this process's Django connections, then drop."""
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()
    drop_database(db_name)


def seeded_scenarios(db_name: str) -> dict[str, dict[str, Any]]:
    """What an earlier run seeded into a kept database (the bench_seed table), by scenario."""
    with connect(db_name, autocommit=False) as conn:
        if conn.execute("SELECT to_regclass('bench_seed')").fetchone()[0] is None:
            return {}
        rows = conn.execute("SELECT scenario, scale, seconds, data FROM bench_seed").fetchall()
    return {name: {"scale": scale, "seconds": seconds, "data": data} for name, scale, seconds, data in rows}


def database_secret(db_name: str) -> str:
    """The SECRET_KEY of a bench database: random when it is created, then kept in it.

    A `--keep-db` run then signs as the run that seeded it did, so what a seed signed (an
    administrator's session for the admin pages) stays valid.
    """
    with connect(db_name) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_secret (key text NOT NULL)")
        row = conn.execute("SELECT key FROM bench_secret LIMIT 1").fetchone()
        if row is not None:
            return row[0]
        key = secrets.token_urlsafe(50)
        conn.execute("INSERT INTO bench_secret (key) VALUES (%s)", [key])
        return key


def record_seed(name: str, scale: int, seconds: float, data: dict[str, Any]) -> None:
    """Note in bench_seed (Django's connection) what was seeded, so `--keep-db` can reuse it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SEED_TABLE_SQL)
        cursor.execute(UPSERT_SEED_SQL, [name, scale, seconds, json.dumps(data)])


def read_seed(name: str) -> tuple[dict[str, Any], float] | None:
    """(data, seconds) of a scenario's bench_seed row on Django's connection, or None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SEED_TABLE_SQL)
        cursor.execute("SELECT data, seconds FROM bench_seed WHERE scenario = %s", [name])
        row = cursor.fetchone()
    if row is None:
        return None
    data, seconds = row
    return (json.loads(data) if isinstance(data, str) else data), seconds  # Django may read jsonb as text
