"""Commands for the feedback database's schema: the migration step of a deployment.

    digitpad db upgrade                  # bring the schema to head (once, before replicas start)
    digitpad db check [--wait SECONDS]   # exit 0 when the schema is at head, 1 otherwise

A deployment runs ``db upgrade`` as its own step (a Kubernetes Job, a compose service) and starts
its replicas with ``DIGITPAD_MIGRATE=false``, so no replica migrates and none races another at
start-up; ``db check --wait`` lets a replica wait for that step instead of failing.
"""

from __future__ import annotations

import argparse
import time

from ..errors import StoreError
from .common import db_flag, settings_from

POLL_SECONDS = 2.0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from ..store import describe_url, upgrade_database  # (SQLAlchemy: only for the commands that open the store)

    url = settings_from(args).database_url
    before, after = upgrade_database(url)
    change = f"{before or 'empty'} -> {after}" if before != after else f"already at {after} (head)"
    print(f"feedback database {describe_url(url)}: {change}")
    return 0


def cmd_db_check(args: argparse.Namespace) -> int:
    from ..schema import MIGRATE_HINT
    from ..store import database_schema_status, describe_url

    url = settings_from(args).database_url
    deadline = time.monotonic() + args.wait
    while True:
        try:
            status, error = database_schema_status(url), None
        except StoreError as e:  # not reachable (yet: a database still starting is waited for too)
            status, error = None, e
        if (status is not None and status.ok) or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    if error is not None:
        raise error
    print(f"feedback database {describe_url(url)}: {status.describe()}")
    if not status.ok and status.state != "unknown":
        print(f"hint: {MIGRATE_HINT}")
    return 0 if status.ok else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="the feedback database's schema: upgrade (a deployment's migration step), check")
    dsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    q = dsub.add_parser("upgrade", help="bring the schema to head (alembic upgrade head, under a lock)")
    db_flag(q)
    q.set_defaults(func=cmd_db_upgrade)
    q = dsub.add_parser("check", help="exit 0 when the schema is at head, 1 when it is not")
    db_flag(q)
    q.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="keep checking for up to SECONDS until it is at head (a replica waiting for the migration step)")
    q.set_defaults(func=cmd_db_check)
