"""The seeding process: `python -m bench.seed --admin NAME --out PATH SCENARIO:SCALE ...`.

Run by the runner with DATABASE_URL pointing at the bench database. It configures Django,
creates the administrator the load steps authenticate as, runs each scenario's `seed(scale)`
and records what it seeded in the `bench_seed` table (so `--keep-db` can reuse it), then
writes `{scenario: {"scale", "seconds", "data"}}` as JSON to PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def ensure_admin(username: str) -> None:
    """An active ITSM Administrator called `username` (its token is issued by `issue_token`)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from bench.bulk import password_hash
    from itsm import roles

    user, _ = get_user_model().objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@example.com", "is_staff": True, "password": password_hash()},
    )
    user.groups.add(Group.objects.get(name=roles.ADMINISTRATOR))


def seed(name: str, scale: int) -> dict:
    """Run one scenario's seed and record it in bench_seed; returns its entry for the output."""
    from bench.bulk import analyze
    from bench.db import record_seed
    from bench.registry import get

    scenario = get(name)
    started = time.perf_counter()
    data = scenario.seed(scale) or {}
    analyze()
    seconds = round(time.perf_counter() - started, 3)
    record_seed(name, scale, seconds, data)
    return {"scale": scale, "seconds": seconds, "data": data}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, set Django up and seed every SCENARIO:SCALE given, in order."""
    parser = argparse.ArgumentParser(prog="python -m bench.seed")
    parser.add_argument("--admin", required=True, help="username of the administrator to create")
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON result")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO:SCALE")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
    import django

    django.setup()
    from django.db import connection

    from bench.db import SEED_TABLE_SQL

    if connection.vendor != "postgresql":
        print("bench.seed: DATABASE_URL must point at PostgreSQL", file=sys.stderr)
        return 2
    with connection.cursor() as cursor:
        cursor.execute(SEED_TABLE_SQL)
    ensure_admin(args.admin)
    results = {}
    for item in args.scenarios:
        name, _, scale = item.rpartition(":")
        results[name] = seed(name, int(scale))
        print(f"seeded {name} at scale {scale} in {results[name]['seconds']:.1f} s", file=sys.stderr)
    args.out.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
