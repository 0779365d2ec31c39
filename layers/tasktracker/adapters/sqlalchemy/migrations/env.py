from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from tasktracker.adapters.sqlalchemy.engine import sqlalchemy_url
from tasktracker.adapters.sqlalchemy.models import Base

config = context.config
target_metadata = Base.metadata


EXPRESSION_INDEXES = {
    "uq_users_email_lower",
    "ix_tasks_search_trgm",
    "ix_tasks_due_date_desc_created_at_id",
    "ix_tasks_lower_title_created_at_id",
}


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Autogenerate cannot compare expression indexes (lower(email), the trigram search, descending or
    # lower-cased sort keys); the migrations own them.
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def run_migrations() -> None:
    url = sqlalchemy_url(config.get_main_option("sqlalchemy.url") or "")
    connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
            compare_server_default=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; point DATABASE_URL at a database")
run_migrations()
