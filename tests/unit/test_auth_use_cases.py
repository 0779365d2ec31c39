from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tasktracker.application.auth import AuthUseCases
from tasktracker.application.identity import ActiveUsers
from tasktracker.domain.entities import User, new_id
from tasktracker.domain.enums import AuditEventType
from tasktracker.domain.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError

from .fakes import (
    PASSWORD,
    AddUser,
    FakeAccessTokenIssuer,
    FakeClock,
    FakePasswordHasher,
    FakeUnitOfWork,
)

NEW_PASSWORD = "a much better passphrase"
REFRESH_TTL_SECONDS = 3600


@pytest.fixture
def auth(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, issuer: FakeAccessTokenIssuer, clock: FakeClock
) -> AuthUseCases:
    return AuthUseCases(uow, hasher, issuer, clock, refresh_token_ttl_seconds=REFRESH_TTL_SECONDS)


def refused(action: Callable[..., object], *args: object) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as error:
        action(*args)
    return error.value


# register


def test_register_stores_the_user_with_a_normalised_email_and_a_hashed_password(
    auth: AuthUseCases, uow: FakeUnitOfWork, hasher: FakePasswordHasher
) -> None:
    user = auth.register("  Carol@Example.com ", PASSWORD, full_name="  Carol  ")
    assert uow.committed
    stored = uow.committed_state.users[user.id]
    assert (stored.email, stored.full_name, stored.is_active) == ("carol@example.com", "Carol", True)
    assert stored.password_hash != PASSWORD
    assert hasher.verify(stored.password_hash, PASSWORD)


