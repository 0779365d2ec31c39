"""The session check reads the shared cache first and the database only when it has nothing; every use case that
changes a user's session state holds the cache before its commit and publishes the new state after it."""

from __future__ import annotations

import pytest

from tasktracker.application.auth import AuthUseCases
from tasktracker.application.identity import ActiveUsers
from tasktracker.domain.entities import User, UserSession, new_id
from tasktracker.domain.errors import AuthenticationError, ServiceUnavailableError

from .fakes import (
    PASSWORD,
    AddUser,
    FakeAccessTokenIssuer,
    FakeClock,
    FakePasswordHasher,
    FakeSessionCache,
    FakeUnitOfWork,
)

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def cache(uow: FakeUnitOfWork) -> FakeSessionCache:
    return FakeSessionCache(uow)


@pytest.fixture
def auth(
    uow: FakeUnitOfWork,
    hasher: FakePasswordHasher,
    issuer: FakeAccessTokenIssuer,
    clock: FakeClock,
    cache: FakeSessionCache,
) -> AuthUseCases:
    return AuthUseCases(uow, hasher, issuer, clock, sessions=cache)


@pytest.fixture
def alice(add_user: AddUser) -> User:
    return add_user("alice@example.com")


def test_a_cached_state_answers_without_the_database(uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User) -> None:
    cache.entries[alice.id] = UserSession(is_active=True, session_epoch=0)
    ActiveUsers(uow, cache)(alice.id, 0)
    assert uow.transactions == 0


def test_a_cached_state_refuses_like_the_database_would(
    uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    cache.entries[alice.id] = UserSession(is_active=True, session_epoch=2)
    with pytest.raises(AuthenticationError) as revoked:
        ActiveUsers(uow, cache)(alice.id, 1)
    assert revoked.value.code == "TOKEN_REVOKED"
    cache.entries[alice.id] = UserSession(is_active=False, session_epoch=2)
    with pytest.raises(AuthenticationError) as disabled:
        ActiveUsers(uow, cache)(alice.id, 2)
    assert disabled.value.code == "ACCOUNT_DISABLED"
    assert uow.transactions == 0


def test_without_a_cached_state_the_database_answers_and_fills_the_cache(
    uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    check = ActiveUsers(uow, cache)
    check(alice.id, 0)
    assert uow.transactions == 1
    assert cache.entries[alice.id] == UserSession(is_active=True, session_epoch=0)
    check(alice.id, 0)
    assert uow.transactions == 1


def test_a_held_state_is_read_from_the_database_and_not_overwritten(
    uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    cache.entries[alice.id] = FakeSessionCache.HOLD
    ActiveUsers(uow, cache)(alice.id, 0)
    assert uow.transactions == 1
    assert cache.entries[alice.id] == FakeSessionCache.HOLD


def test_with_the_cache_down_the_database_answers(uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User) -> None:
    cache.entries[alice.id] = UserSession(is_active=True, session_epoch=0)
    cache.down = True
    uow.committed_state.users[alice.id].deactivate()
    with pytest.raises(AuthenticationError) as disabled:
        ActiveUsers(uow, cache)(alice.id, 0)
    assert disabled.value.code == "ACCOUNT_DISABLED"


def test_an_unknown_user_is_refused_and_nothing_is_cached(uow: FakeUnitOfWork, cache: FakeSessionCache) -> None:
    stranger = new_id()
    with pytest.raises(AuthenticationError) as disabled:
        ActiveUsers(uow, cache)(stranger, 0)
    assert disabled.value.code == "ACCOUNT_DISABLED"
    assert stranger not in cache.entries


def test_registration_publishes_the_new_users_state(auth: AuthUseCases, cache: FakeSessionCache) -> None:
    user = auth.register("carol@example.com", PASSWORD)
    assert cache.entries[user.id] == UserSession(is_active=True, session_epoch=0)
    assert [call[0] for call in cache.calls] == ["publish"]


def test_a_password_change_holds_before_its_commit_and_publishes_after_it(
    auth: AuthUseCases, uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    cache.entries[alice.id] = UserSession(is_active=True, session_epoch=0)
    commits = uow.commits
    auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    assert [(name, user, seen) for name, user, seen in cache.calls] == [
        ("hold", alice.id, commits),
        ("publish", alice.id, commits + 1),
    ]
    assert cache.entries[alice.id] == UserSession(is_active=True, session_epoch=1)
    with pytest.raises(AuthenticationError) as revoked:
        ActiveUsers(uow, cache)(alice.id, 0)
    assert revoked.value.code == "TOKEN_REVOKED"


def test_a_password_change_is_refused_when_the_cache_cannot_be_held(
    auth: AuthUseCases, uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    cache.down = True
    commits = uow.commits
    with pytest.raises(ServiceUnavailableError):
        auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    assert uow.commits == commits
    assert uow.committed_state.users[alice.id].session_epoch == 0


def test_deactivation_and_reactivation_each_move_the_epoch_and_are_published(
    auth: AuthUseCases, uow: FakeUnitOfWork, cache: FakeSessionCache, alice: User
) -> None:
    auth.deactivate("Alice@Example.com")
    assert uow.committed_state.users[alice.id].session == UserSession(is_active=False, session_epoch=1)
    assert cache.entries[alice.id] == UserSession(is_active=False, session_epoch=1)
    auth.reactivate("alice@example.com")
    assert cache.entries[alice.id] == UserSession(is_active=True, session_epoch=2)
    assert [call[0] for call in cache.calls] == ["hold", "publish", "hold", "publish"]
    calls = len(cache.calls)
    auth.reactivate("alice@example.com")
    assert len(cache.calls) == calls
