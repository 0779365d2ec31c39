from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tasktracker.application.auth import AuthUseCases, hash_refresh_token, open_successor
from tasktracker.application.identity import ActiveUsers
from tasktracker.domain.entities import RefreshToken, User, new_id
from tasktracker.domain.enums import AuditEventType, TokenRevocation
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
GRACE_SECONDS = 20


@pytest.fixture
def auth(
    uow: FakeUnitOfWork, hasher: FakePasswordHasher, issuer: FakeAccessTokenIssuer, clock: FakeClock
) -> AuthUseCases:
    return AuthUseCases(
        uow,
        hasher,
        issuer,
        clock,
        refresh_token_ttl_seconds=REFRESH_TTL_SECONDS,
        refresh_reuse_grace_seconds=GRACE_SECONDS,
    )


def refused(action: Callable[..., object], *args: object) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as error:
        action(*args)
    return error.value


def tokens_by_age(uow: FakeUnitOfWork) -> list[RefreshToken]:
    return sorted(uow.committed_state.refresh_tokens.values(), key=lambda token: token.created_at)


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


def test_a_rotated_refresh_token_is_refused_after_the_grace(auth: AuthUseCases, clock: FakeClock, alice: User) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    auth.refresh(first.refresh_token)
    clock.advance(seconds=GRACE_SECONDS + 1)
    assert refused(auth.refresh, first.refresh_token).code == "REFRESH_TOKEN_REUSED"