def test_register_refuses_a_taken_email_whatever_its_case(auth: AuthUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    with pytest.raises(ConflictError) as error:
        auth.register("ALICE@example.com", PASSWORD)
    assert error.value.code == "EMAIL_TAKEN"
    assert list(uow.committed_state.users) == [alice.id]
    assert not uow.committed


def test_register_validates_email_and_password_before_touching_the_database(
    auth: AuthUseCases, uow: FakeUnitOfWork
) -> None:
    with pytest.raises(ValidationError):
        auth.register("not-an-email", PASSWORD)
    with pytest.raises(ValidationError):
        auth.register("carol@example.com", "short")
    assert uow.transactions == 0


# login


def test_login_issues_tokens_and_records_login_in_the_same_committed_transaction(
    auth: AuthUseCases, uow: FakeUnitOfWork, issuer: FakeAccessTokenIssuer, alice: User
) -> None:
    pair = auth.login("alice@example.com", PASSWORD)
    assert (pair.token_type, pair.expires_in) == ("bearer", issuer.ttl_seconds)
    assert issuer.issued_to == [alice.id]
    assert uow.transactions == uow.commits == 1
    [login] = uow.events(AuditEventType.LOGIN)
    assert (login.user_id, login.task_id) == (alice.id, None)
    [token] = uow.committed_state.refresh_tokens.values()
    assert token.user_id == alice.id
    assert token.token_hash != pair.refresh_token


def test_login_accepts_the_email_in_any_case_and_with_spaces(auth: AuthUseCases, alice: User) -> None:
    auth.login("  ALICE@Example.com ", PASSWORD)


def test_wrong_password_and_unknown_email_fail_alike(
    auth: AuthUseCases, uow: FakeUnitOfWork, hasher: FakePasswordHasher, alice: User
) -> None:
    wrong_password = refused(auth.login, "alice@example.com", "not the password")
    calls_before = hasher.verify_calls
    unknown_email = refused(auth.login, "nobody@example.com", PASSWORD)
    malformed_email = refused(auth.login, "nobody", PASSWORD)
    for error in (unknown_email, malformed_email):
        assert (error.code, error.message) == (wrong_password.code, wrong_password.message)
    assert wrong_password.code == "INVALID_CREDENTIALS"
    # Unknown accounts still cost a password verification, so timing does not reveal which emails exist.
    assert hasher.verify_calls == calls_before + 2
    assert not uow.committed
    assert uow.events() == []


def test_deactivated_user_cannot_log_in(auth: AuthUseCases, uow: FakeUnitOfWork, add_user: AddUser) -> None:
    add_user("dora@example.com", is_active=False)
    assert refused(auth.login, "dora@example.com", PASSWORD).code == "ACCOUNT_DISABLED"
    assert uow.committed_state.refresh_tokens == {}
    assert uow.events() == []


def test_login_rehashes_a_password_hashed_with_outdated_parameters(
    auth: AuthUseCases, uow: FakeUnitOfWork, hasher: FakePasswordHasher, add_user: AddUser
) -> None:
    user = add_user("olga@example.com", password_hash=hasher.legacy_hash(PASSWORD))
    auth.login("olga@example.com", PASSWORD)
    stored = uow.committed_state.users[user.id]
    assert stored.password_hash == hasher.hash(PASSWORD)
    assert not hasher.needs_rehash(stored.password_hash)


# refresh


def test_refresh_rotates_the_refresh_token_within_the_same_family(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    clock.advance(minutes=20)
    second = auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    old, new = sorted(uow.committed_state.refresh_tokens.values(), key=lambda token: token.created_at)
    assert old.revoked and not new.revoked
    assert old.family_id == new.family_id


def test_a_rotated_refresh_token_is_refused(auth: AuthUseCases, alice: User) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    auth.refresh(first.refresh_token)
    assert refused(auth.refresh, first.refresh_token).code == "REFRESH_TOKEN_REUSED"


def test_reuse_of_a_rotated_token_revokes_the_whole_family(
    auth: AuthUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    stolen = auth.login("alice@example.com", PASSWORD)
    current = auth.refresh(stolen.refresh_token)
    refused(auth.refresh, stolen.refresh_token)
    # The legitimate holder's newer token dies with the family: the thief's copy cannot outlive it.
    refused(auth.refresh, current.refresh_token)
    assert all(token.revoked for token in uow.committed_state.refresh_tokens.values())


def test_reuse_detection_leaves_other_sign_ins_alone(auth: AuthUseCases, alice: User) -> None:
    laptop = auth.login("alice@example.com", PASSWORD)
    phone = auth.login("alice@example.com", PASSWORD)
    auth.refresh(laptop.refresh_token)
    refused(auth.refresh, laptop.refresh_token)
    auth.refresh(phone.refresh_token)


def test_expired_refresh_token_is_refused(auth: AuthUseCases, clock: FakeClock, alice: User) -> None:
    pair = auth.login("alice@example.com", PASSWORD)
    clock.advance(seconds=REFRESH_TTL_SECONDS)
    assert refused(auth.refresh, pair.refresh_token).code == "REFRESH_TOKEN_EXPIRED"


def test_refresh_token_just_before_expiry_still_works(auth: AuthUseCases, clock: FakeClock, alice: User) -> None:
    pair = auth.login("alice@example.com", PASSWORD)
    clock.advance(seconds=REFRESH_TTL_SECONDS - 1)
    auth.refresh(pair.refresh_token)


def test_unknown_refresh_token_is_refused(auth: AuthUseCases, uow: FakeUnitOfWork) -> None:
    assert refused(auth.refresh, "made-up-token").code == "INVALID_REFRESH_TOKEN"
    assert not uow.committed


def test_refresh_is_refused_once_the_user_is_deactivated(auth: AuthUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    pair = auth.login("alice@example.com", PASSWORD)
    uow.committed_state.users[alice.id].is_active = False
    assert refused(auth.refresh, pair.refresh_token).code == "ACCOUNT_DISABLED"


# change_password


def test_change_password_refuses_a_wrong_current_password_and_changes_nothing(
    auth: AuthUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    auth.login("alice@example.com", PASSWORD)
    before = copy.deepcopy(uow.committed_state)
    commits = uow.commits
    error = refused(auth.change_password, alice.id, "not the password", NEW_PASSWORD)
    assert error.code == "INVALID_CURRENT_PASSWORD"
    assert uow.committed_state == before
    assert uow.commits == commits


def test_change_password_revokes_every_refresh_token_and_is_audited(
    auth: AuthUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    sessions = [auth.login("alice@example.com", PASSWORD) for _ in range(2)]
    auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    for session in sessions:
        refused(auth.refresh, session.refresh_token)
    [event] = uow.events(AuditEventType.PASSWORD_CHANGED)
    assert event.user_id == alice.id
    assert event.details == {"revoked_sessions": 2}


def test_after_change_password_only_the_new_password_logs_in(auth: AuthUseCases, alice: User) -> None:
    auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    refused(auth.login, "alice@example.com", PASSWORD)
    auth.login("alice@example.com", NEW_PASSWORD)


def test_change_password_validates_the_new_password(auth: AuthUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    with pytest.raises(ValidationError) as error:
        auth.change_password(alice.id, PASSWORD, "short")
    assert list(error.value.details["fields"]) == ["new_password"]
    assert not uow.committed


# me, ActiveUsers


def test_me_returns_the_user(auth: AuthUseCases, alice: User) -> None:
    assert auth.me(alice.id) == alice


def test_me_of_an_unknown_user_is_not_found(auth: AuthUseCases) -> None:
    with pytest.raises(NotFoundError) as error:
        auth.me(new_id())
    assert error.value.code == "USER_NOT_FOUND"


def test_me_of_a_deactivated_user_is_refused(auth: AuthUseCases, add_user: AddUser) -> None:
    dora = add_user("dora@example.com", is_active=False)
    assert refused(auth.me, dora.id).code == "ACCOUNT_DISABLED"


def test_only_an_existing_active_user_counts_as_active(uow: FakeUnitOfWork, alice: User, add_user: AddUser) -> None:
    dora = add_user("dora@example.com", is_active=False)
    is_active = ActiveUsers(uow)
    assert is_active(alice.id)
    assert not is_active(dora.id)
    assert not is_active(new_id())
