"""Use cases of the auth function: register, login, refresh, logout, change password, me."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import NoReturn
from uuid import UUID

from tasktracker.domain import rules
from tasktracker.domain.entities import RefreshToken, User, new_id
from tasktracker.domain.enums import AuditEventType, TokenRevocation
from tasktracker.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError

from . import audit_trail
from .identity import NoSessionCache
from .ports import AccessTokenIssuer, Clock, PasswordHasher, SessionCache, UnitOfWork, UnitOfWorkFactory

# Verified against when the email is unknown, so a login costs the same whether or not the account exists.
_TIMING_DECOY_PASSWORD = "timing-decoy-password"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


REFRESH_TOKEN_BYTES = 32
_SEAL_LABEL = b"tasktracker refresh-token successor v1"


def hash_refresh_token(raw_token: str) -> str:
    # Refresh tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_token.encode()).hexdigest()


def new_refresh_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(REFRESH_TOKEN_BYTES)).rstrip(b"=").decode()


def _token_bytes(raw_token: str) -> bytes:
    return base64.urlsafe_b64decode(raw_token + "=" * (-len(raw_token) % 4))


def _successor_pad(raw_predecessor: str) -> bytes:
    # A key only the predecessor's holder can compute: the database keeps the predecessor's SHA-256, never
    # the token, and HMAC keyed with the token reveals nothing of it (nor follows from its hash).
    return hmac.new(raw_predecessor.encode(), _SEAL_LABEL, hashlib.sha256).digest()


def seal_successor(raw_predecessor: str, raw_successor: str) -> str:
    """The successor's 32 random bytes XOR a pad derived from the predecessor: a one-time pad, since each
    token is rotated (so sealed under) once."""
    secret = _token_bytes(raw_successor)
    return bytes(a ^ b for a, b in zip(secret, _successor_pad(raw_predecessor), strict=True)).hex()


def open_successor(raw_predecessor: str, sealed: str) -> str:
    secret = bytes(a ^ b for a, b in zip(bytes.fromhex(sealed), _successor_pad(raw_predecessor), strict=True))
    return base64.urlsafe_b64encode(secret).rstrip(b"=").decode()


@dataclass
class AuthUseCases:
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    tokens: AccessTokenIssuer
    clock: Clock
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # How long a rotated refresh token, sent again (two tabs refreshing at once), is answered with the same
    # successor instead of ending its sign-in as a stolen copy.
    refresh_reuse_grace_seconds: int = 20
    # Every change of a user's session state (active, epoch) is written here too, after its commit, so that the
    # check of every signed-in request (identity.ActiveUsers) sees it at once in every process.
    sessions: SessionCache = field(default_factory=NoSessionCache)

    @cached_property
    def _decoy_hash(self) -> str:
        # Made when a sign-in first needs it, not at start: an Argon2 hash is a good part of a cold start.
        return self.hasher.hash(_TIMING_DECOY_PASSWORD)

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
        self.sessions.publish(user.id, user.session)
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
            raw_refresh, _ = self._new_refresh_token(uow, user, family_id=new_id())
            audit_trail.record(uow, AuditEventType.LOGIN, now=now, user_id=user.id)
            uow.commit()
        return TokenPair(self.tokens.issue(user), raw_refresh, self.tokens.ttl_seconds)

    def refresh(self, raw_refresh_token: str) -> TokenPair:
        with self.uow() as uow:
            record = uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(raw_refresh_token))
            if record is None:
                raise AuthenticationError("The refresh token is not valid", code="INVALID_REFRESH_TOKEN")
            user = uow.users.get(record.user_id)
            if user is None:
                raise AuthenticationError("The refresh token is not valid", code="INVALID_REFRESH_TOKEN")
            user.ensure_active()
            if record.session_epoch != user.session_epoch:
                raise _sign_in_ended("the password was changed or the account deactivated")
            now = self.clock.now()
            if record.revoked:
                successor = self._successor_within_grace(uow, record, raw_refresh_token, now)
                if successor is None:
                    self._refuse_revoked(uow, record, now)
                # Read only: the same successor, a new access token; the lock goes with the transaction.
                return TokenPair(self.tokens.issue(user), successor, self.tokens.ttl_seconds)
            if not record.is_usable(now):
                raise AuthenticationError("The refresh token has expired", code="REFRESH_TOKEN_EXPIRED")
            raw_successor, successor_id = self._new_refresh_token(uow, user, family_id=record.family_id)
            uow.refresh_tokens.rotate(record, successor_id, seal_successor(raw_refresh_token, raw_successor), now)
            uow.commit()
        return TokenPair(self.tokens.issue(user), raw_successor, self.tokens.ttl_seconds)

    def logout(self, raw_refresh_token: str) -> None:
        """Ends the sign-in the refresh token belongs to: every token of its family stops at once (a refresh with
        any of them answers REFRESH_TOKEN_REVOKED), and a LOGOUT event is written in the same transaction. Access
        tokens already issued are not tracked and live on until they expire; the user's other sign-ins go on.

        Idempotent: a token of a real family that is already revoked, rotated or expired still succeeds, and any
        token of the family ends it (one rotated by a refresh racing with the sign-out included). Only a sign-out
        that ended a live token is audited, so repeating it writes nothing. An unknown token is refused as a
        refresh refuses it. Holding the token is the whole proof, as for a refresh, which could end the sign-in
        through reuse detection anyway; the user's state and epoch are not checked, since there is nothing to
        protect in ending a sign-in that a password change or a deactivation already ended."""
        with self.uow() as uow:
            # Locked like a refresh, so a refresh with the same token queues behind the sign-out (or before it).
            record = uow.refresh_tokens.get_by_hash_for_update(hash_refresh_token(raw_refresh_token))
            if record is None:
                raise AuthenticationError("The refresh token is not valid", code="INVALID_REFRESH_TOKEN")
            now = self.clock.now()
            ended = uow.refresh_tokens.revoke_family(record.family_id, TokenRevocation.LOGGED_OUT, now)
            if ended:
                audit_trail.record(uow, AuditEventType.LOGOUT, now=now, user_id=record.user_id)
            uow.commit()

    def change_password(self, user_id: UUID, current_password: str, new_password: str) -> None:
        """Ends every session of the user, the caller's own included: all earlier access and refresh tokens
        stop at once, and the caller signs in again with the new password."""
        rules.validate_password(new_password, field="new_password")
        with self.uow() as uow:
            user = self._active_user(uow.users.get_for_update(user_id))
            if not self.hasher.verify(user.password_hash, current_password):
                raise AuthenticationError("The current password is incorrect", code="INVALID_CURRENT_PASSWORD")
            now = self.clock.now()
            user.password_hash = self.hasher.hash(new_password)
            user.updated_at = now
            user.end_sessions()
            uow.users.save(user)
            revoked = uow.refresh_tokens.revoke_all_for_user(user.id, TokenRevocation.PASSWORD_CHANGED, now)
            audit_trail.record(
                uow, AuditEventType.PASSWORD_CHANGED, now=now, user_id=user.id, details={"revoked_sessions": revoked}
            )
            self._commit_session_change(uow, user)

    def deactivate(self, email: str) -> User:
        """An operator's: the user is shut out at once, everywhere (every live token, every refresh token)."""
        return self._change_activity(email, active=False)

    def reactivate(self, email: str) -> User:
        """An operator's: the user may sign in again; no token from before comes back to life."""
        return self._change_activity(email, active=True)

    def _change_activity(self, email: str, *, active: bool) -> User:
        with self.uow() as uow:
            found = uow.users.get_by_email(rules.normalize_email(email))
            user = uow.users.get_for_update(found.id) if found else None
            if user is None:
                raise NotFoundError("User not found", code="USER_NOT_FOUND")
            if user.is_active == active:
                return user
            # Refresh tokens need no revoking: a refresh checks the user's state and epoch.
            if active:
                user.reactivate()
            else:
                user.deactivate()
            user.updated_at = self.clock.now()
            uow.users.save(user)
            self._commit_session_change(uow, user)
        return user

    def _commit_session_change(self, uow: UnitOfWork, user: User) -> None:
        """Commits a change of the user's session state so that no process goes on serving the old one: the cache
        is held before the commit (a check then reads the database; if the hold cannot be written the change is
        refused, since a stale state could outlive it), and given the new state after it."""
        self.sessions.hold(user.id)
        uow.commit()
        self.sessions.publish(user.id, user.session)

    def me(self, user_id: UUID) -> User:
        with self.uow(read_only=True) as uow:
            return self._active_user(uow.users.get(user_id))

    def _active_user(self, user: User | None) -> User:
        if user is None:
            raise NotFoundError("User not found", code="USER_NOT_FOUND")
        user.ensure_active()
        return user

    def _successor_within_grace(
        self, uow: UnitOfWork, record: RefreshToken, raw_refresh_token: str, now: datetime
    ) -> str | None:
        """The live successor of a token rotated within the grace, opened with the token itself; else None."""
        if record.successor_id is None or record.successor_sealed is None:
            return None
        if not record.rotated_within(now, timedelta(seconds=self.refresh_reuse_grace_seconds)):
            return None
        successor = uow.refresh_tokens.get(record.successor_id)
        if successor is None or not successor.is_usable(now):
            return None
        raw_successor = open_successor(raw_refresh_token, record.successor_sealed)
        return raw_successor if hash_refresh_token(raw_successor) == successor.token_hash else None

    def _refuse_revoked(self, uow: UnitOfWork, record: RefreshToken, now: datetime) -> NoReturn:
        if record.revoked_reason == TokenRevocation.PASSWORD_CHANGED:
            raise _sign_in_ended("the password was changed")
        if record.revoked_reason == TokenRevocation.LOGGED_OUT or self._successor_logged_out(uow, record):
            # Ended on purpose, not stolen: also a token rotated just before its successor signed out (a tab
            # refreshing with it while another signs out).
            raise _sign_in_ended("it was signed out")
        if record.revoked_reason != TokenRevocation.REUSE_DETECTED:
            # A rotated token came back after the grace: someone holds a copy. End every session of this login.
            uow.refresh_tokens.revoke_family(record.family_id, TokenRevocation.REUSE_DETECTED, now)
            uow.commit()
        raise AuthenticationError(
            "This refresh token was already used; every session of this sign-in has been ended",
            code="REFRESH_TOKEN_REUSED",
        )

    def _successor_logged_out(self, uow: UnitOfWork, record: RefreshToken) -> bool:
        if record.revoked_reason != TokenRevocation.ROTATED or record.successor_id is None:
            return False
        successor = uow.refresh_tokens.get(record.successor_id)
        return successor is not None and successor.revoked_reason == TokenRevocation.LOGGED_OUT

    def _new_refresh_token(self, uow: UnitOfWork, user: User, family_id: UUID) -> tuple[str, UUID]:
        raw = new_refresh_token()
        now = self.clock.now()
        token = RefreshToken(
            id=new_id(),
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(raw),
            expires_at=now + timedelta(seconds=self.refresh_token_ttl_seconds),
            revoked=False,
            created_at=now,
            session_epoch=user.session_epoch,
        )
        uow.refresh_tokens.add(token)
        return raw, token.id


def _sign_in_ended(why: str) -> AuthenticationError:
    return AuthenticationError(f"This sign-in has ended because {why}; sign in again", code="REFRESH_TOKEN_REVOKED")
