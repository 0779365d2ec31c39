"""Schema migrations, runnable without an alembic.ini: `python -m tasktracker.adapters.sqlalchemy.migrate upgrade`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Fails when the models and the migrations disagree."""
    command.check(alembic_config(database_url))


def main() -> None:
    parser = argparse.ArgumentParser(description="Task Tracker database migrations")
    parser.add_argument("action", choices=["upgrade", "downgrade", "check", "current"])
    parser.add_argument("revision", nargs="?")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    if args.action == "upgrade":
        upgrade(args.database_url, args.revision or "head")
    elif args.action == "downgrade":
        downgrade(args.database_url, args.revision or "base")
    elif args.action == "check":
        check(args.database_url)
    else:
        command.current(alembic_config(args.database_url), verbose=True)


if __name__ == "__main__":
    main()
