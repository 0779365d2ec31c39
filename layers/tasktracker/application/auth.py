"""Use cases of the auth function: register, login, refresh, change password, me."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from tasktracker.domain import rules
from tasktracker.domain.entities import RefreshToken, User, new_id
from tasktracker.domain.enums import AuditEventType
from tasktracker.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError

from . import audit_trail
from .ports import AccessTokenIssuer, Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory

# Verified against when the email is unknown, so a login costs the same whether or not the account exists.
_TIMING_DECOY_PASSWORD = "timing-decoy-password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def hash_refresh_token(raw_token: str) -> str:
    # Refresh tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_token.encode()).hexdigest()


@dataclass
class AuthUseCases:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: AccessTokenIssuer
    clock: Clock
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    def __post_init__(self) -> None:
        self._decoy_hash = self.hasher.hash(_TIMING_DECOY_PASSWORD)

    def register(self, email: str, password: str, full_name: str | None = None) -> User:
        email = rules.normalize_email(email)
        rules.validate_password(password)
        now = self.clock.now()
        user = User(
            id=new_id(),
            email=email,
            password_hash=self.hasher.hash(password),
            full_name=rules.normalize_full_name(full_name),
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        with self.uow() as uow:
            if uow.users.get_by_email(email) is not None:
                raise ConflictError("An account with this email already exists", code="EMAIL_TAKEN")
            uow.users.add(user)
            uow.commit()
        return user

    def login(self, email: str, password: str) -> TokenPair:
        failure = AuthenticationError("Email or password is incorrect", code="INVALID_CREDENTIALS")
        try:
            email = rules.normalize_email(email)
        except ValidationError:
            self.hasher.verify(self._decoy_hash, password)
            raise failure from None
        with self.uow() as uow:
            user = uow.users.get_by_email(email)
            if user is None:
                self.hasher.verify(self._decoy_hash, password)
                raise failure
            if not self.hasher.verify(user.password_hash, password):
                raise failure
            user.ensure_active()
            now = self.clock.now()
            if self.hasher.needs_rehash(user.password_hash):
                user.password_hash = self.hasher.hash(password)
                user.updated_at = now
                uow.users.save(user)
            raw_refresh = self._new_refresh_token(uow, user.id, family_id=new_id())
            audit_trail.record(uow, AuditEventType.LOGIN, now=now, user_id=user.id)
            uow.commit()
        return TokenPair(self.tokens.issue(user), raw_refresh, self.tokens.ttl_seconds)

    def refresh(self, raw_refresh_token: str) -> TokenPair:
        with self.uow() as uow:
            record = uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(raw_refresh_token))
            if record is None:
                raise AuthenticationError("The refresh token is not valid", code="INVALID_REFRESH_TOKEN")
            if record.revoked:
                # A rotated token came back: someone holds a copy. End every session of this login.
                uow.refresh_tokens.revoke_family(record.family_id)
                uow.commit()
                raise AuthenticationError(
                    "This refresh token was already used; every session of this sign-in has been ended",
                    code="REFRESH_TOKEN_REUSED",
                )
            now = self.clock.now()
            if not record.is_usable(now):
                raise AuthenticationError("The refresh token has expired", code="REFRESH_TOKEN_EXPIRED")
            user = uow.users.get(record.user_id)
            if user is None:
                raise AuthenticationError("The refresh token is not valid", code="INVALID_REFRESH_TOKEN")
            user.ensure_active()
            uow.refresh_tokens.revoke(record.id)
            raw_refresh = self._new_refresh_token(uow, user.id, family_id=record.family_id)
            uow.commit()
        return TokenPair(self.tokens.issue(user), raw_refresh, self.tokens.ttl_seconds)

    def change_password(self, user_id: UUID, current_password: str, new_password: str) -> None:
        rules.validate_password(new_password, field="new_password")
        with self.uow() as uow:
            user = self._active_user(uow.users.get(user_id))
            if not self.hasher.verify(user.password_hash, current_password):
                raise AuthenticationError("The current password is incorrect", code="INVALID_CURRENT_PASSWORD")
            now = self.clock.now()
            user.password_hash = self.hasher.hash(new_password)
            user.updated_at = now
            uow.users.save(user)
            revoked = uow.refresh_tokens.revoke_all_for_user(user.id)
            audit_trail.record(
                uow, AuditEventType.PASSWORD_CHANGED, now=now, user_id=user.id, details={"revoked_sessions": revoked}
            )
            uow.commit()

    def me(self, user_id: UUID) -> User:
        with self.uow(read_only=True) as uow:
            return self._active_user(uow.users.get(user_id))

    def _active_user(self, user: User | None) -> User:
        if user is None:
            raise NotFoundError("User not found", code="USER_NOT_FOUND")
        user.ensure_active()
        return user

    def _new_refresh_token(self, uow: UnitOfWork, user_id: UUID, family_id: UUID) -> str:
        raw = secrets.token_urlsafe(32)
        now = self.clock.now()
        token = RefreshToken(
            id=new_id(),
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_refresh_token(raw),
            expires_at=now + timedelta(seconds=self.refresh_token_ttl_seconds),
            revoked=False,
            created_at=now,
        )
        uow.refresh_tokens.add(token)
        return raw
