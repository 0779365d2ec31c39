from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from tasktracker.application.auth import AuthUseCases
from tasktracker.application.clock import SystemClock
from tasktracker.application.ports import AccessTokenIssuer
from tasktracker.config import Settings

from . import session_cache, unit_of_work_factory

if TYPE_CHECKING:
    from tasktracker.adapters.security.passwords import Argon2PasswordHasher


@cache
def _argon2_hasher() -> Argon2PasswordHasher:
    from tasktracker.adapters.security.passwords import Argon2PasswordHasher

    return Argon2PasswordHasher()


class DeferredPasswordHasher:
    """Argon2, loaded by the first request that hashes or verifies a password (sign-up, sign-in, a password
    change): the auth function's other requests (/me, refresh) never need it, nor does its cold start."""

    def hash(self, password: str) -> str:
        return _argon2_hasher().hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        return _argon2_hasher().verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return _argon2_hasher().needs_rehash(password_hash)


def auth_use_cases(settings: Settings, tokens: AccessTokenIssuer) -> AuthUseCases:
    return AuthUseCases(
        uow=unit_of_work_factory(settings),
        hasher=DeferredPasswordHasher(),
        tokens=tokens,
        clock=SystemClock(),
        refresh_token_ttl_seconds=settings.refresh_token_ttl_seconds,
        refresh_reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
        sessions=session_cache(settings),
    )
