"""Fixtures and helpers of the bench tests: the services an end-to-end run needs, its database names.

The end-to-end runs make their own PostgreSQL databases in child processes. Their names start
with `BENCH_TEST_DB_PREFIX` (default `itsm_bench_test`), so two checkouts testing on one server
can keep apart (e.g. `BENCH_TEST_DB_PREFIX=itsm_bench_helper_x`). As with tests/integration, a
missing PostgreSQL or Redis on 127.0.0.1 skips a run outside CI and fails it with CI=true.
"""

import os
import socket
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DB_PREFIX = os.environ.get("BENCH_TEST_DB_PREFIX", "itsm_bench_test")


def require(port: int, what: str) -> None:
    """Skip (or, in CI, fail) unless something listens on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        message = f"the bench needs {what} on 127.0.0.1:{port}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: integration services are required)")
        pytest.skip(message)


def drop_database(name: str) -> None:
    """Drop a database an end-to-end run made."""
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def processes_with(needle: bytes) -> list[int]:
    """Pids whose command line contains `needle`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def child_env(**extra: str) -> dict[str, str]:
    """This environment without BENCH_DB_NAME, plus `extra`."""
    return {k: v for k, v in os.environ.items() if k != "BENCH_DB_NAME"} | extra


@pytest.fixture(scope="session")
def bench_services():
    """PostgreSQL and Redis on 127.0.0.1, or a skip (a failure in CI)."""
    require(5432, "PostgreSQL")
    require(6379, "Redis")


@pytest.fixture(scope="session")
def bench_drop():
    """`drop(name)`: drop a database an end-to-end run made."""
    return drop_database


@pytest.fixture(scope="session")
def bench_processes_with():
    """`find(needle)`: pids whose command line contains the bytes `needle`."""
    return processes_with


@pytest.fixture(scope="session")
def bench_env():
    """`env(**extra)`: this environment without BENCH_DB_NAME, plus `extra`."""
    return child_env


@pytest.fixture(scope="session")
def bench_test_db():
    """The name of a test run's database, `<prefix>_<suffix>` (the prefix alone for no suffix)."""
    return lambda suffix="": f"{DB_PREFIX}_{suffix}" if suffix else DB_PREFIX
