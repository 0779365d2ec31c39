from __future__ import annotations

from tasktracker.adapters.security.passwords import Argon2PasswordHasher
from tasktracker.application.auth import AuthUseCases
from tasktracker.application.clock import SystemClock
from tasktracker.application.ports import AccessTokenIssuer
from tasktracker.config import Settings

from . import session_cache, unit_of_work_factory


def auth_use_cases(settings: Settings, tokens: AccessTokenIssuer) -> AuthUseCases:
    return AuthUseCases(
        uow=unit_of_work_factory(settings),
        hasher=Argon2PasswordHasher(),
        tokens=tokens,
        clock=SystemClock(),
        refresh_token_ttl_seconds=settings.refresh_token_ttl_seconds,
        refresh_reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
        sessions=session_cache(settings),
    )