def test_reuse_of_a_rotated_token_revokes_the_whole_family(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    stolen = auth.login("alice@example.com", PASSWORD)
    current = auth.refresh(stolen.refresh_token)
    clock.advance(seconds=GRACE_SECONDS + 1)
    refused(auth.refresh, stolen.refresh_token)
    # The legitimate holder's newer token dies with the family: the thief's copy cannot outlive it.
    assert refused(auth.refresh, current.refresh_token).code == "REFRESH_TOKEN_REUSED"
    assert all(token.revoked for token in uow.committed_state.refresh_tokens.values())
    assert tokens_by_age(uow)[-1].revoked_reason == TokenRevocation.REUSE_DETECTED
    # Nothing sealed is kept once the family is over.
    assert all(token.successor_sealed is None for token in uow.committed_state.refresh_tokens.values())


def test_reuse_detection_leaves_other_sign_ins_alone(auth: AuthUseCases, clock: FakeClock, alice: User) -> None:
    laptop = auth.login("alice@example.com", PASSWORD)
    phone = auth.login("alice@example.com", PASSWORD)
    auth.refresh(laptop.refresh_token)
    clock.advance(seconds=GRACE_SECONDS + 1)
    refused(auth.refresh, laptop.refresh_token)
    auth.refresh(phone.refresh_token)


def test_the_same_token_within_the_grace_gets_the_same_successor_and_a_new_access_token(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    one_tab = auth.refresh(first.refresh_token)
    commits = uow.commits
    clock.advance(seconds=GRACE_SECONDS)
    other_tab = auth.refresh(first.refresh_token)
    assert other_tab.refresh_token == one_tab.refresh_token
    assert other_tab.access_token != one_tab.access_token
    # Answered from what the rotation stored: nothing written, and the family lives on.
    assert uow.commits == commits
    old, new = tokens_by_age(uow)
    assert (old.revoked_reason, new.revoked) == (TokenRevocation.ROTATED, False)
    auth.refresh(other_tab.refresh_token)


def test_within_the_grace_a_successor_that_was_itself_rotated_is_not_handed_out(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    second = auth.refresh(first.refresh_token)
    auth.refresh(second.refresh_token)
    assert refused(auth.refresh, first.refresh_token).code == "REFRESH_TOKEN_REUSED"
    assert all(token.revoked for token in uow.committed_state.refresh_tokens.values())


def test_the_database_never_holds_a_raw_successor(auth: AuthUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    second = auth.refresh(first.refresh_token)
    third = auth.refresh(second.refresh_token)
    stored = tokens_by_age(uow)
    sealed = [token.successor_sealed for token in stored if token.successor_sealed is not None]
    # One sealed successor per sign-in: the newest rotation's, the only one the grace can still answer.
    assert sealed == [stored[1].successor_sealed]
    assert third.refresh_token not in repr(uow.committed_state)
    assert open_successor(second.refresh_token, sealed[0]) == third.refresh_token
    # Opened with anything but its predecessor, it is noise that matches no stored token.
    opened_wrongly = open_successor(first.refresh_token, sealed[0])
    assert hash_refresh_token(opened_wrongly) not in {token.token_hash for token in stored}


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


def test_logout_ends_its_sign_in_and_is_audited_in_the_same_transaction(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    signed_in = auth.login("alice@example.com", PASSWORD)
    transactions = uow.transactions
    auth.logout(signed_in.refresh_token)
    assert (uow.transactions, uow.commits) == (transactions + 1, transactions + 1)
    [logout] = uow.events(AuditEventType.LOGOUT)
    assert (logout.user_id, logout.task_id) == (alice.id, None)
    assert [token.revoked_reason for token in tokens_by_age(uow)] == [TokenRevocation.LOGGED_OUT]
    # Ended on purpose, nothing stolen: revoked, never reused.
    assert refused(auth.refresh, signed_in.refresh_token).code == "REFRESH_TOKEN_REVOKED"
    clock.advance(seconds=GRACE_SECONDS + 1)
    assert refused(auth.refresh, signed_in.refresh_token).code == "REFRESH_TOKEN_REVOKED"


def test_logout_with_any_token_of_the_family_ends_the_live_one(
    auth: AuthUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    second = auth.refresh(first.refresh_token)
    # A tab signing out with the token another tab has just traded: the sign-in still ends.
    auth.logout(first.refresh_token)
    assert refused(auth.refresh, second.refresh_token).code == "REFRESH_TOKEN_REVOKED"
    # The traded token within the grace finds its successor signed out: revoked too, not reused.
    assert refused(auth.refresh, first.refresh_token).code == "REFRESH_TOKEN_REVOKED"
    assert all(token.revoked for token in uow.committed_state.refresh_tokens.values())
    assert len(uow.events(AuditEventType.LOGOUT)) == 1


def test_logout_is_idempotent_and_audits_only_what_it_ended(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    signed_in = auth.login("alice@example.com", PASSWORD)
    auth.logout(signed_in.refresh_token)
    auth.logout(signed_in.refresh_token)
    assert len(uow.events(AuditEventType.LOGOUT)) == 1
    expired = auth.login("alice@example.com", PASSWORD)
    clock.advance(seconds=REFRESH_TTL_SECONDS + 1)
    auth.logout(expired.refresh_token)
    assert refused(auth.refresh, expired.refresh_token).code == "REFRESH_TOKEN_REVOKED"


def test_logout_leaves_other_sign_ins_alone(auth: AuthUseCases, alice: User) -> None:
    laptop = auth.login("alice@example.com", PASSWORD)
    phone = auth.login("alice@example.com", PASSWORD)
    auth.logout(laptop.refresh_token)
    auth.refresh(phone.refresh_token)


def test_logout_refuses_an_unknown_token_and_writes_nothing(auth: AuthUseCases, uow: FakeUnitOfWork) -> None:
    assert refused(auth.logout, "made-up").code == "INVALID_REFRESH_TOKEN"
    assert uow.commits == 0 and not uow.events(AuditEventType.LOGOUT)


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
        # Its own code: the sign-in ended on purpose, nothing was stolen, and no family is revoked for it.
        assert refused(auth.refresh, session.refresh_token).code == "REFRESH_TOKEN_REVOKED"
    assert {token.revoked_reason for token in uow.committed_state.refresh_tokens.values()} == {
        TokenRevocation.PASSWORD_CHANGED
    }
    [event] = uow.events(AuditEventType.PASSWORD_CHANGED)
    assert event.user_id == alice.id
    assert event.details == {"revoked_sessions": 2}


def test_change_password_moves_the_session_epoch_on_and_new_tokens_carry_it(
    auth: AuthUseCases, uow: FakeUnitOfWork, issuer: FakeAccessTokenIssuer, alice: User
) -> None:
    before = auth.login("alice@example.com", PASSWORD)
    auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    assert uow.committed_state.users[alice.id].session_epoch == 1
    after = auth.login("alice@example.com", NEW_PASSWORD)
    auth.refresh(after.refresh_token)
    assert issuer.session_epochs == [0, 1, 1]
    assert [token.session_epoch for token in tokens_by_age(uow)] == [0, 1, 1]
    assert refused(auth.refresh, before.refresh_token).code == "REFRESH_TOKEN_REVOKED"


def test_a_rotated_token_from_before_a_password_change_is_revoked_not_reused(
    auth: AuthUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    first = auth.login("alice@example.com", PASSWORD)
    auth.refresh(first.refresh_token)
    auth.change_password(alice.id, PASSWORD, NEW_PASSWORD)
    for elapsed in (0, GRACE_SECONDS + 1):
        clock.advance(seconds=elapsed)
        assert refused(auth.refresh, first.refresh_token).code == "REFRESH_TOKEN_REVOKED"


def test_a_refresh_token_from_before_a_deactivation_stays_dead_after_reactivation(
    auth: AuthUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    pair = auth.login("alice@example.com", PASSWORD)
    # What the database trigger does when is_active turns false.
    uow.committed_state.users[alice.id].is_active = False
    uow.committed_state.users[alice.id].end_sessions()
    assert refused(auth.refresh, pair.refresh_token).code == "ACCOUNT_DISABLED"
    uow.committed_state.users[alice.id].is_active = True
    assert refused(auth.refresh, pair.refresh_token).code == "REFRESH_TOKEN_REVOKED"
    auth.login("alice@example.com", PASSWORD)


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


def test_only_an_existing_active_user_in_the_current_session_epoch_is_admitted(
    uow: FakeUnitOfWork, alice: User, add_user: AddUser
) -> None:
    dora = add_user("dora@example.com", is_active=False)
    check = ActiveUsers(uow)
    check(alice.id, 0)
    assert refused(check, dora.id, 0).code == "ACCOUNT_DISABLED"
    assert refused(check, new_id(), 0).code == "ACCOUNT_DISABLED"
    # A token from an earlier epoch, a later one (never issued), or with none: its session is over.
    uow.committed_state.users[alice.id].end_sessions()
    for stale in (0, 2, None):
        assert refused(check, alice.id, stale).code == "TOKEN_REVOKED"
    check(alice.id, 1)
