"""Configuration from the environment, read once per process. Bad or unsafe settings fail at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar

# Room for the multipart envelope around an upload of max_upload_bytes. The router and the attachments
# function refuse bodies larger than max_upload_bytes + this before reading them; the exact file size is
# then checked while the upload streams.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024

DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-in-production"
ENVIRONMENTS = ("development", "test", "production")


class ConfigurationError(RuntimeError):
    pass


_Number = TypeVar("_Number", int, float)


def _number(name: str, default: _Number, parse: Callable[[str], _Number], expected: str) -> _Number:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be {expected}, not {raw!r}") from None


def _int(name: str, default: int) -> int:
    return _number(name, default, int, "a whole number")


def _float(name: str, default: float) -> float:
    return _number(name, default, float, "a number")


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = ""
    redis_url: str = ""
    jwt_secret_key: str = DEVELOPMENT_JWT_SECRET
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # A rotated refresh token sent again this soon (tabs refreshing at once) gets the same successor; later,
    # it ends its sign-in as a stolen copy.
    refresh_reuse_grace_seconds: int = 20
    rate_limit_default: str = "100/minute"
    rate_limit_login: str = "10/minute"
    # Per address, shared by the ops routes that ask every function (readiness, merged metrics and document).
    rate_limit_ops: str = "60/minute"
    rate_limit_enabled: bool = True
    # How long a user's session state (active, epoch) is kept in Redis for the check of every signed-in request
    # (0: not at all, every check reads the database). The use cases update it at once; a change made outside
    # them (an operator's UPDATE) is seen within this.
    session_cache_seconds: int = 60
    # How long the ops function keeps each of those answers (0: only requests arriving together share one).
    ops_cache_seconds: int = 2
    log_level: str = "INFO"
    db_pool_size: int = 5
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "tasktracker-attachments"
    s3_region: str = "us-east-1"
    max_upload_bytes: int = 25 * 1024 * 1024
    presigned_upload_ttl_seconds: int = 900
    reminder_interval_seconds: int = 300
    reminder_window_seconds: int = 24 * 3600
    reminder_batch_size: int = 5000
    worker_heartbeat_seconds: int = 15
    # 0 turns the worker's Prometheus endpoint off.
    worker_metrics_port: int = 8107
    # Redis redelivers an unacknowledged job after this long: every retry countdown must stay well below it.
    broker_visibility_timeout_seconds: int = 3600
    reminder_max_retries: int = 5
    # Retry n waits a random time up to factor * 2**n seconds, capped at the maximum (exponential, full jitter).
    reminder_retry_backoff_seconds: int = 4
    reminder_retry_backoff_max_seconds: int = 300
    # The storage settler: how often it runs, and how old a change must be before it takes it (younger ones
    # belong to the request that wrote them, which is carrying them out).
    storage_settle_interval_seconds: int = 60
    storage_settle_grace_seconds: int = 30
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    # Outgoing e-mail: smtp://[user:password@]host[:port] (STARTTLS when the server offers it) or smtps://...
    # Empty: reminders reach people in the app and through webhooks only, and no e-mail is queued.
    smtp_url: str = ""
    mail_from: str = "Task Tracker <reminders@tasktracker.localhost>"
    # Where the SPA is served, for the links in e-mails; empty leaves the links out.
    app_base_url: str = ""
    # Webhook targets on loopback, private, link-local or metadata addresses: refused unless this is set, which
    # only a developer's own machine should do (make up sets it).
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = 5.0
    # The outbox (e-mails and webhook deliveries): how often the worker empties it, how many it takes per
    # claim, how many attempts a message gets, the backoff between them (exponential, full jitter, capped),
    # and how long a claimed message is left to its sender before another run may take it again.
    outbox_interval_seconds: int = 5
    outbox_batch_size: int = 100
    outbox_concurrency: int = 8
    outbox_max_attempts: int = 8
    outbox_retry_base_seconds: int = 10
    outbox_retry_max_seconds: int = 3600
    outbox_lease_seconds: int = 60

    @classmethod
    def from_environment(cls) -> Settings:
        settings = cls(
            environment=os.environ.get("APP_ENV", "development").strip().lower(),
            database_url=os.environ.get("DATABASE_URL", ""),
            redis_url=os.environ.get("REDIS_URL", ""),
            jwt_secret_key=os.environ.get("JWT_SECRET_KEY", DEVELOPMENT_JWT_SECRET),
            access_token_ttl_seconds=_int("ACCESS_TOKEN_TTL_SECONDS", 900),
            refresh_token_ttl_seconds=_int("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600),
            refresh_reuse_grace_seconds=_int("REFRESH_REUSE_GRACE_SECONDS", 20),
            rate_limit_default=os.environ.get("RATE_LIMIT_DEFAULT", "100/minute"),
            rate_limit_login=os.environ.get("RATE_LIMIT_LOGIN", "10/minute"),
            rate_limit_ops=os.environ.get("RATE_LIMIT_OPS", "60/minute"),
            rate_limit_enabled=_flag("RATE_LIMIT_ENABLED", True),
            session_cache_seconds=_int("SESSION_CACHE_SECONDS", 60),
            ops_cache_seconds=_int("OPS_CACHE_SECONDS", 2),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            db_pool_size=_int("DB_POOL_SIZE", 5),
            s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
            s3_public_endpoint_url=os.environ.get("S3_PUBLIC_ENDPOINT_URL") or None,
            s3_bucket=os.environ.get("S3_BUCKET", "tasktracker-attachments"),
            s3_region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
            max_upload_bytes=_int("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            presigned_upload_ttl_seconds=_int("PRESIGNED_UPLOAD_TTL_SECONDS", 900),
            reminder_interval_seconds=_int("REMINDER_INTERVAL_SECONDS", 300),
            reminder_window_seconds=_int("REMINDER_WINDOW_SECONDS", 24 * 3600),
            reminder_batch_size=_int("REMINDER_BATCH_SIZE", 5000),
            worker_heartbeat_seconds=_int("WORKER_HEARTBEAT_SECONDS", 15),
            worker_metrics_port=_int("WORKER_METRICS_PORT", 8107),
            broker_visibility_timeout_seconds=_int("BROKER_VISIBILITY_TIMEOUT_SECONDS", 3600),
            reminder_max_retries=_int("REMINDER_MAX_RETRIES", 5),
            reminder_retry_backoff_seconds=_int("REMINDER_RETRY_BACKOFF_SECONDS", 4),
            reminder_retry_backoff_max_seconds=_int("REMINDER_RETRY_BACKOFF_MAX_SECONDS", 300),
            storage_settle_interval_seconds=_int("STORAGE_SETTLE_INTERVAL_SECONDS", 60),
            storage_settle_grace_seconds=_int("STORAGE_SETTLE_GRACE_SECONDS", 30),
            cors_origins=tuple(o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()),
            smtp_url=os.environ.get("SMTP_URL", "").strip(),
            mail_from=os.environ.get("MAIL_FROM", "").strip() or cls.mail_from,
            app_base_url=os.environ.get("APP_BASE_URL", "").strip().rstrip("/"),
            webhook_allow_private_targets=_flag("WEBHOOK_ALLOW_PRIVATE_TARGETS", False),
            webhook_timeout_seconds=_float("WEBHOOK_TIMEOUT_SECONDS", 5.0),
            outbox_interval_seconds=_int("OUTBOX_INTERVAL_SECONDS", 5),
            outbox_batch_size=_int("OUTBOX_BATCH_SIZE", 100),
            outbox_concurrency=_int("OUTBOX_CONCURRENCY", 8),
            outbox_max_attempts=_int("OUTBOX_MAX_ATTEMPTS", 8),
            outbox_retry_base_seconds=_int("OUTBOX_RETRY_BASE_SECONDS", 10),
            outbox_retry_max_seconds=_int("OUTBOX_RETRY_MAX_SECONDS", 3600),
            outbox_lease_seconds=_int("OUTBOX_LEASE_SECONDS", 60),
        )
        settings.validate()
        return settings

    @property
    def max_request_body_bytes(self) -> int:
        return self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES

    def validate(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ConfigurationError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.environment!r}")
        # Tests and staging sign real tokens too: only a developer's own machine may use the known secret.
        if self.environment != "development":
            if self.jwt_secret_key == DEVELOPMENT_JWT_SECRET:
                raise ConfigurationError("JWT_SECRET_KEY must be set to a strong secret outside development")
            if len(self.jwt_secret_key) < 32:
                raise ConfigurationError("JWT_SECRET_KEY must be at least 32 characters outside development")
        if not 0 <= self.refresh_reuse_grace_seconds <= 60:
            # Longer would let a stolen refresh token be replayed for long without ending its sign-in.
            raise ConfigurationError("REFRESH_REUSE_GRACE_SECONDS must be between 0 and 60")
        if not 0 <= self.ops_cache_seconds <= 10:
            # Longer would hide an outage from readiness, and give Prometheus (every 15 s) stale merged series.
            raise ConfigurationError("OPS_CACHE_SECONDS must be between 0 and 10")
        if not 0 <= self.session_cache_seconds <= 300:
            # Longer would let a user deactivated with SQL, not the CLI, keep working for that long.
            raise ConfigurationError("SESSION_CACHE_SECONDS must be between 0 and 300")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise ConfigurationError("SMTP_URL must start with smtp:// or smtps://")
        if not 0 < self.webhook_timeout_seconds <= 30:
            # A receiver is given seconds, not minutes: a slow one must not hold the outbox's senders.
            raise ConfigurationError("WEBHOOK_TIMEOUT_SECONDS must be above 0 and at most 30")
        if self.outbox_interval_seconds < 1 or self.outbox_batch_size < 1 or self.outbox_concurrency < 1:
            raise ConfigurationError(
                "OUTBOX_INTERVAL_SECONDS, OUTBOX_BATCH_SIZE and OUTBOX_CONCURRENCY must be at least 1"
            )
        if self.outbox_max_attempts < 1:
            raise ConfigurationError("OUTBOX_MAX_ATTEMPTS must be at least 1")
        if self.outbox_lease_seconds <= self.webhook_timeout_seconds * 2:
            # A message is taken again only once its lease is over: a sender still waiting for its receiver
            # must not be overtaken by a second one.
            raise ConfigurationError("OUTBOX_LEASE_SECONDS must be more than twice WEBHOOK_TIMEOUT_SECONDS")
        if not self.database_url:
            raise ConfigurationError("DATABASE_URL is not set")
        if self.rate_limit_enabled and not self.redis_url:
            raise ConfigurationError(
                "REDIS_URL is not set (rate limits live in Redis; RATE_LIMIT_ENABLED=false to run without)"
            )


@cache
def settings() -> Settings:
    return Settings.from_environment()
